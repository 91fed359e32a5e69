// Numerical derivative checks (central differences) used to verify analytic gradients and the
// second-order meta-gradient (docs/algorithms.md §5: "verified against numerical differentiation").
// Works on a WeightMap: perturbs all weights along one random direction d and compares the central
// difference (f(w + h d) - f(w - h d)) / 2h with the analytic directional derivative <grad, d>.
import { tf } from '../tf/tf.js';
import type { Rng } from '../rng.js';
import type { WeightMap } from '../models/seg-model.js';

/** A random direction with unit overall L2 norm, same names/shapes as `weights` (caller disposes). */
export function randomDirection(weights: WeightMap, rng: Rng, only?: (name: string) => boolean): WeightMap {
  const names = Object.keys(weights);
  const raw: Record<string, Float32Array> = {};
  let ss = 0;
  for (const n of names) {
    const size = weights[n]!.size;
    const a = new Float32Array(size);
    if (!only || only(n)) for (let i = 0; i < size; i++) { a[i] = rng.normal(); ss += a[i]! * a[i]!; }
    raw[n] = a;
  }
  const inv = 1 / Math.sqrt(ss || 1);
  const out: WeightMap = {};
  for (const n of names) out[n] = tf.tensor(raw[n]!.map((v) => v * inv), weights[n]!.shape, 'float32');
  return out;
}

/** w + s * d, fresh tensors. */
export function axpy(weights: WeightMap, d: WeightMap, s: number): WeightMap {
  const out: WeightMap = {};
  for (const n of Object.keys(weights)) out[n] = tf.tidy(() => tf.add(weights[n]!, tf.mul(d[n]!, s)));
  return out;
}

export function disposeMap(m: WeightMap): void {
  for (const t of Object.values(m)) t.dispose();
}

/** <a, b> over all names of `a` (host-side float64 sum; async readbacks, so any backend). */
export async function dotMaps(a: WeightMap, b: WeightMap): Promise<number> {
  let s = 0;
  for (const n of Object.keys(a)) {
    const [x, y] = await Promise.all([a[n]!.data(), b[n]!.data()]);
    for (let i = 0; i < x.length; i++) s += (x[i] as number) * (y[i] as number);
  }
  return s;
}

/** Central difference of the scalar f along d at w. f must not leak. */
export async function directionalFD(f: (w: WeightMap) => number | Promise<number>, weights: WeightMap, d: WeightMap, h: number): Promise<number> {
  const plus = axpy(weights, d, h);
  const minus = axpy(weights, d, -h);
  try {
    return ((await f(plus)) - (await f(minus))) / (2 * h);
  } finally {
    disposeMap(plus);
    disposeMap(minus);
  }
}
