import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<string> | undefined;

/** Selects the WASM backend (2–3× the pure-JS one), falling back to `cpu` when WASM cannot start. Idempotent. */
export function ensureTfBackend(): Promise<string> {
  ready ??= (async (): Promise<string> => {
    try {
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // fall through to the CPU backend
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}
