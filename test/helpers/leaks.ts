// Tensor-leak checks for every core test: the tensor count before and after must match.
import assert from 'node:assert/strict';
import { tf } from '../../core/tf/tf.js';
import { initBackend, type BackendName } from '../../core/backend.js';

/** Runs fn and fails if it leaves tensors behind (tf.memory().numTensors before == after). */
export async function assertNoLeaks<T>(fn: () => T | Promise<T>, label = 'block'): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${label} leaked ${after - before} tensor(s) (before ${before}, after ${after})`);
  return out;
}

/** Sets a backend for a test file; returns the report. Tests default to the backend named in FEDSEG_TEST_BACKEND, else wasm. */
export async function useBackend(name?: BackendName) {
  const want = name ?? ((process.env.FEDSEG_TEST_BACKEND as BackendName | undefined) ?? 'wasm');
  return initBackend({ backend: want });
}

/** Max relative error |a-b| / max(|b|, floor). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, floor);
}
