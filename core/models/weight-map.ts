// Named arrays (core/contract/weights.ts, what files and the wire carry) <-> weight maps (name -> tensor,
// what networks compute with). The only place that converts between the two, so names are kept, dtypes
// checked and shapes validated the same way everywhere (docs/algorithms.md §3: keyed by name, never
// by position).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { NamedArray } from '../contract/weights.js';
import type { WeightMap } from './seg-model.js';

export interface ExpectedEntry {
  name: string;
  shape: readonly number[];
}

function checkFloat32(w: WeightMap): void {
  for (const [name, t] of Object.entries(w))
    if (t.dtype !== 'float32') throw new FedSegError('INVALID_ARGUMENT', `weight '${name}' has dtype ${t.dtype}; only float32 weights are stored`);
}

/** Names and shapes of `arrays` must be exactly `expected` (no entry missing, none extra, same shapes). */
export function checkEntries(arrays: readonly { name: string; shape: readonly number[] }[], expected: readonly ExpectedEntry[], what = 'weights'): void {
  const have = new Map(arrays.map((a) => [a.name, a.shape]));
  const missing = expected.filter((e) => !have.has(e.name)).map((e) => e.name);
  if (missing.length)
    throw new FedSegError('SHAPE_MISMATCH', `${what} are missing ${missing.length} entr${missing.length === 1 ? 'y' : 'ies'}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  const known = new Set(expected.map((e) => e.name));
  const extra = arrays.filter((a) => !known.has(a.name)).map((a) => a.name);
  if (extra.length) throw new FedSegError('SHAPE_MISMATCH', `${what} have unexpected entries: ${extra.slice(0, 5).join(', ')}`);
  for (const e of expected) {
    const s = have.get(e.name)!;
    if (s.length !== e.shape.length || s.some((d, i) => d !== e.shape[i]))
      throw new FedSegError('SHAPE_MISMATCH', `weight '${e.name}' has shape [${s}], the model expects [${e.shape}]`);
  }
}

/** Plain arrays -> fresh tensors (caller disposes). With `expected`, names and shapes must match exactly. */
export function toWeightMap(arrays: readonly NamedArray[], expected?: readonly ExpectedEntry[]): WeightMap {
  if (expected) checkEntries(arrays, expected);
  const out: WeightMap = {};
  for (const a of arrays) {
    if (a.shape.reduce((x, y) => x * y, 1) !== a.data.length) throw new FedSegError('SHAPE_MISMATCH', `weight '${a.name}': shape [${a.shape}] does not match ${a.data.length} values`);
    out[a.name] = tf.tensor(a.data, a.shape, 'float32');
  }
  return out;
}

/**
 * Tensors -> plain arrays (insertion order of the map). Synchronous readback: not on webgpu in Node
 * (throws there; docs/gpu.md "Reading tensors"); toNamedArraysAsync works everywhere.
 */
export function toNamedArrays(w: WeightMap): NamedArray[] {
  checkFloat32(w);
  return Object.entries(w).map(([name, t]) => ({ name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) }));
}

/** toNamedArrays with awaited readbacks (every backend, webgpu included). Same result. */
export async function toNamedArraysAsync(w: WeightMap): Promise<NamedArray[]> {
  checkFloat32(w);
  const entries = Object.entries(w);
  const data = await Promise.all(entries.map(([, t]) => t.data() as Promise<Float32Array>));
  return entries.map(([name, t], i) => ({ name, shape: [...t.shape], data: Float32Array.from(data[i]!) }));
}

/** New tensors sharing nothing with the caller's. */
export function cloneWeights(w: WeightMap): WeightMap {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.clone()]));
}

export function disposeWeights(w: WeightMap): void {
  for (const t of Object.values(w)) t.dispose();
}
