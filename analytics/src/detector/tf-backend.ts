import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<string> | null = null;

/** Selects TF.js's WASM backend once per process, falling back to the pure-JS CPU backend. */
export function ensureTfBackend(): Promise<string> {
  ready ??= (async () => {
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
