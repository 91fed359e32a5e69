// Image file codecs for the importers and thumbnails: PNG (8 and 16 bit, via pngjs)
// and baseline JPEG (via jpeg-js). Decoding returns the pixels with the file's real channel count
// (grey files, or colour files whose R = G = B everywhere, come back as one channel) so that mask
// conventions can check grey levels exactly. Every failure is a FedSegError naming the file.
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { FedSegError } from '../../contract/errors.js';

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

/** Decodes a PNG or JPEG file's bytes. `file` is only used in error messages. */
export function decodeImageFile(buf: Uint8Array, file: string): Raster {
  if (buf.length === 0) throw new FedSegError('CORRUPT_FILE', `${file}: file is empty`);
  if (isPng(buf)) {
    if (buf.length < 33) throw new FedSegError('CORRUPT_FILE', `${file}: truncated PNG header`);
    const w = ((buf[16]! << 24) | (buf[17]! << 16) | (buf[18]! << 8) | buf[19]!) >>> 0;
    const h = ((buf[20]! << 24) | (buf[21]! << 16) | (buf[22]! << 8) | buf[23]!) >>> 0;
    if (w < 1 || h < 1 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE) throw new FedSegError('CORRUPT_FILE', `${file}: PNG size ${w}x${h} is out of range (1..${MAX_IMAGE_SIDE})`);
    const depth = buf[24] === 16 ? 16 : 8;
    let png: { width: number; height: number; data: ArrayLike<number> };
    try {
      png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), { skipRescale: depth === 16 }) as unknown as typeof png;
    } catch (e) {
      throw new FedSegError('CORRUPT_FILE', `${file}: unreadable PNG (${(e as Error).message})`);
    }
    if (png.data.length < png.width * png.height * 4) throw new FedSegError('CORRUPT_FILE', `${file}: PNG pixel data is truncated`);
    return fromRgba(png.data, png.width, png.height, depth);
  }
  if (isJpeg(buf)) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 64, maxMemoryUsageInMB: 1024, tolerantDecoding: false });
    } catch (e) {
      throw new FedSegError('CORRUPT_FILE', `${file}: unreadable JPEG (${(e as Error).message})`);
    }
    return fromRgba(img.data, img.width, img.height, 8);
  }
  throw new FedSegError('UNSUPPORTED', `${file}: not a PNG or JPEG file`);
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
