// Named weights on disk and on the wire: a small JSON manifest of names/shapes/dtypes plus raw
// little-endian data. Weights are always keyed by name, never by position (docs/algorithms.md §3).
// Frame layout:  "FSW1" | u32 manifestLength | manifest JSON (utf-8) | pad to 4 bytes | data...
// Each entry's data is float32 (4 B/value) or float16 (2 B/value, IEEE half, round-to-nearest-even),
// stored in manifest order, each entry's start aligned to 4 bytes.
import { FedSegError } from './errors.js';

export type WireDtype = 'float32' | 'float16';

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: WireDtype;
  offset: number;
  byteLength: number;
}

export interface WeightsManifest {
  format: 'fedseg-weights';
  version: 1;
  entries: WeightsManifestEntry[];
  /** Free-form metadata (model config, round, ...). Must be JSON-serialisable. */
  meta?: Record<string, unknown>;
}

const MAGIC = 0x31575346; // "FSW1" little-endian
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** On little-endian hosts (all mainstream CPUs) float32 data is copied as raw bytes instead of per value. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits (round to nearest even; overflow -> inf; NaN kept). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  e = half >>> 10;
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Encode named arrays into one binary frame. */
export function encodeWeights(arrays: NamedArray[], opts: { dtype?: WireDtype; meta?: Record<string, unknown> } = {}): Uint8Array {
  const dtype = opts.dtype ?? 'float32';
  const seen = new Set<string>();
  const entries: WeightsManifestEntry[] = [];
  let offset = 0;
  for (const a of arrays) {
    if (seen.has(a.name)) throw new FedSegError('INVALID_ARGUMENT', `duplicate weight name '${a.name}'`);
    seen.add(a.name);
    if (numel(a.shape) !== a.data.length)
      throw new FedSegError('SHAPE_MISMATCH', `weight '${a.name}': shape [${a.shape}] has ${numel(a.shape)} values but data has ${a.data.length}`);
    const byteLength = a.data.length * (dtype === 'float16' ? 2 : 4);
    entries.push({ name: a.name, shape: [...a.shape], dtype, offset, byteLength });
    offset += Math.ceil(byteLength / 4) * 4;
  }
  const manifest: WeightsManifest = { format: 'fedseg-weights', version: 1, entries, ...(opts.meta ? { meta: opts.meta } : {}) };
  const mbytes = enc.encode(JSON.stringify(manifest));
  const head = 8 + Math.ceil(mbytes.length / 4) * 4;
  const out = new Uint8Array(head + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, mbytes.length, true);
  out.set(mbytes, 8);
  arrays.forEach((a, i) => {
    const e = entries[i]!;
    const base = head + e.offset;
    if (dtype === 'float32' && LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), base); // raw LE bytes: a memcpy
    } else if (dtype === 'float32') {
      for (let j = 0; j < a.data.length; j++) dv.setFloat32(base + 4 * j, a.data[j]!, true);
    } else {
      for (let j = 0; j < a.data.length; j++) dv.setUint16(base + 2 * j, toHalf(a.data[j]!), true);
    }
  });
  return out;
}

export interface DecodeLimits {
  /** Largest total number of values accepted (guards against hostile manifests). */
  maxValues?: number;
  maxManifestBytes?: number;
}

/** Decode a frame made by encodeWeights; validates everything (this is a trust boundary). */
export function decodeWeights(buf: Uint8Array, limits: DecodeLimits = {}): { arrays: NamedArray[]; meta?: Record<string, unknown> } {
  const bad = (m: string) => new FedSegError('PROTOCOL_ERROR', `malformed weights frame: ${m}`);
  if (buf.byteLength < 8) throw bad('shorter than its header');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('bad magic (not a FedSeg weights frame)');
  const mlen = dv.getUint32(4, true);
  if (mlen > (limits.maxManifestBytes ?? 4 << 20) || 8 + mlen > buf.byteLength) throw bad('manifest length out of range');
  let manifest: WeightsManifest;
  try {
    manifest = JSON.parse(dec.decode(buf.subarray(8, 8 + mlen))) as WeightsManifest;
  } catch {
    throw bad('manifest is not valid JSON');
  }
  if (manifest?.format !== 'fedseg-weights' || manifest.version !== 1 || !Array.isArray(manifest.entries)) throw bad('unknown manifest format');
  const head = 8 + Math.ceil(mlen / 4) * 4;
  const maxValues = limits.maxValues ?? 1 << 28;
  let total = 0;
  const names = new Set<string>();
  const arrays: NamedArray[] = [];
  for (const e of manifest.entries) {
    if (typeof e?.name !== 'string' || !e.name || names.has(e.name)) throw bad(`bad or duplicate entry name ${JSON.stringify(e?.name)}`);
    names.add(e.name);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0 || d > 1 << 26)) throw bad(`entry '${e.name}' has a bad shape`);
    if (e.dtype !== 'float32' && e.dtype !== 'float16') throw bad(`entry '${e.name}' has unsupported dtype ${String(e.dtype)}`);
    const n = numel(e.shape);
    total += n;
    if (total > maxValues) throw new FedSegError('MESSAGE_TOO_LARGE', `weights frame holds more than ${maxValues} values`);
    const width = e.dtype === 'float16' ? 2 : 4;
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset % 4 !== 0 || e.byteLength !== n * width) throw bad(`entry '${e.name}' has inconsistent offset/length`);
    const base = head + e.offset;
    if (base + e.byteLength > buf.byteLength) throw bad(`entry '${e.name}' runs past the end of the frame`);
    const data = new Float32Array(n);
    if (width === 4 && LITTLE_ENDIAN_HOST) new Uint8Array(data.buffer).set(buf.subarray(base, base + e.byteLength));
    else if (width === 4) for (let j = 0; j < n; j++) data[j] = dv.getFloat32(base + 4 * j, true);
    else for (let j = 0; j < n; j++) data[j] = fromHalf(dv.getUint16(base + 2 * j, true));
    arrays.push({ name: e.name, shape: e.shape, data });
  }
  return { arrays, ...(manifest.meta ? { meta: manifest.meta } : {}) };
}
