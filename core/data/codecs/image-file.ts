// Image file codecs for the importers and thumbnails: PNG (8-bit grey/RGB(A) directly in png-fast.ts;
// 16-bit, palette and interlaced via pngjs)
// and baseline JPEG (via jpeg-js). Decoding returns the pixels with the file's real channel count
// (grey files, or colour files whose R = G = B everywhere, come back as one channel) so that mask
// conventions can check grey levels exactly. Every failure is a FedSegError naming the file.
// The size a file declares (PNG IHDR, JPEG SOF) is read and checked against the per-file limits
// before anything is decoded (docs/security.md §4 Import budgets): a 65 KB all-zero PNG can
// declare 8192x8192 pixels, and decoding it costs hundreds of megabytes.
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { FedSegError } from '../../contract/errors.js';
import { checkFileBytes, checkImageSize, DEFAULT_DECODE_LIMITS, formatBytes, type DecodeLimits } from './decode-limits.js';
import { openRegularFile, readAt } from './file-read.js';
import { decodePngFast, decodePngFastAsync, decodesDirectly, u32 } from './png-fast.js';

export interface Raster {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB); alpha is dropped. */
  channels: 1 | 3;
  /** 8 or 16 (16-bit PNG keeps its full range). */
  bitDepth: 8 | 16;
  /** HWC, row-major. */
  data: Uint8Array | Uint16Array;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(buf: Uint8Array): boolean {
  return buf.length >= 8 && PNG_SIG.every((v, i) => buf[i] === v);
}

export function isJpeg(buf: Uint8Array): boolean {
  return buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

/** Largest image side accepted (guards memory against hostile headers). */
export const MAX_IMAGE_SIDE = 8192;

function fromRgba(rgba: ArrayLike<number>, width: number, height: number, bitDepth: 8 | 16): Raster {
  const n = width * height;
  let grey = true;
  for (let i = 0; i < n && grey; i++) {
    const r = rgba[i * 4]!;
    if (rgba[i * 4 + 1] !== r || rgba[i * 4 + 2] !== r) grey = false;
  }
  const Ctor = bitDepth === 16 ? Uint16Array : Uint8Array;
  if (grey) {
    const data = new Ctor(n);
    for (let i = 0; i < n; i++) data[i] = rgba[i * 4]!;
    return { width, height, channels: 1, bitDepth, data };
  }
  const data = new Ctor(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = rgba[i * 4]!;
    data[i * 3 + 1] = rgba[i * 4 + 1]!;
    data[i * 3 + 2] = rgba[i * 4 + 2]!;
  }
  return { width, height, channels: 3, bitDepth, data };
}

/** What a PNG or JPEG header declares, read without decoding any pixel. */
export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /** Channels the decoded raster can have at most (grey and grey+alpha: 1; colour and palette: 3). */
  channels: 1 | 3;
  bitDepth: 8 | 16;
  /** PNG Adam7 interlacing. */
  interlaced: boolean;
  /** Decoded by png-fast.ts (8-bit grey/RGB(A), not interlaced), which is ~4x faster than the general decoders. */
  direct: boolean;
}

/** Bytes of the raster a file with this header decodes to, at most (Raster.data.byteLength). */
export function rasterBytes(h: ImageHeader): number {
  return h.width * h.height * h.channels * (h.bitDepth / 8);
}


function pngHeader(b: Uint8Array, file: string): ImageHeader {
  if (b.length < 29 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR') throw new FedSegError('CORRUPT_FILE', `${file}: truncated PNG header`);
  const width = u32(b, 16);
  const height = u32(b, 20);
  if (width < 1 || height < 1 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) throw new FedSegError('CORRUPT_FILE', `${file}: PNG size ${width}x${height} is out of range (1..${MAX_IMAGE_SIDE})`);
  const colorType = b[25]!;
  return { format: 'png', width, height, channels: colorType === 0 || colorType === 4 ? 1 : 3, bitDepth: b[24] === 16 ? 16 : 8, interlaced: b[28] === 1, direct: decodesDirectly(b) };
}

// JPEG markers carrying a frame header (SOF0..SOF15 except DHT C4, JPG C8, DAC CC).
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
// Markers without a length field: TEM, RST0..7, SOI.
const standalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd8);

/** Thrown by a byte source that does not hold the bytes asked for yet: which window to read. */
class NeedWindow {
  constructor(readonly window: number) {}
}

/**
 * Walks JPEG segments up to the frame header (SOFn) and returns what it declares. `get(pos, len)`
 * returns the bytes there (fewer at the end of the file) or throws NeedWindow; the walk touches a few
 * bytes per segment, so a file handle only has to read the windows those bytes are in.
 */
function walkJpeg(get: (pos: number, len: number) => Uint8Array, file: string): ImageHeader {
  const bad = (why: string): FedSegError => new FedSegError('CORRUPT_FILE', `${file}: unreadable JPEG (${why})`);
  let pos = 2;
  for (let seg = 0; seg < 4096; seg++) {
    const m = get(pos, 4);
    if (m.length < 2 || m[0] !== 0xff) throw bad('no frame header before the end of the file');
    const marker = m[1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (standalone(marker)) {
      pos += 2;
      continue;
    }
    if (m.length < 4) throw bad('truncated segment');
    const len = (m[2]! << 8) | m[3]!;
    if (len < 2) throw bad('bad segment length');
    if (isSof(marker)) {
      const f = get(pos + 4, 6);
      if (f.length < 6) throw bad('truncated frame header');
      const height = (f[1]! << 8) | f[2]!;
      const width = (f[3]! << 8) | f[4]!;
      if (width < 1 || height < 1) throw new FedSegError('UNSUPPORTED', `${file}: JPEG declares size ${width}x${height} (a height given after the scan is not supported)`);
      return { format: 'jpeg', width, height, channels: f[5] === 1 ? 1 : 3, bitDepth: 8, interlaced: false, direct: false };
    }
    if (marker === 0xda || marker === 0xd9) throw bad('no frame header before the scan');
    pos += 2 + len;
  }
  throw bad('too many segments before the frame header');
}

function notImage(file: string): FedSegError {
  return new FedSegError('UNSUPPORTED', `${file}: not a PNG or JPEG file`);
}

/** The header of a PNG or JPEG held in memory, without decoding it. */
export function readImageHeader(buf: Uint8Array, file: string): ImageHeader {
  if (buf.length === 0) throw new FedSegError('CORRUPT_FILE', `${file}: file is empty`);
  if (isPng(buf)) return pngHeader(buf, file);
  if (isJpeg(buf)) return walkJpeg((p, l) => buf.subarray(p, p + l), file);
  throw notImage(file);
}

const WINDOW = 4096;
/** Windows a JPEG probe may read (each a restart of the walk) before giving up on its frame header. */
const MAX_WINDOWS = 256;

/**
 * Reads a PNG/JPEG file's header only (the first 4 KiB; for a JPEG also the 4 KiB windows its later
 * segment headers are in) and refuses it when it is not a regular file or is over the per-file
 * limits; returns the header and the file's size on disk.
 */
export async function probeImageFile(file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<ImageHeader & { fileBytes: number }> {
  const { fh, size } = await openRegularFile(file);
  try {
    checkFileBytes(file, size, limits, ' on disk');
    const windows = new Map<number, Buffer>([[0, await readAt(fh, 0, WINDOW)]]);
    const head = windows.get(0)!;
    if (head.length === 0) throw new FedSegError('CORRUPT_FILE', `${file}: file is empty`);
    const get = (pos: number, len: number): Uint8Array => {
      const parts: Uint8Array[] = [];
      for (let w = Math.floor(pos / WINDOW); w * WINDOW < pos + len && w * WINDOW < size; w++) {
        const win = windows.get(w);
        if (!win) throw new NeedWindow(w);
        parts.push(win);
      }
      const first = Math.floor(pos / WINDOW) * WINDOW;
      return Buffer.concat(parts).subarray(pos - first, pos - first + len);
    };
    let h: ImageHeader | null = null;
    while (!h) {
      try {
        h = readImageHeaderFrom(head, get, file);
      } catch (e) {
        if (!(e instanceof NeedWindow)) throw e;
        if (windows.size >= MAX_WINDOWS) throw new FedSegError('CORRUPT_FILE', `${file}: unreadable JPEG (no frame header within ${MAX_WINDOWS} reads of ${formatBytes(WINDOW)})`);
        windows.set(e.window, await readAt(fh, e.window * WINDOW, WINDOW));
      }
    }
    checkImageSize(file, h.width, h.height, limits);
    return { ...h, fileBytes: size };
  } finally {
    await fh.close();
  }
}

function readImageHeaderFrom(head: Uint8Array, get: (pos: number, len: number) => Uint8Array, file: string): ImageHeader {
  if (isPng(head)) return pngHeader(head, file);
  if (isJpeg(head)) return walkJpeg(get, file);
  throw notImage(file);
}

/** Bytes an Adam7-interlaced PNG's image data inflates to (seven passes of filtered rows), from its header. */
function adam7InflatedSize(w: number, h: number, samplesPerPixel: number, depth: number): number {
  const row = (pw: number): number => 1 + Math.ceil((pw * samplesPerPixel * depth) / 8);
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
  let n = 0;
  for (const [xs, ys, dx, dy] of passes) {
    const pw = w > xs ? Math.ceil((w - xs) / dx) : 0;
    const ph = h > ys ? Math.ceil((h - ys) / dy) : 0;
    if (pw > 0 && ph > 0) n += ph * row(pw);
  }
  return n;
}

/**
 * pngjs bounds its inflate by the header's size for non-interlaced images only; for interlaced ones
 * the image data is inflated here first with that bound, so a lying stream stops at the size declared.
 */
function checkInterlacedInflate(buf: Uint8Array, file: string, h: ImageHeader): void {
  const spp = [1, 0, 3, 1, 2, 0, 4][buf[25]!] ?? 4;
  const parts: Uint8Array[] = [];
  for (let o = 8; o + 8 <= buf.length;) {
    const len = u32(buf, o);
    const type = String.fromCharCode(buf[o + 4]!, buf[o + 5]!, buf[o + 6]!, buf[o + 7]!);
    if (type === 'IDAT') parts.push(buf.subarray(o + 8, Math.min(buf.length, o + 8 + len)));
    if (type === 'IEND') break;
    o += 12 + len;
  }
  const expected = adam7InflatedSize(h.width, h.height, spp, buf[24]!);
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: Math.max(1, expected) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new FedSegError('CORRUPT_FILE', `${file}: PNG image data inflates to more than the ${expected} bytes its header declares`);
    throw new FedSegError('CORRUPT_FILE', `${file}: unreadable PNG (${(e as Error).message})`);
  }
}

/**
 * Decodes a PNG or JPEG file's bytes. `file` is only used in error messages. The header's size is
 * checked against `limits` before any pixel is decoded.
 */
export function decodeImageFile(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Raster {
  if (buf.length === 0) throw new FedSegError('CORRUPT_FILE', `${file}: file is empty`);
  if (isPng(buf)) {
    if (buf.length < 33) throw new FedSegError('CORRUPT_FILE', `${file}: truncated PNG header`);
    const h = pngHeader(buf, file);
    checkImageSize(file, h.width, h.height, limits);
    // The common 8-bit kinds directly (same pixels, ~4x faster); pngjs for the rest.
    const fast = decodePngFast(buf, file);
    if (fast) return fast;
    if (h.interlaced) checkInterlacedInflate(buf, file, h);
    let png: { width: number; height: number; data: ArrayLike<number> };
    try {
      png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), { skipRescale: h.bitDepth === 16 }) as unknown as typeof png;
    } catch (e) {
      throw new FedSegError('CORRUPT_FILE', `${file}: unreadable PNG (${(e as Error).message})`);
    }
    if (png.data.length < png.width * png.height * 4) throw new FedSegError('CORRUPT_FILE', `${file}: PNG pixel data is truncated`);
    return fromRgba(png.data, png.width, png.height, h.bitDepth);
  }
  if (isJpeg(buf)) {
    const h = walkJpeg((p, l) => buf.subarray(p, p + l), file);
    checkImageSize(file, h.width, h.height, limits);
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: limits.maxMegapixels, maxMemoryUsageInMB: 1024, tolerantDecoding: false });
    } catch (e) {
      throw new FedSegError('CORRUPT_FILE', `${file}: unreadable JPEG (${(e as Error).message})`);
    }
    return fromRgba(img.data, img.width, img.height, 8);
  }
  throw notImage(file);
}

/**
 * decodeImageFile, with a common 8-bit PNG's inflate off the calling thread (png-fast.ts); other files
 * decode synchronously as in decodeImageFile. Same results, limits and errors.
 */
export async function decodeImageFileAsync(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<Raster> {
  if (buf.length >= 33 && isPng(buf)) {
    const h = pngHeader(buf, file);
    checkImageSize(file, h.width, h.height, limits);
    const fast = await decodePngFastAsync(buf, file);
    if (fast) return fast;
  }
  return decodeImageFile(buf, file, limits);
}

/** Encodes 8-bit grey (1), RGB (3) or RGBA (4) HWC pixels as PNG. */
export function encodePng(width: number, height: number, channels: 1 | 3 | 4, data: Uint8Array, opts: { fast?: boolean } = {}): Buffer {
  if (data.length !== width * height * channels) {
    throw new FedSegError('SHAPE_MISMATCH', `encodePng: ${data.length} bytes for ${width}x${height}x${channels}`);
  }
  const png = new PNG({ width, height, colorType: channels === 1 ? 0 : channels === 3 ? 2 : 6, inputColorType: channels === 1 ? 0 : channels === 3 ? 2 : 6, inputHasAlpha: channels === 4, bitDepth: 8 } as ConstructorParameters<typeof PNG>[0]);
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return PNG.sync.write(png, {
    colorType: channels === 1 ? 0 : channels === 3 ? 2 : 6,
    inputColorType: channels === 1 ? 0 : channels === 3 ? 2 : 6,
    inputHasAlpha: channels === 4,
    deflateLevel: opts.fast ? 1 : 6,
  } as Parameters<typeof PNG.sync.write>[1]);
}
