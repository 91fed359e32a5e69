// NumPy's .npy format, the bytes of a Flower Array (docs/flower.md §4: stype numpy.ndarray): a magic
// string, a version, a little-endian header length and a Python-dict header (descr, fortran_order,
// shape) padded so the data starts on a 64-byte boundary, then the data in C order. FedSeg writes
// version 1.0 '<f4' as numpy.save does; it reads float16/32/64 and integer arrays (little-endian or
// single-byte), converted to float32, and refuses Fortran order, big-endian, object or pickled data.
import { FedSegError } from '../contract/errors.js';

const MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const ALIGN = 64;

export interface NpyArray {
  shape: number[];
  data: Float32Array;
  /** The descr the data had on the wire (e.g. '<f4'). */
  descr: string;
}

function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** numpy.save(a) of a float32 C-order array, byte for byte. */
export function encodeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new FedSegError('SHAPE_MISMATCH', `npy: shape [${shape.join(', ')}] holds ${n} values, got ${data.length}`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText(shape)}, }`;
  const fixed = MAGIC.length + 2 + 2;
  const pad = ALIGN - ((fixed + header.length + 1) % ALIGN);
  header += ' '.repeat(pad % ALIGN) + '\n';
  const out = new Uint8Array(fixed + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  const body = new DataView(out.buffer, fixed + header.length);
  for (let i = 0; i < data.length; i++) body.setFloat32(i * 4, data[i]!, true);
  return out;
}

const bad = (why: string) => new FedSegError('BAD_UPDATE', `not a usable .npy array: ${why}`);

/** Reads a .npy array into float32; anything else than a plain numeric little-endian C-order array is refused. */
export function decodeNpy(bytes: Uint8Array, maxValues = 1 << 28): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('the magic string is missing');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('truncated header');
    hlen = view.getUint32(8, true);
    start = 12;
  } else throw bad(`format version ${major} is unknown`);
  if (hlen > 65536 || start + hlen > bytes.length) throw bad('the header is truncated or too long');
  const header = Buffer.from(bytes.subarray(start, start + hlen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeM = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeM === undefined) throw bad('the header lacks descr, fortran_order or shape');
  if (fortran === 'True') throw bad('Fortran-ordered arrays are not read');
  const shape = shapeM.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d{1,10}$/.test(s)) throw bad(`shape entry '${s}'`);
    return Number(s);
  });
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > maxValues) throw bad(`${n} values is more than the ${maxValues} accepted`);
  const m = /^([<|=])([fiu])(\d)$/.exec(descr);
  if (!m) throw bad(`dtype '${descr}' (only little-endian numeric arrays are read)`);
  const [, , kind, sizeS] = m;
  const size = Number(sizeS);
  const body = start + hlen;
  if (bytes.length - body !== n * size) throw bad(`the data holds ${bytes.length - body} bytes; shape [${shape.join(', ')}] of ${descr} needs ${n * size}`);
  const out = new Float32Array(n);
  const read = reader(kind!, size, descr);
  for (let i = 0; i < n; i++) out[i] = read(view, body + i * size);
  return { shape, data: out, descr };
}

function reader(kind: string, size: number, descr: string): (v: DataView, at: number) => number {
  if (kind === 'f' && size === 4) return (v, at) => v.getFloat32(at, true);
  if (kind === 'f' && size === 8) return (v, at) => v.getFloat64(at, true);
  if (kind === 'f' && size === 2) return (v, at) => halfToFloat(v.getUint16(at, true));
  if (kind === 'i' && size === 1) return (v, at) => v.getInt8(at);
  if (kind === 'u' && size === 1) return (v, at) => v.getUint8(at);
  if (kind === 'i' && size === 2) return (v, at) => v.getInt16(at, true);
  if (kind === 'u' && size === 2) return (v, at) => v.getUint16(at, true);
  if (kind === 'i' && size === 4) return (v, at) => v.getInt32(at, true);
  if (kind === 'u' && size === 4) return (v, at) => v.getUint32(at, true);
  if (kind === 'i' && size === 8) return (v, at) => Number(v.getBigInt64(at, true));
  if (kind === 'u' && size === 8) return (v, at) => Number(v.getBigUint64(at, true));
  throw bad(`dtype '${descr}'`);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
