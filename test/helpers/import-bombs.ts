// Decompression bombs for the import-budget tests (docs/security.md §4 Import budgets), written
// without ever holding their decoded size: PNGs and NIfTI volumes whose zero pixels are streamed
// through zlib one row (or one megabyte) at a time, so a 8192x8192 PNG costs the test a few
// kilobytes of memory and ~65 KB of disk, while decoding it would cost hundreds of megabytes.
import { createDeflate, createGzip, crc32, type Deflate, type Gzip } from 'node:zlib';

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** Streams `total` zero bytes (after `head`) through a zlib stream and returns what it wrote. */
async function squeeze(z: Deflate | Gzip, total: number, head?: Buffer, block = 1 << 16): Promise<Buffer> {
  const parts: Buffer[] = [];
  z.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise<void>((r) => z.on('end', () => r()));
  if (head) z.write(head);
  const zeros = Buffer.alloc(block);
  for (let left = total; left > 0; left -= block) {
    if (!z.write(left >= block ? zeros : zeros.subarray(0, left))) await new Promise((r) => z.once('drain', r));
  }
  z.end();
  await done;
  return Buffer.concat(parts);
}

export interface ZeroPngOptions {
  /** 0 grey (default), 2 RGB. */
  colorType?: 0 | 2;
  /** Adam7 interlacing flag in IHDR. */
  interlaced?: boolean;
  /** Zero bytes in the image data stream (default: exactly what the header declares). */
  dataBytes?: number;
}

/** An all-zero 8-bit PNG of `w` x `h` (filter 0 rows), or a lying one when dataBytes is given. */
export async function zeroPng(w: number, h: number, o: ZeroPngOptions = {}): Promise<Buffer> {
  const ch = o.colorType === 2 ? 3 : 1;
  const data = o.dataBytes ?? (1 + w * ch) * h;
  const idat = await squeeze(createDeflate({ level: 9 }), data);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = o.colorType ?? 0;
  ihdr[12] = o.interlaced ? 1 : 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A NIfTI-1 header (352 bytes, little-endian, single file) declaring nx x ny x nz voxels. */
export function niftiHeader(nx: number, ny: number, nz: number, datatype = 4, bitpix = 16): Buffer {
  const hdr = Buffer.alloc(352);
  hdr.writeInt32LE(348, 0);
  [3, nx, ny, nz, 1, 1, 1, 1].forEach((d, i) => hdr.writeInt16LE(d, 40 + 2 * i));
  hdr.writeInt16LE(datatype, 70);
  hdr.writeInt16LE(bitpix, 72);
  [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => hdr.writeFloatLE(p, 76 + 4 * i));
  hdr.writeFloatLE(352, 108);
  hdr.writeFloatLE(1, 112);
  hdr.write('n+1\0', 344, 'latin1');
  return hdr;
}

/**
 * A .nii.gz whose header declares nx x ny x nz int16 voxels, followed by `voxelBytes` zero bytes
 * (default: exactly the declared voxel block, i.e. an honest all-zero volume).
 */
export async function zeroNiftiGz(nx: number, ny: number, nz: number, voxelBytes = nx * ny * nz * 2): Promise<Buffer> {
  return squeeze(createGzip({ level: 9 }), voxelBytes, niftiHeader(nx, ny, nz), 1 << 20);
}
