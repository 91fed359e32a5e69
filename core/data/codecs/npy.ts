// NumPy .npy reader/writer (format versions 1.0-3.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// "\x93NUMPY" | major | minor | header length (u16 for v1, u32 for v2/3) | ASCII dict
// {'descr': '<f4', 'fortran_order': False, 'shape': (H, W, C), } padded to 64 bytes | raw data.
// Used for FedDG's preprocessed files (one HxWx5 float array per image). No maintained npm package
// both reads and writes .npy, and the format is this small, so it lives here.
import { FedSegError } from '../../contract/errors.js';

export type NpyDtype = 'float32' | 'float64' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'bool';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Values in C order, converted to float64 for uniform handling. */
  data: Float64Array;
}

const DESCR: Record<string, { dtype: NpyDtype; size: number }> = {
  f4: { dtype: 'float32', size: 4 }, f8: { dtype: 'float64', size: 8 }, u1: { dtype: 'uint8', size: 1 }, i1: { dtype: 'int8', size: 1 },
  u2: { dtype: 'uint16', size: 2 }, i2: { dtype: 'int16', size: 2 }, u4: { dtype: 'uint32', size: 4 }, i4: { dtype: 'int32', size: 4 },
  b1: { dtype: 'bool', size: 1 },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function readNpy(buf: Uint8Array, file: string, maxValues = 1 << 28): NpyArray {
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
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + hlen));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw bad(`cannot parse header ${JSON.stringify(header.trim())}`);
  const kind = DESCR[descr[2]!];
  if (!kind) throw new FedSegError('UNSUPPORTED', `${file}: .npy dtype '${descr[1]}${descr[2]}' is not supported (use float32/float64/uint8/int16/...)`);
  const little = descr[1] !== '>';
  const shape = shapeM[1]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`bad shape (${shapeM[1]})`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > maxValues) throw new FedSegError('INVALID_INPUT', `${file}: .npy array has ${n} values, more than the limit ${maxValues}`);
  const dataStart = start + hlen;
  if (buf.length - dataStart < n * kind.size) throw bad(`data truncated: ${buf.length - dataStart} bytes for ${n} x ${kind.size}-byte values`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = dataStart + i * kind.size;
    switch (kind.dtype) {
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
  if (fortran[1] === 'True' && shape.length > 1) {
    // Convert column-major to row-major.
    const c = new Float64Array(n);
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
    return { dtype: kind.dtype, shape, data: c };
  }
  return { dtype: kind.dtype, shape, data: out };
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
