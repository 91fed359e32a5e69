// Validation and blob encoding shared by both DatasetStore implementations, so the SQLite store and
// its in-memory twin accept, reject and round-trip exactly the same values.
// Image blobs: uint8 when every value is an integer in 0..255 (PNG/JPEG imports, fundus generator),
// float32 little-endian otherwise (z-scored MRI). Mask blobs: HWC 0/1 values packed 8 per byte.
import { createHash } from 'node:crypto';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32, MaskU8 } from '../contract/image.js';
import { decodeWeights } from '../contract/weights.js';
import type {
  AmplitudeWindowData, EncodedSample, NewAmplitudeWindow, NewAuditEntry, NewCheckpoint, NewDataset, NewSample, SampleSplit,
} from './dataset-store.js';

export type { EncodedSample };

export const MAX_SIDE = 8192;

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) {
    throw new FedSegError('INVALID_ARGUMENT', `${what}: name must be a non-empty string of at most 200 characters, got ${JSON.stringify(name)}`);
  }
  return name;
}

function posInt(v: unknown, what: string, max = MAX_SIDE): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new FedSegError('INVALID_ARGUMENT', `${what} must be an integer in [1, ${max}], got ${String(v)}`);
  }
  return v;
}

export function checkNewDataset(d: NewDataset): Required<NewDataset> {
  checkName(d.name, 'dataset');
  posInt(d.channels, `dataset '${d.name}': channels`, 64);
  posInt(d.classes, `dataset '${d.name}': classes`, 64);
  const classNames = d.classNames ?? Array.from({ length: d.classes }, (_, i) => `class${i}`);
  if (classNames.length !== d.classes || classNames.some((c) => typeof c !== 'string')) {
    throw new FedSegError('INVALID_ARGUMENT', `dataset '${d.name}': classNames must list ${d.classes} names`);
  }
  return { name: d.name, kind: d.kind ?? 'other', source: d.source ?? '', channels: d.channels, classes: d.classes, classNames, meta: d.meta ?? {} };
}

const SPLITS = new Set(['train', 'test', 'val']);

export function checkSplit(s: unknown, what: string): SampleSplit | null {
  if (s === undefined || s === null) return null;
  if (typeof s !== 'string' || !SPLITS.has(s)) throw new FedSegError('INVALID_ARGUMENT', `${what}: split must be train, test or val, got ${JSON.stringify(s)}`);
  return s as SampleSplit;
}

/** Validates a sample against its dataset's channel/class counts. */
export function checkSample(s: NewSample, channels: number, classes: number, dataset: string): void {
  const what = `sample '${String(s?.name)}' of dataset '${dataset}'`;
  checkName(s.name, what);
  const im = s.image;
  const m = s.mask;
  if (!im || !(im.data instanceof Float32Array)) throw new FedSegError('INVALID_INPUT', `${what}: image.data must be a Float32Array`);
  if (!m || !(m.data instanceof Uint8Array)) throw new FedSegError('INVALID_INPUT', `${what}: mask.data must be a Uint8Array`);
  posInt(im.width, `${what}: image width`);
  posInt(im.height, `${what}: image height`);
  if (im.channels !== channels) throw new FedSegError('SHAPE_MISMATCH', `${what}: image has ${im.channels} channels, dataset has ${channels}`);
  if (m.classes !== classes) throw new FedSegError('SHAPE_MISMATCH', `${what}: mask has ${m.classes} classes, dataset has ${classes}`);
  if (m.width !== im.width || m.height !== im.height) {
    throw new FedSegError('SHAPE_MISMATCH', `${what}: mask is ${m.width}x${m.height}, image is ${im.width}x${im.height}`);
  }
  if (im.data.length !== im.width * im.height * im.channels) throw new FedSegError('SHAPE_MISMATCH', `${what}: image data length ${im.data.length} != ${im.width}*${im.height}*${im.channels}`);
  if (m.data.length !== m.width * m.height * m.classes) throw new FedSegError('SHAPE_MISMATCH', `${what}: mask data length ${m.data.length} != ${m.width}*${m.height}*${m.classes}`);
  for (let i = 0; i < m.data.length; i++) {
    if (m.data[i]! > 1) throw new FedSegError('INVALID_INPUT', `${what}: mask values must be 0/1, found ${m.data[i]}`);
  }
  checkSplit(s.split, what);
  if (s.spacing != null) {
    if (!Array.isArray(s.spacing) || s.spacing.length !== 2 || !s.spacing.every((v) => Number.isFinite(v) && v > 0)) {
      throw new FedSegError('INVALID_ARGUMENT', `${what}: spacing must be two positive numbers`);
    }
  }
}

/**
 * Every check a store makes before it writes a sample (shape, 0/1 mask, finite pixels, JSON meta), without
 * writing. Import dry runs and skip-bad imports judge a file with it, so a file they pass is one the
 * store accepts.
 */
export function checkStorableSample(s: NewSample, channels: number, classes: number, dataset: string): EncodedSample {
  checkSample(s, channels, classes, dataset);
  const what = `sample '${s.name}' of dataset '${dataset}'`;
  const e = encodeSample(s, what);
  checkJson(s.meta ?? {}, `${what} meta`);
  return e;
}

/**
 * The encoding a caller passes with a sample (ImportSession.add: what checkStorableSample returned for it,
 * so the store does not encode the pixels a second time), or a fresh one. A passed encoding must match
 * the sample's shape; the sample itself is checked either way.
 */
export function encodingFor(s: NewSample, given: EncodedSample | undefined, what: string): EncodedSample {
  if (given === undefined) return encodeSample(s, what);
  const n = s.image.width * s.image.height;
  const imageBytes = n * s.image.channels * (given.imageDtype === 'uint8' ? 1 : given.imageDtype === 'float32' ? 4 : NaN);
  const ok = given.image instanceof Uint8Array && given.image.byteLength === imageBytes && given.mask instanceof Uint8Array
    && given.mask.byteLength === (n * s.mask.classes + 7) >> 3 && Array.isArray(given.foreground) && given.foreground.length === s.mask.classes
    && [given.min, given.max, given.mean, given.std, ...given.foreground].every(Number.isFinite);
  if (!ok) throw new FedSegError('INVALID_ARGUMENT', `${what}: the encoding passed with it does not match the sample`);
  return given;
}


/** Encodes pixels and computes the per-sample summary; throws on NaN/Inf pixels. */
export function encodeSample(s: NewSample, what: string): EncodedSample {
  const d = s.image.data;
  const n = d.length || 1;
  // Fast path: 8-bit images (PNG/JPEG imports, the fundus generator). One pass converts, verifies
  // exactness (v & 255 === v only for integers 0..255) and builds a 256-bin histogram for the stats.
  const u8 = new Uint8Array(d.length);
  const hist = new Int32Array(256);
  let integral = true;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    const b = v & 255;
    if (b !== v) {
      integral = false;
      break;
    }
    u8[i] = b;
    hist[b]!++;
  }
  let min: number;
  let max: number;
  let sum = 0;
  let ss = 0;
  let image: Uint8Array;
  if (integral) {
    min = 255;
    max = 0;
    for (let v = 0; v < 256; v++) {
      const c = hist[v]!;
      if (c === 0) continue;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += c * v;
      ss += c * v * v;
    }
    if (d.length === 0) min = max = 0;
    image = u8;
  } else {
    min = Infinity;
    max = -Infinity;
    let bad = -1;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v - v !== 0) {
        bad = i; // NaN or +-Infinity
        break;
      }
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      ss += v * v;
    }
    if (bad >= 0) throw new FedSegError('INVALID_INPUT', `${what}: image has a non-finite value at index ${bad}`);
    image = new Uint8Array(d.byteLength);
    new Float32Array(image.buffer).set(d); // little-endian on every supported platform
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, ss / n - mean * mean));
  const k = s.mask.classes;
  const counts = new Float64Array(k);
  const md = s.mask.data;
  const px = s.mask.width * s.mask.height;
  const packed = new Uint8Array((md.length + 7) >> 3);
  for (let p = 0, i = 0; p < px; p++) {
    for (let c = 0; c < k; c++, i++) {
      if (md[i]) {
        counts[c]!++;
        packed[i >> 3]! |= 1 << (i & 7);
      }
    }
  }
  return {
    imageDtype: integral ? 'uint8' : 'float32', image, mask: packed, min, max, mean, std,
    foreground: Array.from(counts, (c) => c / (px || 1)),
  };
}

/** Packs a 0/1 mask (HWC) into bits, 8 values per byte, LSB first. */
export function packMask(m: Uint8Array): Uint8Array {
  const out = new Uint8Array((m.length + 7) >> 3);
  for (let i = 0; i < m.length; i++) if (m[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export function unpackMask(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (b[i >> 3]! >> (i & 7)) & 1;
  return out;
}

export function decodeImage(dtype: string, blob: Uint8Array, width: number, height: number, channels: number, what: string): ImageF32 {
  const n = width * height * channels;
  const data = new Float32Array(n);
  if (dtype === 'uint8') {
    if (blob.byteLength !== n) throw new FedSegError('CORRUPT_FILE', `${what}: image blob has ${blob.byteLength} bytes, expected ${n}`);
    for (let i = 0; i < n; i++) data[i] = blob[i]!;
  } else if (dtype === 'float32') {
    if (blob.byteLength !== n * 4) throw new FedSegError('CORRUPT_FILE', `${what}: image blob has ${blob.byteLength} bytes, expected ${n * 4}`);
    new Uint8Array(data.buffer).set(blob);
  } else {
    throw new FedSegError('CORRUPT_FILE', `${what}: unknown image dtype '${dtype}'`);
  }
  return { width, height, channels, data };
}

/** Mask blobs: 'bits' (packed, schema >= 3) or 'u8' (one byte per value, rows written by schema < 3). */
export function decodeMask(blob: Uint8Array, width: number, height: number, classes: number, what: string, encoding: 'bits' | 'u8' = 'bits'): MaskU8 {
  const n = width * height * classes;
  if (encoding === 'u8') {
    if (blob.byteLength !== n) throw new FedSegError('CORRUPT_FILE', `${what}: mask blob has ${blob.byteLength} bytes, expected ${n}`);
    return { width, height, classes, data: new Uint8Array(blob) };
  }
  if (blob.byteLength !== (n + 7) >> 3) throw new FedSegError('CORRUPT_FILE', `${what}: packed mask blob has ${blob.byteLength} bytes, expected ${(n + 7) >> 3}`);
  return { width, height, classes, data: unpackMask(blob, n) };
}

export function checkWindow(w: NewAmplitudeWindow): void {
  if (w.source !== 'local' && w.source !== 'received') throw new FedSegError('INVALID_ARGUMENT', `amplitude window: source must be 'local' or 'received', got ${JSON.stringify(w.source)}`);
  checkName(w.site, 'amplitude window site');
  if (!Number.isFinite(w.alpha) || w.alpha <= 0 || w.alpha > 1) throw new FedSegError('INVALID_ARGUMENT', `amplitude window: alpha must be in (0, 1], got ${w.alpha}`);
  const win: AmplitudeWindowData = w.window;
  posInt(win?.channels, 'amplitude window channels', 64);
  if (!Number.isInteger(win.halfWidth) || win.halfWidth < 0 || win.halfWidth > 4096) throw new FedSegError('INVALID_ARGUMENT', `amplitude window: halfWidth must be an integer >= 0, got ${win.halfWidth}`);
  const side = 2 * win.halfWidth + 1;
  if (!(win.data instanceof Float32Array) || win.data.length !== win.channels * side * side) {
    throw new FedSegError('SHAPE_MISMATCH', `amplitude window: data must be a Float32Array of ${win.channels}*${side}*${side} values`);
  }
}

export function f32ToBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export function bytesToF32(b: Uint8Array, what: string): Float32Array {
  if (b.byteLength % 4) throw new FedSegError('CORRUPT_FILE', `${what}: float blob length ${b.byteLength} is not a multiple of 4`);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Checks a checkpoint blob is a valid weights frame; returns its sha256. */
export function checkCheckpoint(c: NewCheckpoint): string {
  checkName(c.name, 'checkpoint');
  checkName(c.modelKind, `checkpoint '${c.name}' modelKind`);
  if (!(c.blob instanceof Uint8Array)) throw new FedSegError('INVALID_ARGUMENT', `checkpoint '${c.name}': blob must be a Uint8Array`);
  try {
    decodeWeights(c.blob, { maxValues: 1 << 30 });
  } catch (e) {
    throw new FedSegError('INVALID_INPUT', `checkpoint '${c.name}': not a FedSeg weights frame (${(e as Error).message})`);
  }
  if (c.round != null && (!Number.isInteger(c.round) || c.round < 0)) throw new FedSegError('INVALID_ARGUMENT', `checkpoint '${c.name}': round must be an integer >= 0`);
  return createHash('sha256').update(c.blob).digest('hex');
}

export function checkAudit(e: NewAuditEntry): void {
  if (e.direction !== 'out' && e.direction !== 'in') throw new FedSegError('INVALID_ARGUMENT', `audit: direction must be 'out' or 'in', got ${JSON.stringify(e.direction)}`);
  checkName(e.kind, 'audit kind');
  if (!Number.isInteger(e.bytes) || e.bytes < 0) throw new FedSegError('INVALID_ARGUMENT', `audit: bytes must be an integer >= 0, got ${e.bytes}`);
  if (typeof e.peer !== 'string') throw new FedSegError('INVALID_ARGUMENT', 'audit: peer must be a string');
  if (typeof e.summary !== 'string') throw new FedSegError('INVALID_ARGUMENT', 'audit: summary must be a string');
}

export function checkMetrics(m: Record<string, number>): void {
  if (typeof m !== 'object' || m === null) throw new FedSegError('INVALID_ARGUMENT', 'round metrics must be an object of numbers');
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FedSegError('INVALID_ARGUMENT', `round metric '${k}' must be a finite number, got ${String(v)}`);
  }
}

/** JSON round trip used by both stores so values read back identically (no shared references). */
export function jsonClone<T>(v: T): T {
  if (v === undefined) return v;
  return JSON.parse(JSON.stringify(v)) as T;
}

export function checkJson(v: unknown, what: string): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', `${what}: not JSON-serialisable (${(e as Error).message})`);
  }
  if (s === undefined) throw new FedSegError('INVALID_ARGUMENT', `${what}: not JSON-serialisable`);
  return s;
}
