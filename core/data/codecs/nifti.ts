// NIfTI-1/2 volumes (.nii, .nii.gz) for the prostate importer (docs/algorithms.md §9: SAML volumes).
// Reading: gzip through node:zlib, the header and voxel block through nifti-reader-js (maintained
// parser), voxels converted to float64 with scl_slope/scl_inter applied. Writing (NIfTI-1 single
// file, float32 or uint8) exists so the generator can emit SAML-like volumes and tests can round-trip.
import { gunzipSync, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { FedSegError } from '../../contract/errors.js';

export interface Volume {
  /** Voxels along x (fastest), y, z. */
  nx: number;
  ny: number;
  nz: number;
  /** Voxel size in mm along x, y, z (pixdim[1..3]; 1 when absent). */
  spacing: [number, number, number];
  /** x fastest, then y, then z. */
  data: Float64Array;
  datatype: number;
}

const MAX_VOXELS = 1 << 28;

export function readNifti(buf: Uint8Array, file: string): Volume {
  const bad = (m: string): FedSegError => new FedSegError('CORRUPT_FILE', `${file}: ${m}`);
  let raw = buf;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      raw = gunzipSync(buf);
    } catch (e) {
      throw bad(`corrupt gzip data (${(e as Error).message})`);
    }
  }
  const ab = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  if (!nifti.isNIFTI(ab)) throw bad('not a NIfTI-1/2 file (bad header magic)');
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  let img: ArrayBuffer;
  try {
    header = nifti.readHeader(ab);
    img = nifti.readImage(header, ab);
  } catch (e) {
    throw bad(`unreadable NIfTI (${(e as Error).message})`);
  }
  const dims = header.dims;
  const ndim = dims[0]!;
  if (!(ndim >= 2 && ndim <= 7)) throw bad(`unsupported dimension count ${ndim}`);
  const nx = dims[1]!;
  const ny = dims[2]!;
  const nz = ndim >= 3 ? dims[3]! : 1;
  for (let k = 4; k <= ndim; k++) {
    if ((dims[k] ?? 1) > 1) throw new FedSegError('UNSUPPORTED', `${file}: ${ndim}-D volume with dim[${k}] = ${dims[k]} (only 3-D volumes are supported)`);
  }
  if (![nx, ny, nz].every((d) => Number.isInteger(d) && d >= 1)) throw bad(`bad dimensions ${nx}x${ny}x${nz}`);
  const n = nx * ny * nz;
  if (n > MAX_VOXELS) throw new FedSegError('INVALID_INPUT', `${file}: volume has ${n} voxels (limit ${MAX_VOXELS})`);
  const bpv = header.numBitsPerVoxel / 8;
  if (img.byteLength < n * bpv) throw bad(`voxel data truncated (${img.byteLength} bytes for ${n} voxels of ${bpv} bytes)`);
  const dv = new DataView(img);
  const le = header.littleEndian;
  const out = new Float64Array(n);
  const T = nifti.NIFTI1;
  const code = header.datatypeCode;
  const read: ((o: number) => number) | null =
    code === T.TYPE_UINT8 ? (o) => dv.getUint8(o)
      : code === T.TYPE_INT8 ? (o) => dv.getInt8(o)
        : code === T.TYPE_INT16 ? (o) => dv.getInt16(o, le)
          : code === T.TYPE_UINT16 ? (o) => dv.getUint16(o, le)
            : code === T.TYPE_INT32 ? (o) => dv.getInt32(o, le)
              : code === T.TYPE_UINT32 ? (o) => dv.getUint32(o, le)
                : code === T.TYPE_FLOAT32 ? (o) => dv.getFloat32(o, le)
                  : code === T.TYPE_FLOAT64 ? (o) => dv.getFloat64(o, le)
                    : code === T.TYPE_INT64 ? (o) => Number(dv.getBigInt64(o, le))
                      : code === T.TYPE_UINT64 ? (o) => Number(dv.getBigUint64(o, le))
                        : null;
  if (!read) throw new FedSegError('UNSUPPORTED', `${file}: NIfTI datatype ${code} is not supported`);
  const slope = header.scl_slope;
  const inter = header.scl_inter;
  const scale = Number.isFinite(slope) && slope !== 0;
  for (let i = 0; i < n; i++) {
    const v = read(i * bpv);
    out[i] = scale ? v * slope + (Number.isFinite(inter) ? inter : 0) : v;
  }
  const pd = header.pixDims;
  const sp = (k: number): number => {
    const v = Math.abs(pd[k] ?? 1);
    return Number.isFinite(v) && v > 0 ? v : 1;
  };
  return { nx, ny, nz, spacing: [sp(1), sp(2), sp(3)], data: out, datatype: code };
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
