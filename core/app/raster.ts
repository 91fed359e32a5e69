// Conversions from engine values (ImageF32, MaskU8, float arrays) to the display values of the app API
// (8-bit Raster, MaskView, FloatField, histogram bins). Fundus/RGB images already hold 0..255 and are
// shown as they are; anything else (z-scored MRI, microscopy) is stretched from its 1st to 99th
// percentile, which is what viewers such as ITK-SNAP do by default.
import type { ImageF32, MaskU8 } from '../contract/image.js';
import type { FloatField, MaskView, Raster } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';

function percentiles(data: Float32Array, lo: number, hi: number): [number, number] {
  const step = Math.max(1, Math.floor(data.length / 20000));
  const s: number[] = [];
  for (let i = 0; i < data.length; i += step) s.push(data[i]!);
  s.sort((a, b) => a - b);
  return [s[Math.floor(lo * (s.length - 1))]!, s[Math.floor(hi * (s.length - 1))]!];
}

/** Display range of an image: [0, 255] for 8-bit-like data, else the 1st..99th percentile. */
export function displayRange(img: ImageF32): [number, number] {
  let mn = Infinity;
  let mx = -Infinity;
  for (const v of img.data) {
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (mn >= 0 && mx <= 255 && mx > 1.5) return [0, 255];
  const [a, b] = percentiles(img.data, 0.01, 0.99);
  return b > a ? [a, b] : [mn, mx > mn ? mx : mn + 1];
}

export function imageToRaster(img: ImageF32, range: [number, number] = displayRange(img)): Raster {
  if (img.channels !== 1 && img.channels !== 3 && img.channels !== 4)
    throw new FedSegError('UNSUPPORTED', `cannot display an image with ${img.channels} channels (1, 3 or 4 expected)`);
  const [lo, hi] = range;
  const scale = 255 / (hi - lo || 1);
  const pixels = new Uint8Array(img.data.length);
  for (let i = 0; i < img.data.length; i++) pixels[i] = Math.max(0, Math.min(255, Math.round((img.data[i]! - lo) * scale)));
  return { width: img.width, height: img.height, channels: img.channels as 1 | 3 | 4, pixels };
}

/** Nearest-neighbour downscale so the longer side is at most maxSide (thumbnails). */
export function shrinkRaster(r: Raster, maxSide: number): Raster {
  const f = Math.max(r.width, r.height) / maxSide;
  if (f <= 1) return r;
  const w = Math.max(1, Math.round(r.width / f));
  const h = Math.max(1, Math.round(r.height / f));
  const out = new Uint8Array(w * h * r.channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sy = Math.min(r.height - 1, Math.floor(y * f));
      const sx = Math.min(r.width - 1, Math.floor(x * f));
      for (let c = 0; c < r.channels; c++) out[(y * w + x) * r.channels + c] = r.pixels[(sy * r.width + sx) * r.channels + c]!;
    }
  return { width: w, height: h, channels: r.channels, pixels: out };
}

/** The mask at shrinkRaster's size and sampling, so a thumbnail overlay lines up with its picture. */
export function shrinkMask(m: MaskView, maxSide: number): MaskView {
  const f = Math.max(m.width, m.height) / maxSide;
  if (f <= 1) return m;
  const w = Math.max(1, Math.round(m.width / f));
  const h = Math.max(1, Math.round(m.height / f));
  const k = m.classes;
  const out = new Uint8Array(w * h * k);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sy = Math.min(m.height - 1, Math.floor(y * f));
      const sx = Math.min(m.width - 1, Math.floor(x * f));
      for (let c = 0; c < k; c++) out[(y * w + x) * k + c] = m.data[(sy * m.width + sx) * k + c]!;
    }
  return { width: w, height: h, classes: k, data: out };
}

export function maskToView(m: MaskU8): MaskView {
  return { width: m.width, height: m.height, classes: m.classes, data: m.data };
}

export function toFloatField(width: number, height: number, data: Float32Array): FloatField {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) min = max = 0;
  return { width, height, data, min, max };
}

export function histogramOf(data: Float32Array, bins: number): { from: number; to: number; count: number }[] {
  const f = toFloatField(1, 1, data);
  const span = f.max - f.min || 1;
  const out = Array.from({ length: bins }, (_, i) => ({ from: f.min + (span * i) / bins, to: f.min + (span * (i + 1)) / bins, count: 0 }));
  for (const v of data) {
    if (!Number.isFinite(v)) continue;
    out[Math.min(bins - 1, Math.floor(((v - f.min) / span) * bins))]!.count++;
  }
  return out;
}

/** One channel-major window (C x (2b+1)^2) shown as one picture: channels averaged. */
export function windowToField(channels: number, halfWidth: number, data: Float32Array, log = true): FloatField {
  const s = 2 * halfWidth + 1;
  const out = new Float32Array(s * s);
  for (let c = 0; c < channels; c++) for (let i = 0; i < s * s; i++) out[i]! += data[c * s * s + i]! / channels;
  if (log) for (let i = 0; i < out.length; i++) out[i] = Math.log1p(Math.max(0, out[i]!));
  return toFloatField(s, s, out);
}
