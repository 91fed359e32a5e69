// Model files: named weights and the ModelSpec (core/contract/model-spec.ts) in one binary frame
// (core/contract/weights.ts: "FSW1" | manifest JSON | raw little-endian data); the manifest's
// `meta.model` holds the spec, so a file rebuilds its network (core/models/registry.ts) with nothing
// else. Weights are keyed by name, never by position (docs/algorithms.md §3); names and shapes are
// checked against the spec on every read. float32 round trips bit-exactly; float16 is an option.
// Files written before specs were complete (meta.model = {kind, config: {inChannels, classes, ...}},
// or the app's {kind, inChannels, classes, baseWidth, depth}) are read through upgradeSpec.
import { readFile, writeFile, rename } from 'node:fs/promises';
import { FedSegError } from '../contract/errors.js';
import { MODEL_KINDS, type ModelSpec, type ModelSpecInput } from '../contract/model-spec.js';
import { encodeWeights, decodeWeights, type NamedArray, type WireDtype, type DecodeLimits } from '../contract/weights.js';
import { buildNetwork, parseModelSpec, type Network } from './registry.js';
import type { WeightMap } from './seg-model.js';
import { checkEntries, toNamedArrays, toNamedArraysAsync, toWeightMap } from './weight-map.js';

export interface SaveOptions {
  dtype?: WireDtype;
  /** Extra JSON metadata (round, metrics, ...); stored beside `model`. */
  meta?: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A spec from what a file or checkpoint recorded: the current schema, or the two older layouts
 * ({kind, config: {inChannels, classes, baseWidth, depth, ...}} and {kind, inChannels, classes,
 * baseWidth, depth}). Throws CORRUPT_FILE when nothing usable is there.
 */
export function upgradeSpec(raw: unknown, what = 'model'): ModelSpec {
  if (!isObj(raw) || typeof raw.kind !== 'string') throw new FedSegError('CORRUPT_FILE', `${what} has no model spec (meta.model = {kind, inChannels, classes, config})`);
  if (!(MODEL_KINDS as readonly string[]).includes(raw.kind))
    throw new FedSegError('UNSUPPORTED', `${what}: model kind '${raw.kind}' is unknown (known: ${MODEL_KINDS.join(', ')})`);
  let candidate: Record<string, unknown> = raw;
  if (raw.inChannels === undefined) {
    const c = isObj(raw.config) ? raw.config : {};
    candidate = { kind: raw.kind, inChannels: c.inChannels, classes: c.classes, config: pick(c, raw.kind) };
  } else if (!isObj(raw.config)) {
    candidate = { kind: raw.kind, inChannels: raw.inChannels, classes: raw.classes, ...(isObj(raw.input) ? { input: raw.input } : {}), config: pick(raw, raw.kind) };
  }
  try {
    return parseModelSpec(candidate, `${what}: model spec`);
  } catch (e) {
    throw new FedSegError('CORRUPT_FILE', (e as Error).message);
  }
}

function pick(src: Record<string, unknown>, kind: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = kind === 'unet' ? ['baseWidth', 'depth'] : kind === 'asc-unet' ? ['baseWidth', 'depth', 'rateBeta'] : ['rateBeta'];
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  return out;
}

/** One binary frame with the weights and `meta.model = spec`. A WeightMap is read synchronously (encodeModelAsync for webgpu). */
export function encodeModel(spec: ModelSpec | ModelSpecInput, weights: WeightMap | NamedArray[], opts: SaveOptions = {}): Uint8Array {
  const s = parseModelSpec(spec);
  const arrays = Array.isArray(weights) ? weights : toNamedArrays(weights);
  return encodeWeights(arrays, { dtype: opts.dtype ?? 'float32', meta: { ...(opts.meta ?? {}), model: s } });
}

/** encodeModel with awaited readbacks of a WeightMap (every backend, webgpu included). */
export async function encodeModelAsync(spec: ModelSpec | ModelSpecInput, weights: WeightMap | NamedArray[], opts: SaveOptions = {}): Promise<Uint8Array> {
  return encodeModel(spec, Array.isArray(weights) ? weights : await toNamedArraysAsync(weights), opts);
}

export interface DecodedModel {
  spec: ModelSpec;
  arrays: NamedArray[];
  /** Everything in the manifest's meta except `model`. */
  meta: Record<string, unknown>;
}

/**
 * Parses and validates a model frame: the spec, and the weights' names and shapes against it.
 * `fallbackSpec` is used when the frame itself carries none (checkpoints written before frames were
 * self-describing keep their spec beside the blob).
 */
export function decodeModel(buf: Uint8Array, limits?: DecodeLimits, fallbackSpec?: ModelSpec): DecodedModel {
  const { arrays, meta } = decodeWeights(buf, limits);
  const spec = meta?.model === undefined && fallbackSpec ? fallbackSpec : upgradeSpec(meta?.model, 'model file');
  checkEntries(arrays, buildNetwork(spec).shapes, 'model file weights');
  const { model: _drop, ...rest } = meta ?? {};
  return { spec, arrays, meta: rest };
}

export interface LoadedModel {
  net: Network;
  weights: WeightMap;
  spec: ModelSpec;
  meta: Record<string, unknown>;
}

/** Decodes a frame and builds the network and its weights (caller disposes the weights). */
export function loadModel(buf: Uint8Array, limits?: DecodeLimits): LoadedModel {
  const d = decodeModel(buf, limits);
  const net = buildNetwork(d.spec);
  return { net, weights: toWeightMap(d.arrays, net.shapes), spec: d.spec, meta: d.meta };
}

/** Writes atomically (temp file + rename). */
export async function saveModelFile(path: string, spec: ModelSpec | ModelSpecInput, weights: WeightMap | NamedArray[], opts: SaveOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, await encodeModelAsync(spec, weights, opts));
    await rename(tmp, path);
  } catch (e) {
    if (e instanceof FedSegError) throw e;
    throw new FedSegError('IO_ERROR', `cannot write model file ${path}: ${(e as Error).message}`);
  }
}

export async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FedSegError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', code === 'ENOENT' ? `model file ${path} does not exist` : `cannot read model file ${path}: ${(e as Error).message}`);
  }
}

export async function loadModelFile(path: string, limits?: DecodeLimits): Promise<LoadedModel> {
  return loadModel(await readModelFile(path), limits);
}
