import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<string> | undefined;

/**
 * Selects TF.js's fastest available backend once per process: the native
 * `tensorflow` backend when `@tensorflow/tfjs-node` is installed and loads
 * (optional: its install downloads libtensorflow), else WASM (2–3× the
 * pure-JS backend), else `cpu`, which always works. Idempotent.
 */
export function ensureTfBackend(): Promise<string> {
  ready ??= (async (): Promise<string> => {
    const nativePackage = '@tensorflow/tfjs-node';
    try {
      await import(nativePackage);
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // Not installed or not loadable here: fall through to WASM.
    }
    try {
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // The WASM binary could not be loaded (unusual bundling); the CPU backend always works.
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}

export { tf };
