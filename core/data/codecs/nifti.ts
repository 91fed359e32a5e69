// NIfTI-1/2 volumes (.nii, .nii.gz) for the prostate importer (docs/algorithms.md §9: SAML volumes).
// Reading: the header is read first (for .nii.gz by inflating only the stream's first kilobytes), its
// dimensions, datatype size and voxel offset are checked against the per-file limits and against
// what the file can hold, and only then is the file gunzipped, with maxOutputLength set to the size
// the header declares (docs/security.md §4 Import budgets): a 65 KB .nii.gz may otherwise inflate to
// gigabytes. Header fields (spacing, scaling, endianness) come from nifti-reader-js (maintained
// parser); voxels are read straight from the inflated bytes (no copy of the voxel block) with
// scl_slope/scl_inter applied, on access (openNifti) or into a float32 volume (readNifti). Writing (NIfTI-1 single file, float32 or uint8) exists
// so the generator can emit SAML-like volumes and tests can round-trip.
import { constants as zc, gunzipSync, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { FedSegError } from '../../contract/errors.js';
import { checkFileBytes, checkVolumeSize, DEFAULT_DECODE_LIMITS, formatBytes, type DecodeLimits } from './decode-limits.js';

export interface Volume {
  /** Voxels along x (fastest), y, z. */
  nx: number;
  ny: number;
  nz: number;
  /** Voxel size in mm along x, y, z (pixdim[1..3]; 1 when absent). */
  spacing: [number, number, number];
  /** x fastest, then y, then z; float32 (64-bit voxels are rounded to float32). */
  data: Float32Array;
  datatype: number;
}

/** What a NIfTI header declares, checked against the limits before any voxel is inflated. */
export interface NiftiLayout {
  nx: number;
  ny: number;
  nz: number;
  datatype: number;
  bytesPerVoxel: number;
  /** Byte offset of the voxels in the (gunzipped) file. */
  voxOffset: number;
  /** voxOffset + voxels x bytesPerVoxel: the size of the (gunzipped) file the header declares. */
  declaredBytes: number;
  gzip: boolean;
}

/** Deflate's largest expansion, about 1032:1 (zlib technical details, zlib.net/zlib_tech.html). */
export const GZIP_MAX_RATIO = 1032;
/** Bytes after the voxel block tolerated in a .nii.gz (some writers pad). */
const TRAILING_SLACK = 64 * 1024;

const T = nifti.NIFTI1;
const VOXEL_BYTES: Record<number, number> = {
  [T.TYPE_UINT8]: 1, [T.TYPE_INT8]: 1, [T.TYPE_INT16]: 2, [T.TYPE_UINT16]: 2, [T.TYPE_INT32]: 4, [T.TYPE_UINT32]: 4,
  [T.TYPE_FLOAT32]: 4, [T.TYPE_FLOAT64]: 8, [T.TYPE_INT64]: 8, [T.TYPE_UINT64]: 8,
};

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** The first bytes of a gzip stream, inflating only a prefix of it (at most 1032x its length). */
function inflateHead(buf: Uint8Array, file: string): Uint8Array {
  let out: Uint8Array = new Uint8Array(0);
  for (const k of [1024, 8192, 65536]) {
    try {
      out = gunzipSync(buf.subarray(0, k), { finishFlush: zc.Z_SYNC_FLUSH });
    } catch (e) {
      throw new FedSegError('CORRUPT_FILE', `${file}: corrupt gzip data (${(e as Error).message})`);
    }
    if (out.length >= 540 || k >= buf.length) break;
  }
  return out;
}

/** Reads and checks the header of a .nii or .nii.gz held in memory; inflates at most its first 64 KiB. */
export function readNiftiLayout(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): NiftiLayout {
  const bad = (m: string): FedSegError => new FedSegError('CORRUPT_FILE', `${file}: ${m}`);
  const gzip = isGzip(buf);
  const h = gzip ? inflateHead(buf, file) : buf;
  if (h.length < 348) throw bad('not a NIfTI-1/2 file (bad header magic)');
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const size = dv.getInt32(0, true);
  const le = size === 348 || size === 540;
  const sz = le ? size : dv.getInt32(0, false);
  const v2 = sz === 540;
  if (sz !== 348 && !v2) throw bad('not a NIfTI-1/2 file (bad header magic)');
  if (v2 && h.length < 540) throw bad('truncated NIfTI-2 header');
  const magic = String.fromCharCode(...h.subarray(v2 ? 4 : 344, v2 ? 7 : 347));
  if (!(magic === 'n+1' || magic === 'n+2')) throw bad(magic === 'ni1' || magic === 'ni2' ? 'a .hdr/.img pair header (only single-file .nii volumes are supported)' : 'not a NIfTI-1/2 file (bad header magic)');
  const dims: number[] = [];
  for (let k = 0; k < 8; k++) dims.push(v2 ? Number(dv.getBigInt64(16 + 8 * k, le)) : dv.getInt16(40 + 2 * k, le));
  const datatype = dv.getInt16(v2 ? 12 : 70, le);
  const bitpix = dv.getInt16(v2 ? 14 : 72, le);
  const voxOffset = v2 ? Number(dv.getBigInt64(168, le)) : Math.floor(dv.getFloat32(108, le));
  const ndim = dims[0]!;
  if (!(ndim >= 2 && ndim <= 7)) throw bad(`unsupported dimension count ${ndim}`);
  const nx = dims[1]!;
  const ny = dims[2]!;
  const nz = ndim >= 3 ? dims[3]! : 1;
  for (let k = 4; k <= ndim; k++) {
    if ((dims[k] ?? 1) > 1) throw new FedSegError('UNSUPPORTED', `${file}: ${ndim}-D volume with dim[${k}] = ${dims[k]} (only 3-D volumes are supported)`);
  }
  if (![nx, ny, nz].every((d) => Number.isSafeInteger(d) && d >= 1)) throw bad(`bad dimensions ${nx}x${ny}x${nz}`);
  checkVolumeSize(file, [nx, ny, nz], limits);
  const bpv = VOXEL_BYTES[datatype];
  if (bpv === undefined) throw new FedSegError('UNSUPPORTED', `${file}: NIfTI datatype ${datatype} is not supported`);
  if (bitpix !== bpv * 8) throw bad(`bitpix ${bitpix} does not match datatype ${datatype} (${bpv * 8} bits per voxel)`);
  if (!Number.isSafeInteger(voxOffset) || voxOffset < sz) throw bad(`bad voxel offset ${voxOffset}`);
  const declaredBytes = voxOffset + nx * ny * nz * bpv;
  checkFileBytes(file, declaredBytes, limits, ` of voxels declared by its header (${nx}x${ny}x${nz} x ${bpv} bytes)`);
  if (!gzip && buf.length < declaredBytes) {
    throw bad(`voxel data truncated (${Math.max(0, buf.length - voxOffset)} bytes for ${nx * ny * nz} voxels of ${bpv} bytes)`);
  }
  if (gzip && declaredBytes > buf.length * GZIP_MAX_RATIO + 1024) {
    throw bad(`header declares ${nx}x${ny}x${nz} voxels of ${bpv} bytes (${formatBytes(declaredBytes)}), more than ${formatBytes(buf.length)} of gzip data can hold`);
  }
  return { nx, ny, nz, datatype, bytesPerVoxel: bpv, voxOffset, declaredBytes, gzip };
}

function voxelReader(raw: Uint8Array, at: number, code: number, le: boolean): (i: number) => number {
  const o = raw.byteOffset + at;
  const native = le; // every supported platform is little-endian
  const view = <A>(C: { new (b: ArrayBufferLike, o: number, n: number): A; BYTES_PER_ELEMENT: number }, n: number): A | null =>
    native && o % C.BYTES_PER_ELEMENT === 0 ? new C(raw.buffer, o, n) : null;
  const n = Math.floor((raw.length - at) / (VOXEL_BYTES[code] ?? 1));
  const typed: ArrayLike<number> | null =
    code === T.TYPE_UINT8 ? new Uint8Array(raw.buffer, o, n)
      : code === T.TYPE_INT8 ? new Int8Array(raw.buffer, o, n)
        : code === T.TYPE_INT16 ? view(Int16Array, n)
          : code === T.TYPE_UINT16 ? view(Uint16Array, n)
            : code === T.TYPE_INT32 ? view(Int32Array, n)
              : code === T.TYPE_UINT32 ? view(Uint32Array, n)
                : code === T.TYPE_FLOAT32 ? view(Float32Array, n)
                  : code === T.TYPE_FLOAT64 ? view(Float64Array, n)
                    : null;
  if (typed) return (i) => typed[i]!;
  const dv = new DataView(raw.buffer, o, raw.length - at);
  switch (code) {
    case T.TYPE_INT16: return (i) => dv.getInt16(i * 2, le);
    case T.TYPE_UINT16: return (i) => dv.getUint16(i * 2, le);
    case T.TYPE_INT32: return (i) => dv.getInt32(i * 4, le);
    case T.TYPE_UINT32: return (i) => dv.getUint32(i * 4, le);
    case T.TYPE_FLOAT32: return (i) => dv.getFloat32(i * 4, le);
    case T.TYPE_FLOAT64: return (i) => dv.getFloat64(i * 8, le);
    case T.TYPE_INT64: return (i) => Number(dv.getBigInt64(i * 8, le));
    default: return (i) => Number(dv.getBigUint64(i * 8, le));
  }
}

/** A volume's voxels read in place from the (gunzipped) file bytes, scaling applied on access. */
export interface VolumeVoxels extends Omit<Volume, 'data'> {
  /** Voxel i (x fastest, then y, then z) as a number, scl_slope/scl_inter applied. */
  voxel(i: number): number;
}

/**
 * Opens a .nii or .nii.gz volume: header checks first, then a gunzip bounded by the declared size;
 * voxels are read from the inflated bytes on access, so an importer that slices the volume never
 * holds a second, converted copy of it.
 */
export function openNifti(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): VolumeVoxels {
  const bad = (m: string): FedSegError => new FedSegError('CORRUPT_FILE', `${file}: ${m}`);
  const lay = readNiftiLayout(buf, file, limits);
  let raw = buf;
  if (lay.gzip) {
    const cap = Math.min(lay.declaredBytes + TRAILING_SLACK, limits.maxFileBytes);
    try {
      raw = gunzipSync(buf, { maxOutputLength: Math.max(1, cap) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bad(`decompresses to more than the ${formatBytes(lay.declaredBytes)} its header declares`);
      throw bad(`corrupt gzip data (${(e as Error).message})`);
    }
  }
  const n = lay.nx * lay.ny * lay.nz;
  if (raw.length < lay.declaredBytes) throw bad(`voxel data truncated (${Math.max(0, raw.length - lay.voxOffset)} bytes for ${n} voxels of ${lay.bytesPerVoxel} bytes)`);
  // The header (and its extensions) only: nifti-reader-js copies what it is given.
  const hdr = raw.slice(0, lay.voxOffset);
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(hdr.buffer as ArrayBuffer);
  } catch (e) {
    throw bad(`unreadable NIfTI (${(e as Error).message})`);
  }
  const read = voxelReader(raw, lay.voxOffset, lay.datatype, header.littleEndian);
  const slope = header.scl_slope;
  const inter = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  const voxel = Number.isFinite(slope) && slope !== 0 ? (i: number): number => read(i) * slope + inter : read;
  const pd = header.pixDims;
  const sp = (k: number): number => {
    const v = Math.abs(pd[k] ?? 1);
    return Number.isFinite(v) && v > 0 ? v : 1;
  };
  return { nx: lay.nx, ny: lay.ny, nz: lay.nz, spacing: [sp(1), sp(2), sp(3)], datatype: lay.datatype, voxel };
}

/** Reads a .nii or .nii.gz volume into float32 (openNifti, then every voxel converted once). */
export function readNifti(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Volume {
  const { voxel, ...v } = openNifti(buf, file, limits);
  const n = v.nx * v.ny * v.nz;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = voxel(i);
  return { ...v, data };
}

/** Writes a NIfTI-1 single-file volume (gzipped when `gzip`), float32 or uint8 voxels. */
export function writeNifti(vol: { nx: number; ny: number; nz: number; spacing: [number, number, number]; data: Float32Array | Uint8Array }, gzip = true): Uint8Array {
  const n = vol.nx * vol.ny * vol.nz;
  if (vol.data.length !== n) throw new FedSegError('SHAPE_MISMATCH', `writeNifti: ${vol.data.length} voxels for ${vol.nx}x${vol.ny}x${vol.nz}`);
  const isF = vol.data instanceof Float32Array;
  const out = new Uint8Array(352 + vol.data.byteLength);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, 348, true); // sizeof_hdr
  const dims = [3, vol.nx, vol.ny, vol.nz, 1, 1, 1, 1];
  dims.forEach((d, i) => dv.setInt16(40 + 2 * i, d, true));
  dv.setInt16(70, isF ? 16 : 2, true); // datatype
  dv.setInt16(72, isF ? 32 : 8, true); // bitpix
  const pix = [1, vol.spacing[0], vol.spacing[1], vol.spacing[2], 1, 1, 1, 1];
  pix.forEach((p, i) => dv.setFloat32(76 + 4 * i, p, true));
  dv.setFloat32(108, 352, true); // vox_offset
  dv.setFloat32(112, 1, true); // scl_slope
  dv.setFloat32(116, 0, true); // scl_inter
  out[123] = 2 | 8; // xyzt_units: mm, s
  dv.setInt16(252, 0, true); // qform_code
  dv.setInt16(254, 1, true); // sform_code: scanner
  dv.setFloat32(280, vol.spacing[0], true); // srow_x
  dv.setFloat32(300, vol.spacing[1], true); // srow_y
  dv.setFloat32(320, vol.spacing[2], true); // srow_z
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  out.set(new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength), 352);
  return gzip ? gzipSync(out, { level: 1 }) : out;
}
