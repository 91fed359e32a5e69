// Model files: named weights + the model config in one binary frame (core/contract/weights.ts format:
// "FSW1" | manifest JSON | raw little-endian data). The manifest's `meta.model` holds
// `{kind, config}` so a file rebuilds its network; weights are keyed by name, never by position
// (ALGORITHMS.md §3). float32 round trips bit-exactly; float16 is an option for smaller files/frames.
import { readFile, writeFile, rename } from 'node:fs/promises';
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import { encodeWeights, decodeWeights, type NamedArray, type WireDtype, type DecodeLimits } from '../contract/weights.js';
import type { SegModel, WeightMap } from './seg-model.js';
import { createUNet, unetWeightShapes, type UNetConfig } from './unet.js';

/** What a model file says about its network. */
export interface ModelSpec {
  kind: string;
  config: Record<string, unknown>;
}

type Factory = { create: (config: Record<string, unknown>) => SegModel; shapes?: (config: Record<string, unknown>) => { name: string; shape: number[] }[] };
const factories = new Map<string, Factory>([
  [
    'unet',
    {
      create: (c) => createUNet(c as unknown as UNetConfig),
      shapes: (c) => unetWeightShapes(c as unknown as UNetConfig),
    },
  ],
]);

/** Lets other model kinds (ASC U-Net, ASCNet-N) be rebuilt from files. */
export function registerModelKind(kind: string, create: Factory['create'], shapes?: Factory['shapes']): void {
  factories.set(kind, shapes ? { create, shapes } : { create });
}

export function modelFromSpec(spec: ModelSpec): SegModel {
  const f = factories.get(spec?.kind);
  if (!f) throw new FedSegError('UNSUPPORTED', `model kind '${String(spec?.kind)}' is unknown (known: ${[...factories.keys()].join(', ')})`);
  return f.create(spec.config ?? {});
}

function checkFloat32(w: WeightMap): void {
  for (const [name, t] of Object.entries(w))
    if (t.dtype !== 'float32') throw new FedSegError('INVALID_ARGUMENT', `weight '${name}' has dtype ${t.dtype}; only float32 weights are stored`);
}

/**
 * Copies tensors out to plain arrays (insertion order of the map). Synchronous readback: not on webgpu
 * in Node (throws FedSegError UNSUPPORTED there); use weightsToNamedArraysAsync, which works everywhere.
 */
export function weightsToNamedArrays(w: WeightMap): NamedArray[] {
  checkFloat32(w);
  return Object.entries(w).map(([name, t]) => ({ name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) }));
}

/** weightsToNamedArrays with awaited readbacks (every backend, webgpu included). Same result. */
export async function weightsToNamedArraysAsync(w: WeightMap): Promise<NamedArray[]> {
  checkFloat32(w);
  const entries = Object.entries(w);
  const data = await Promise.all(entries.map(([, t]) => t.data() as Promise<Float32Array>));
  return entries.map(([name, t], i) => ({ name, shape: [...t.shape], data: Float32Array.from(data[i]!) }));
}

/** Plain arrays -> fresh tensors (caller disposes). With `expected`, names and shapes must match exactly. */
export function namedArraysToWeights(arrays: NamedArray[], expected?: { name: string; shape: number[] }[]): WeightMap {
  if (expected) {
    const have = new Map(arrays.map((a) => [a.name, a]));
    const missing = expected.filter((e) => !have.has(e.name)).map((e) => e.name);
    if (missing.length) throw new FedSegError('SHAPE_MISMATCH', `weights are missing ${missing.length} entr${missing.length === 1 ? 'y' : 'ies'}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    const known = new Set(expected.map((e) => e.name));
    const extra = arrays.filter((a) => !known.has(a.name)).map((a) => a.name);
    if (extra.length) throw new FedSegError('SHAPE_MISMATCH', `weights have unexpected entries: ${extra.slice(0, 5).join(', ')}`);
    for (const e of expected) {
      const a = have.get(e.name)!;
      if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i]))
        throw new FedSegError('SHAPE_MISMATCH', `weight '${e.name}' has shape [${a.shape}], the model expects [${e.shape}]`);
    }
  }
  const out: WeightMap = {};
  for (const a of arrays) {
    if (a.shape.reduce((x, y) => x * y, 1) !== a.data.length) throw new FedSegError('SHAPE_MISMATCH', `weight '${a.name}': shape [${a.shape}] does not match ${a.data.length} values`);
    out[a.name] = tf.tensor(a.data, a.shape, 'float32');
  }
  return out;
}

export interface SaveOptions {
  dtype?: WireDtype;
  /** Extra JSON metadata (round, metrics, ...); stored beside `model`. */
  meta?: Record<string, unknown>;
}

/** One binary frame with weights and `meta.model = spec`. A WeightMap is read synchronously (see weightsToNamedArrays; encodeModelAsync for webgpu). */
export function encodeModel(spec: ModelSpec, weights: WeightMap | NamedArray[], opts: SaveOptions = {}): Uint8Array {
  if (!spec || typeof spec.kind !== 'string' || !spec.kind) throw new FedSegError('INVALID_ARGUMENT', 'encodeModel: model spec needs a kind');
  const arrays = Array.isArray(weights) ? weights : weightsToNamedArrays(weights);
  return encodeWeights(arrays, { dtype: opts.dtype ?? 'float32', meta: { ...(opts.meta ?? {}), model: { kind: spec.kind, config: spec.config ?? {} } } });
}

/** encodeModel with awaited readbacks of a WeightMap (every backend, webgpu included). */
export async function encodeModelAsync(spec: ModelSpec, weights: WeightMap | NamedArray[], opts: SaveOptions = {}): Promise<Uint8Array> {
  return encodeModel(spec, Array.isArray(weights) ? weights : await weightsToNamedArraysAsync(weights), opts);
}

export interface DecodedModel {
  spec: ModelSpec;
  arrays: NamedArray[];
  /** Everything in the manifest's meta except `model`. */
  meta: Record<string, unknown>;
}

/** Parses and validates a model frame (names/shapes checked against the kind when it is known). */
export function decodeModel(buf: Uint8Array, limits?: DecodeLimits): DecodedModel {
  const { arrays, meta } = decodeWeights(buf, limits);
  const m = meta?.model as ModelSpec | undefined;
  if (!m || typeof m !== 'object' || typeof m.kind !== 'string' || typeof m.config !== 'object' || m.config === null)
    throw new FedSegError('CORRUPT_FILE', 'model file has no model spec (meta.model = {kind, config})');
  const f = factories.get(m.kind);
  if (f?.shapes) validateShapes(arrays, f.shapes(m.config));
  const { model: _drop, ...rest } = meta ?? {};
  return { spec: { kind: m.kind, config: m.config }, arrays, meta: rest };
}

function validateShapes(arrays: NamedArray[], expected: { name: string; shape: number[] }[]): void {
  const have = new Map(arrays.map((a) => [a.name, a.shape]));
  for (const e of expected) {
    const s = have.get(e.name);
    if (!s) throw new FedSegError('SHAPE_MISMATCH', `model file lacks weight '${e.name}'`);
    if (s.length !== e.shape.length || s.some((d, i) => d !== e.shape[i]))
      throw new FedSegError('SHAPE_MISMATCH', `model file weight '${e.name}' has shape [${s}], the config implies [${e.shape}]`);
  }
  if (have.size !== expected.length) throw new FedSegError('SHAPE_MISMATCH', `model file has ${have.size} weights, the config implies ${expected.length}`);
}

/** Decodes a frame and builds the network and its weights (caller disposes the weights). */
export function loadModel(buf: Uint8Array, limits?: DecodeLimits): { model: SegModel; weights: WeightMap; spec: ModelSpec; meta: Record<string, unknown> } {
  const d = decodeModel(buf, limits);
  const model = modelFromSpec(d.spec);
  return { model, weights: namedArraysToWeights(d.arrays), spec: d.spec, meta: d.meta };
}

/** Writes atomically (temp file + rename). */
export async function saveModelFile(path: string, spec: ModelSpec, weights: WeightMap | NamedArray[], opts: SaveOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, await encodeModelAsync(spec, weights, opts));
    await rename(tmp, path);
  } catch (e) {
    if (e instanceof FedSegError) throw e;
    throw new FedSegError('IO_ERROR', `cannot write model file ${path}: ${(e as Error).message}`);
  }
}

export async function loadModelFile(path: string, limits?: DecodeLimits): Promise<ReturnType<typeof loadModel>> {
  let buf: Uint8Array;
  try {
    buf = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot read model file ${path}: ${(e as Error).message}`);
  }
  return loadModel(buf, limits);
}

/** The spec of a model that exposes its config (createUNet's models do: their resolved config). */
export function modelSpecOf(model: SegModel & { config?: object }): ModelSpec {
  if (!model.config || typeof model.config !== 'object') throw new FedSegError('INVALID_ARGUMENT', `modelSpecOf: model '${model.kind}' does not expose a config`);
  return { kind: model.kind, config: { ...model.config } as Record<string, unknown> };
}
