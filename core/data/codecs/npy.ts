// NumPy .npy reader/writer (format versions 1.0-3.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// "\x93NUMPY" | major | minor | header length (u16 for v1, u32 for v2/3) | ASCII dict
// {'descr': '<f4', 'fortran_order': False, 'shape': (H, W, C), } padded to 64 bytes | raw data.
// Used for FedDG's preprocessed files (one HxWx5 float array per image). No maintained npm package
// both reads and writes .npy, and the format is this small, so it lives here. The header is parsed
// and checked against the file's size and the caller's limit before the values are allocated
// (docs/security.md §4 Import budgets); values come back as float32 (what the importer stores).
import { FedSegError } from '../../contract/errors.js';

export type NpyDtype = 'float32' | 'float64' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'bool';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Values in C order, converted to float32 (float64 values are rounded). */
  data: Float32Array;
}

/** What a .npy header declares, read without touching the values. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Number of values (product of the shape). */
  count: number;
  bytesPerValue: number;
  littleEndian: boolean;
  fortranOrder: boolean;
  /** Byte offset of the values. */
  dataStart: number;
}

const DESCR: Record<string, { dtype: NpyDtype; size: number }> = {
  f4: { dtype: 'float32', size: 4 }, f8: { dtype: 'float64', size: 8 }, u1: { dtype: 'uint8', size: 1 }, i1: { dtype: 'int8', size: 1 },
  u2: { dtype: 'uint16', size: 2 }, i2: { dtype: 'int16', size: 2 }, u4: { dtype: 'uint32', size: 4 }, i4: { dtype: 'int32', size: 4 },
  b1: { dtype: 'bool', size: 1 },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses and checks a .npy header: the values it declares must fit in the file and under maxValues. */
export function readNpyHeader(buf: Uint8Array, file: string, maxValues = 1 << 28): NpyHeader {
  const bad = (m: string): FedSegError => new FedSegError('CORRUPT_FILE', `${file}: not a valid .npy file (${m})`);
  if (buf.length < 10 || !MAGIC.every((v, i) => buf[i] === v)) throw bad('missing \\x93NUMPY magic');
  const major = buf[6]!;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw bad('truncated header');
    hlen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw bad(`unsupported format version ${major}`);
  }
  if (start + hlen > buf.length) throw bad('header longer than the file');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + Math.min(hlen, 65536)));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw bad(`cannot parse header ${JSON.stringify(header.trim().slice(0, 200))}`);
  const kind = DESCR[descr[2]!];
  if (!kind) throw new FedSegError('UNSUPPORTED', `${file}: .npy dtype '${descr[1]}${descr[2]}' is not supported (use float32/float64/uint8/int16/...)`);
  const shape = shapeM[1]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`bad shape (${shapeM[1]})`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > maxValues) throw new FedSegError('INVALID_INPUT', `${file}: .npy array has ${count} values, more than the limit ${maxValues}`);
  const dataStart = start + hlen;
  if (buf.length - dataStart < count * kind.size) throw bad(`data truncated: ${buf.length - dataStart} bytes for ${count} x ${kind.size}-byte values`);
  return { dtype: kind.dtype, shape, count, bytesPerValue: kind.size, littleEndian: descr[1] !== '>', fortranOrder: fortran[1] === 'True', dataStart };
}

export function readNpy(buf: Uint8Array, file: string, maxValues = 1 << 28): NpyArray {
  const h = readNpyHeader(buf, file, maxValues);
  const { shape, dataStart, littleEndian: little } = h;
  const n = h.count;
  const size = h.bytesPerValue;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const o = dataStart + i * size;
    switch (h.dtype) {
      case 'float32': out[i] = dv.getFloat32(o, little); break;
      case 'float64': out[i] = dv.getFloat64(o, little); break;
      case 'uint8': case 'bool': out[i] = dv.getUint8(o); break;
      case 'int8': out[i] = dv.getInt8(o); break;
      case 'uint16': out[i] = dv.getUint16(o, little); break;
      case 'int16': out[i] = dv.getInt16(o, little); break;
      case 'uint32': out[i] = dv.getUint32(o, little); break;
      case 'int32': out[i] = dv.getInt32(o, little); break;
    }
  }
  if (h.fortranOrder && shape.length > 1) {
    // Convert column-major to row-major.
    const c = new Float32Array(n);
    const strideF = shape.map((_, k) => shape.slice(0, k).reduce((a, b) => a * b, 1));
    const strideC = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < n; i++) {
      let rem = i;
      let f = 0;
      for (let k = 0; k < shape.length; k++) {
        const idx = Math.floor(rem / strideC[k]!);
        rem -= idx * strideC[k]!;
        f += idx * strideF[k]!;
      }
      c[i] = out[f]!;
    }
    return { dtype: h.dtype, shape, data: c };
  }
  return { dtype: h.dtype, shape, data: out };
}

/** Writes a little-endian C-order .npy (version 1.0) from float32 or uint8 values. */
export function writeNpy(shape: number[], data: Float32Array | Uint8Array): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new FedSegError('SHAPE_MISMATCH', `writeNpy: shape (${shape.join(', ')}) holds ${n} values, got ${data.length}`);
  const descr = data instanceof Float32Array ? '<f4' : '|u1';
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
