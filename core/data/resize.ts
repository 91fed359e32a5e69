// Optional resizing to a model size on import: images bilinear, masks nearest, both with
// half-pixel centres (source coordinate = (dst + 0.5) * scale - 0.5, the convention of
// tf.image.resizeBilinear/resizeNearestNeighbor with halfPixelCenters = true), edges clamped.
import { FedSegError } from '../contract/errors.js';
import type { ImageF32, MaskU8 } from '../contract/image.js';

function checkSize(w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || w > 8192 || h > 8192) {
    throw new FedSegError('INVALID_ARGUMENT', `resize: target size must be integers in [1, 8192], got ${w}x${h}`);
  }
}

export function resizeImageBilinear(im: ImageF32, width: number, height: number): ImageF32 {
  checkSize(width, height);
  if (im.width === width && im.height === height) return { ...im, data: im.data.slice() };
  const c = im.channels;
  const out = new Float32Array(width * height * c);
  const sx = im.width / width;
  const sy = im.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(im.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(im.height - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(im.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(im.width - 1, x0 + 1);
      const tx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const a = im.data[(y0 * im.width + x0) * c + ch]!;
        const b = im.data[(y0 * im.width + x1) * c + ch]!;
        const d = im.data[(y1 * im.width + x0) * c + ch]!;
        const e = im.data[(y1 * im.width + x1) * c + ch]!;
        out[(y * width + x) * c + ch] = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
      }
    }
  }
  return { width, height, channels: c, data: out };
}

export function resizeMaskNearest(m: MaskU8, width: number, height: number): MaskU8 {
  checkSize(width, height);
  if (m.width === width && m.height === height) return { ...m, data: m.data.slice() };
  const k = m.classes;
  const out = new Uint8Array(width * height * k);
  const sx = m.width / width;
  const sy = m.height / height;
  for (let y = 0; y < height; y++) {
    const yy = Math.min(m.height - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < width; x++) {
      const xx = Math.min(m.width - 1, Math.floor((x + 0.5) * sx));
      for (let c = 0; c < k; c++) out[(y * width + x) * k + c] = m.data[(yy * m.width + xx) * k + c]!;
    }
  }
  return { width, height, classes: k, data: out };
}
