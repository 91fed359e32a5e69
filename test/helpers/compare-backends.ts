// Runs the same tensor computation on the cpu and wasm backends from the same seeded inputs, for
// kernel/gradient tests. Inputs are plain Float32Arrays (created per backend), so no tensor crosses
// backends; outputs come back as Float32Arrays and every tensor is disposed.
import assert from 'node:assert/strict';
import { tf } from '../../core/tf/tf.js';
import { initBackend, type BackendName } from '../../core/backend.js';
import { createRng } from '../../core/rng.js';
import { relError } from './leaks.js';

/** Seeded N(0,1) values (or relu'd, for max-pool tie tests). */
export function randn(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

export const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs fn inside tf.tidy on `backend` and returns its outputs as Float32Arrays (nothing leaks). */
export async function runOn(backend: BackendName, fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend({ backend });
  const before = tf.memory().numTensors;
  const outs = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const data = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, before, `computation on ${backend} leaked tensors`);
  return data;
}

/** Asserts max-relative error (|a-b|∞ / |b|∞) below tol for each pair. */
export function assertClose(got: Float32Array[], want: Float32Array[], tol: number, label: string): void {
  assert.equal(got.length, want.length, `${label}: output count`);
  got.forEach((g, i) => {
    const e = relError(g, want[i]!);
    assert.ok(e < tol, `${label} output ${i}: relative error ${e.toExponential(2)} >= ${tol}`);
  });
}
