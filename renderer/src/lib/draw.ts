// Pixel helpers for the viewer: 8-bit rasters to RGBA, mask overlays (fill or outline, per-class
// colours, per-class visibility), the error map of a prediction against its reference mask, the
// reference contour, colour maps for heat maps (rate field, spectra) and histograms.
// Pure functions over typed arrays so they are unit-tested in Node (draw.test.ts).
import type { FloatField, MaskView, Raster } from '../../../core/contract/app-api.js';

export type RGB = [number, number, number];

/** Class colours, chosen to stay distinct on fundus (orange) and grey MRI backgrounds. */
export const CLASS_COLOURS: readonly RGB[] = [
  [0, 220, 120],
  [80, 140, 255],
  [255, 60, 200],
  [255, 220, 0],
  [0, 220, 255],
  [255, 120, 40],
];

export function classColour(c: number): RGB {
  return CLASS_COLOURS[c % CLASS_COLOURS.length]!;
}

export function cssColour(c: RGB): string {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Grey, RGB or RGBA 8-bit raster -> RGBA (opaque). */
export function rasterToRgba(r: Raster): Uint8ClampedArray<ArrayBuffer> {
  const n = r.width * r.height;
  const out = new Uint8ClampedArray(n * 4);
  const p = r.pixels;
  for (let i = 0; i < n; i++) {
    if (r.channels === 1) {
      const v = p[i]!;
      out[4 * i] = v;
      out[4 * i + 1] = v;
      out[4 * i + 2] = v;
    } else {
      out[4 * i] = p[i * r.channels]!;
      out[4 * i + 1] = p[i * r.channels + 1]!;
      out[4 * i + 2] = p[i * r.channels + 2]!;
    }
    out[4 * i + 3] = 255;
  }
  return out;
}

/** Pixels of channel c that touch a pixel outside it (4-neighbourhood; the image border counts as outside). */
export function outlineOf(mask: MaskView, c: number): Uint8Array {
  const { width: w, height: h, classes: k, data } = mask;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : data[(y * w + x) * k + c]!);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (!at(x, y)) continue;
      if (!at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1)) out[y * w + x] = 1;
    }
  return out;
}

export interface OverlayStyle {
  mode: 'fill' | 'outline';
  /** Per-class visibility; missing entries count as visible. */
  visible?: boolean[];
  colours?: readonly RGB[];
}

/**
 * The overlay as RGBA with alpha 255 where a visible class is drawn and 0 elsewhere; the caller applies
 * the opacity (canvas globalAlpha). Later classes paint over earlier ones (cup over disc).
 */
export function maskOverlayRgba(mask: MaskView, style: OverlayStyle): Uint8ClampedArray<ArrayBuffer> {
  const { width: w, height: h, classes: k } = mask;
  const out = new Uint8ClampedArray(w * h * 4);
  for (let c = 0; c < k; c++) {
    if (style.visible && style.visible[c] === false) continue;
    const col = style.colours?.[c] ?? classColour(c);
    const src = style.mode === 'outline' ? outlineOf(mask, c) : null;
    for (let i = 0; i < w * h; i++) {
      const on = src ? src[i] : mask.data[i * k + c];
      if (!on) continue;
      out[4 * i] = col[0];
      out[4 * i + 1] = col[1];
      out[4 * i + 2] = col[2];
      out[4 * i + 3] = 255;
    }
  }
  return out;
}

/** Colours of the error map per class: false positives warm, false negatives cool, each class its own pair. */
export const ERROR_COLOURS: readonly { fp: RGB; fn: RGB }[] = [
  { fp: [255, 64, 64], fn: [40, 130, 255] },
  { fp: [255, 200, 0], fn: [0, 230, 230] },
  { fp: [255, 60, 220], fn: [120, 255, 120] },
];

export function errorColours(c: number): { fp: RGB; fn: RGB } {
  return ERROR_COLOURS[c % ERROR_COLOURS.length]!;
}

/**
 * Where a prediction disagrees with its reference, per class: false positives (predicted, not in the
 * reference) and false negatives (in the reference, missed) in the class's error colours; agreement
 * stays transparent so the image shows through. Later classes paint over earlier ones, as in the
 * overlay. Both masks must have the same size; classes beyond the shorter mask are not compared.
 */
export function errorMapRgba(pred: MaskView, ref: MaskView, visible?: boolean[]): Uint8ClampedArray<ArrayBuffer> {
  if (pred.width !== ref.width || pred.height !== ref.height)
    throw new Error(`error map: prediction ${pred.width}x${pred.height} and reference ${ref.width}x${ref.height} differ in size`);
  const n = pred.width * pred.height;
  const k = Math.min(pred.classes, ref.classes);
  const out = new Uint8ClampedArray(n * 4);
  for (let c = 0; c < k; c++) {
    if (visible && visible[c] === false) continue;
    const { fp, fn } = errorColours(c);
    for (let i = 0; i < n; i++) {
      const p = pred.data[i * pred.classes + c];
      const r = ref.data[i * ref.classes + c];
      if (!p === !r) continue;
      const col = p ? fp : fn;
      out[4 * i] = col[0];
      out[4 * i + 1] = col[1];
      out[4 * i + 2] = col[2];
      out[4 * i + 3] = 255;
    }
  }
  return out;
}

/** The reference contour's colour: white reads on fundus, MRI and on every class colour of the overlay. */
export const CONTOUR_COLOUR: RGB = [255, 255, 255];

/** The boundary of every visible class of a mask in one colour (a contour drawn over another overlay). */
export function contourRgba(mask: MaskView, visible?: boolean[], colour: RGB = CONTOUR_COLOUR): Uint8ClampedArray<ArrayBuffer> {
  return maskOverlayRgba(mask, { mode: 'outline', ...(visible ? { visible } : {}), colours: Array.from({ length: mask.classes }, () => colour) });
}

/** Fraction of pixels set, per class. */
export function maskFractions(mask: MaskView): number[] {
  const n = mask.width * mask.height;
  const out = new Array<number>(mask.classes).fill(0);
  for (let i = 0; i < n; i++) for (let c = 0; c < mask.classes; c++) out[c]! += mask.data[i * mask.classes + c]!;
  return out.map((v) => v / n);
}

// Inferno-like colour map from 6 anchors (perceptually ordered dark -> bright).
const ANCHORS: RGB[] = [
  [0, 0, 4],
  [66, 10, 104],
  [147, 38, 103],
  [221, 81, 58],
  [252, 165, 10],
  [252, 255, 164],
];

export function heatColour(t: number): RGB {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (ANCHORS.length - 1);
  const i = Math.min(ANCHORS.length - 2, Math.floor(x));
  const f = x - i;
  const a = ANCHORS[i]!;
  const b = ANCHORS[i + 1]!;
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** A float field through the heat colour map, scaled from [min, max] (the field's own range by default). */
export function fieldToRgba(f: FloatField, range?: [number, number]): Uint8ClampedArray<ArrayBuffer> {
  const [lo, hi] = range ?? [f.min, f.max];
  const span = hi - lo || 1;
  const out = new Uint8ClampedArray(f.width * f.height * 4);
  for (let i = 0; i < f.width * f.height; i++) {
    const c = heatColour((f.data[i]! - lo) / span);
    out[4 * i] = c[0];
    out[4 * i + 1] = c[1];
    out[4 * i + 2] = c[2];
    out[4 * i + 3] = 255;
  }
  return out;
}

/** The centred square of half-width b in a w x h fftshifted spectrum: [x0, y0, size]. */
export function centredWindow(width: number, height: number, halfWidth: number): [number, number, number] {
  const cx = Math.floor(width / 2);
  const cy = Math.floor(height / 2);
  return [cx - halfWidth, cy - halfWidth, 2 * halfWidth + 1];
}

export interface Bin {
  from: number;
  to: number;
  count: number;
}

export function histogram(data: ArrayLike<number>, bins: number, range?: [number, number]): Bin[] {
  let lo = range?.[0] ?? Infinity;
  let hi = range?.[1] ?? -Infinity;
  if (!range)
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const span = hi - lo || 1;
  const out: Bin[] = Array.from({ length: bins }, (_, i) => ({ from: lo + (span * i) / bins, to: lo + (span * (i + 1)) / bins, count: 0 }));
  for (let i = 0; i < data.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((data[i]! - lo) / span) * bins)));
    out[b]!.count++;
  }
  return out;
}

/** Formats bytes for people: 1.2 kB, 3.4 MB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '—';
  if (sec < 60) return `${Math.round(sec)} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
}
