// A direct PNG decoder for the files imports see most: 8-bit, not interlaced, grey / grey+alpha / RGB /
// RGBA (docs/security.md §4 Import budgets; docs/measured.md §11 for the speed). Chunks are walked
// and CRC-checked with Node's native zlib.crc32, the image data is inflated natively with its output
// bounded by the size the header declares, and the five PNG row filters (PNG spec §9: None, Sub, Up,
// Average, Paeth) are undone straight into the 1- or 3-channel raster, without the RGBA intermediate of
// a general decoder. It returns null for every other kind of PNG (16-bit, palette, sub-byte depths,
// interlaced), which the general decoder (pngjs) handles; on the files it takes, the pixels are
// exactly the general decoder's (PNG is lossless), which png-fast.test.ts checks filter by filter.
import { crc32, inflate, inflateSync } from 'node:zlib';
import { FedSegError } from '../../contract/errors.js';

export interface FastRaster {
  width: number;
  height: number;
  channels: 1 | 3;
  bitDepth: 8;
  data: Uint8Array;
}

/** Bytes per pixel for the colour types this decoder takes (8-bit samples). */
const BPP: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** A big-endian 32-bit field of a PNG (chunk lengths, CRCs, IHDR sizes). */
export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Whether this decoder takes a PNG, from its IHDR bytes (bit depth, colour type, compression, filter
 * and interlace methods at offsets 24-28 of the file): 8-bit grey/RGB(A), standard methods, no Adam7.
 */
export function decodesDirectly(b: Uint8Array): boolean {
  return b[24] === 8 && BPP[b[25]!] !== undefined && b[26] === 0 && b[27] === 0 && b[28] === 0;
}

function corrupt(file: string, why: string): FedSegError {
  return new FedSegError('CORRUPT_FILE', `${file}: unreadable PNG (${why})`);
}

/**
 * Undoes the row filters in place; `raw` holds height rows of (1 filter byte + stride bytes). Each
 * filter's first pixel (no left neighbour) and the first row (no row above) are handled apart, so the
 * inner loops have no bounds tests.
 */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number, file: string): void {
  const row = stride + 1;
  for (let y = 0; y < height; y++) {
    const o = y * row + 1;
    const p = o - row; // the previous row's first byte (only read when y > 0)
    const type = raw[o - 1]!;
    const first = y === 0;
    switch (type) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[o + i] = (raw[o + i]! + raw[o + i - bpp]!) & 255;
        break;
      case 2:
        if (!first) for (let i = 0; i < stride; i++) raw[o + i] = (raw[o + i]! + raw[p + i]!) & 255;
        break;
      case 3:
        if (first) {
          for (let i = bpp; i < stride; i++) raw[o + i] = (raw[o + i]! + (raw[o + i - bpp]! >> 1)) & 255;
        } else {
          for (let i = 0; i < bpp && i < stride; i++) raw[o + i] = (raw[o + i]! + (raw[p + i]! >> 1)) & 255;
          for (let i = bpp; i < stride; i++) raw[o + i] = (raw[o + i]! + ((raw[o + i - bpp]! + raw[p + i]!) >> 1)) & 255;
        }
        break;
      case 4:
        if (first) {
          // Up and up-left are 0, so the predictor is the left byte: the Sub filter.
          for (let i = bpp; i < stride; i++) raw[o + i] = (raw[o + i]! + raw[o + i - bpp]!) & 255;
        } else {
          // No left neighbour: a = c = 0, so the predictor is the byte above.
          for (let i = 0; i < bpp && i < stride; i++) raw[o + i] = (raw[o + i]! + raw[p + i]!) & 255;
          for (let i = bpp; i < stride; i++) {
            const a = raw[o + i - bpp]!, b = raw[p + i]!, c = raw[p + i - bpp]!;
            const pa = b > c ? b - c : c - b;
            const pb = a > c ? a - c : c - a;
            const t = a + b - 2 * c;
            const pc = t < 0 ? -t : t;
            raw[o + i] = (raw[o + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
          }
        }
        break;
      default:
        throw corrupt(file, `row ${y} has filter type ${type}`);
    }
  }
}

interface Parsed {
  width: number;
  height: number;
  colorType: number;
  bpp: number;
  stride: number;
  expected: number;
  idat: Uint8Array;
}

/** Checks the header kind and every chunk's CRC; null for the kinds this decoder does not take. */
function parse(buf: Uint8Array, file: string): Parsed | null {
  if (buf.length < 33 || !decodesDirectly(buf)) return null;
  const width = u32(buf, 16), height = u32(buf, 20);
  const colorType = buf[25]!;
  const bpp = BPP[colorType]!;
  const stride = width * bpp;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let o = 8; o + 12 <= buf.length;) {
    const len = u32(buf, o);
    if (o + 12 + len > buf.length) throw corrupt(file, 'a chunk runs past the end of the file');
    const body = buf.subarray(o + 4, o + 8 + len); // type + data, what the CRC covers
    if (crc32(body) >>> 0 !== u32(buf, o + 8 + len)) throw corrupt(file, `bad CRC in chunk ${String.fromCharCode(...body.subarray(0, 4))}`);
    const type = String.fromCharCode(body[0]!, body[1]!, body[2]!, body[3]!);
    if (type === 'IDAT') idat.push(body.subarray(4));
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    o += 12 + len;
  }
  if (idat.length === 0) throw corrupt(file, 'no image data');
  if (!ended) throw corrupt(file, 'no IEND chunk: the file is truncated');
  return { width, height, colorType, bpp, stride, expected: height * (stride + 1), idat: idat.length === 1 ? idat[0]! : Buffer.concat(idat) };
}

function inflateError(e: unknown, p: Parsed, file: string): FedSegError {
  if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return new FedSegError('CORRUPT_FILE', `${file}: PNG image data inflates to more than the ${p.expected} bytes its header declares`);
  }
  return corrupt(file, (e as Error).message);
}

/** Unfilters the inflated rows into the 1- or 3-channel raster. */
function finish(raw: Uint8Array, p: Parsed, file: string): FastRaster {
  const { width, height, colorType, bpp, stride, expected } = p;
  if (raw.length < expected) throw corrupt(file, `image data holds ${raw.length} of ${expected} bytes`);
  unfilter(raw, height, stride, bpp, file);
  const n = width * height;
  const row = stride + 1;
  if (colorType === 0 || colorType === 4) {
    const data = new Uint8Array(n);
    for (let y = 0, k = 0; y < height; y++) for (let x = 0, o = y * row + 1; x < width; x++, o += bpp) data[k++] = raw[o]!;
    return { width, height, channels: 1, bitDepth: 8, data };
  }
  // Colour files whose R = G = B everywhere come back as one channel, like every other decoded file.
  let grey = true;
  for (let y = 0; y < height && grey; y++) {
    for (let x = 0, o = y * row + 1; x < width; x++, o += bpp) {
      const r = raw[o]!;
      if (raw[o + 1] !== r || raw[o + 2] !== r) {
        grey = false;
        break;
      }
    }
  }
  const data = new Uint8Array(grey ? n : n * 3);
  if (grey) {
    for (let y = 0, k = 0; y < height; y++) for (let x = 0, o = y * row + 1; x < width; x++, o += bpp) data[k++] = raw[o]!;
    return { width, height, channels: 1, bitDepth: 8, data };
  }
  if (bpp === 3) {
    for (let y = 0; y < height; y++) data.set(raw.subarray(y * row + 1, y * row + 1 + stride), y * stride);
  } else {
    for (let y = 0, k = 0; y < height; y++) {
      for (let x = 0, o = y * row + 1; x < width; x++, o += 4) {
        data[k++] = raw[o]!;
        data[k++] = raw[o + 1]!;
        data[k++] = raw[o + 2]!;
      }
    }
  }
  return { width, height, channels: 3, bitDepth: 8, data };
}

/**
 * Decodes an 8-bit non-interlaced grey/RGB(A) PNG, or returns null when the file is another kind.
 * The caller has already checked the signature and the header's size against its limits.
 */
export function decodePngFast(buf: Uint8Array, file: string): FastRaster | null {
  const p = parse(buf, file);
  if (!p) return null;
  let raw: Uint8Array;
  try {
    raw = inflateSync(p.idat, { maxOutputLength: p.expected });
  } catch (e) {
    throw inflateError(e, p, file);
  }
  return finish(raw, p, file);
}

/**
 * decodePngFast with the inflate on libuv's thread pool, so an importer's next files inflate while the
 * calling thread writes the previous ones. Same result and errors.
 */
export async function decodePngFastAsync(buf: Uint8Array, file: string): Promise<FastRaster | null> {
  const p = parse(buf, file);
  if (!p) return null;
  const raw = await new Promise<Uint8Array>((res, rej) => {
    // One output chunk of the declared size: the default 16 KiB chunks cost a callback and a copy each on this thread.
    inflate(p.idat, { maxOutputLength: p.expected, chunkSize: Math.max(64, p.expected) }, (e, out) => (e ? rej(inflateError(e, p, file)) : res(out)));
  });
  return finish(raw, p, file);
}
