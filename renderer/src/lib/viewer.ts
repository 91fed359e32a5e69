// Viewer geometry, window/level and the value readout: where an image lands on the canvas at a zoom and
// pan, which image pixel lies under a canvas point, what the image, masks and float fields hold there,
// and the display mapping of 8-bit values through a window/level. Pure functions over typed arrays so
// they are unit-tested in Node (viewer.test.ts); the components only wire them to pointer events.
import type { FloatField, MaskView, Raster } from '../../../core/contract/app-api.js';

// ---------- geometry ----------

export interface Pan {
  x: number;
  y: number;
}

/** Canvas pixel = image pixel * scale + (tx, ty). */
export interface ViewTransform {
  scale: number;
  tx: number;
  ty: number;
}

export const MIN_ZOOM = 0.5;
export const MAX_ZOOM = 16;

export function clampZoom(z: number): number {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
}

/**
 * The image fitted into a size x size canvas (its longer side fills it at zoom 1), centred, scaled by
 * zoom about the centre and shifted by pan (canvas pixels).
 */
export function viewTransform(size: number, width: number, height: number, zoom: number, pan: Pan): ViewTransform {
  const scale = (size / Math.max(width, height)) * zoom;
  return { scale, tx: size / 2 + pan.x - (width * scale) / 2, ty: size / 2 + pan.y - (height * scale) / 2 };
}

/** The image pixel under canvas point (cx, cy), or null when the point is outside the image. */
export function canvasToImage(t: ViewTransform, width: number, height: number, cx: number, cy: number): { x: number; y: number } | null {
  const x = Math.floor((cx - t.tx) / t.scale);
  const y = Math.floor((cy - t.ty) / t.scale);
  return x >= 0 && y >= 0 && x < width && y < height ? { x, y } : null;
}

// ---------- window / level ----------

export interface WindowLevel {
  window: number;
  level: number;
}

export type WlPreset = 'full' | 'auto' | 'strong' | 'minmax' | 'manual';

export interface WindowLevelState extends WindowLevel {
  /** How the window was chosen: a preset is recomputed for every new image, 'manual' is kept. */
  preset: WlPreset;
}

/** Percentile ranges of the automatic presets (the 'full' preset is the whole 8-bit range). */
export const WL_PRESETS: readonly { id: Exclude<WlPreset, 'manual'>; label: string; percentiles: [number, number] | null }[] = [
  { id: 'full', label: 'Full range', percentiles: null },
  { id: 'auto', label: 'Auto (1–99 %)', percentiles: [1, 99] },
  { id: 'strong', label: 'High contrast (5–95 %)', percentiles: [5, 95] },
  { id: 'minmax', label: 'Image min–max', percentiles: [0, 100] },
];

/** The identity mapping of 8-bit data: every stored value is shown as itself. */
export const FULL_RANGE: WindowLevel = { window: 256, level: 128 };

/** Whole-number windows and half-step levels (a range's centre is often x.5) within sane bounds for 8-bit data. */
export function clampWindowLevel(wl: WindowLevel): WindowLevel {
  return { window: Math.round(Math.min(1024, Math.max(1, wl.window))), level: Math.round(2 * Math.min(767, Math.max(-512, wl.level))) / 2 };
}

/**
 * Display value of each stored 8-bit value for a window width W and centre (level) C, the linear VOI
 * function of DICOM PS3.3 C.11.2.1.2.1: values at or below C - 0.5 - (W-1)/2 are black, above
 * C - 0.5 + (W-1)/2 white, linear between. With this definition W 256 L 128 is exactly the identity.
 */
export function windowLut(wl: WindowLevel): Uint8Array {
  const w = Math.max(1, wl.window);
  const c = wl.level;
  const lo = c - 0.5 - (w - 1) / 2;
  const hi = c - 0.5 + (w - 1) / 2;
  const lut = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    if (x <= lo) lut[x] = 0;
    else if (x > hi) lut[x] = 255;
    else lut[x] = Math.round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);
  }
  return lut;
}

/** RGBA pixels with every colour channel passed through the window (alpha kept); a new array. */
export function applyWindowLevel(rgba: Uint8ClampedArray, wl: WindowLevel): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(rgba.length);
  const lut = windowLut(wl);
  for (let i = 0; i < rgba.length; i += 4) {
    out[i] = lut[rgba[i]!]!;
    out[i + 1] = lut[rgba[i + 1]!]!;
    out[i + 2] = lut[rgba[i + 2]!]!;
    out[i + 3] = rgba[i + 3]!;
  }
  return out;
}

/**
 * Nearest-rank percentiles (0..100) of the colour values of a raster, all colour channels pooled (so
 * one window suits grey and colour images alike; an alpha channel is not image data).
 */
export function rasterPercentiles(r: Raster, ps: readonly number[]): number[] {
  const counts = new Float64Array(256);
  const colourChannels = r.channels === 4 ? 3 : r.channels;
  const n = r.width * r.height;
  for (let i = 0; i < n; i++) for (let c = 0; c < colourChannels; c++) counts[r.pixels[i * r.channels + c]!]!++;
  const total = n * colourChannels;
  return ps.map((p) => {
    const rank = Math.min(total, Math.max(1, Math.ceil((p / 100) * total)));
    let cum = 0;
    for (let v = 0; v < 256; v++) {
      cum += counts[v]!;
      if (cum >= rank) return v;
    }
    return 255;
  });
}

/** The window that shows stored values lo..hi exactly as black..white (the inverse of windowLut's ends). */
export function windowFromRange(lo: number, hi: number): WindowLevel {
  const a = Math.min(lo, hi);
  const b = Math.max(lo, hi);
  return { window: b - a + 1, level: (a + b + 1) / 2 };
}

export function presetWindow(r: Raster | null, preset: WlPreset, current: WindowLevel = FULL_RANGE): WindowLevel {
  if (preset === 'manual') return current;
  const spec = WL_PRESETS.find((p) => p.id === preset);
  if (!spec?.percentiles || !r) return FULL_RANGE;
  const [lo, hi] = rasterPercentiles(r, spec.percentiles);
  return windowFromRange(lo!, hi!);
}

const oneDecimal = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** The viewer's readout, "W 256 L 128" (a half-step level shows as 120.5). */
export function formatWindowLevel(wl: WindowLevel): string {
  return `W ${oneDecimal(Math.round(wl.window))} L ${oneDecimal(Math.round(2 * wl.level) / 2)}`;
}

// ---------- values under the cursor ----------

/** The stored values of pixel (x, y): one for grey, three for RGB, four for RGBA. */
export function pixelValues(r: Raster, x: number, y: number): number[] {
  const i = (y * r.width + x) * r.channels;
  return Array.from(r.pixels.subarray(i, i + r.channels));
}

/** Indices of the classes set at (x, y) in a multi-label mask. */
export function labelsAt(m: MaskView, x: number, y: number): number[] {
  if (x < 0 || y < 0 || x >= m.width || y >= m.height) return [];
  const out: number[] = [];
  for (let c = 0; c < m.classes; c++) if (m.data[(y * m.width + x) * m.classes + c]) out.push(c);
  return out;
}

/**
 * The field value over image pixel (x, y) of a width x height image; a field of another size is
 * stretched over the image as the viewer draws it (nearest sample).
 */
export function fieldAt(f: FloatField, width: number, height: number, x: number, y: number): number {
  const fx = Math.min(f.width - 1, Math.floor(((x + 0.5) * f.width) / width));
  const fy = Math.min(f.height - 1, Math.floor(((y + 0.5) * f.height) / height));
  return f.data[fy * f.width + fx]!;
}

export interface Readout {
  x: number;
  y: number;
  values: number[];
  /** Each mask layer (prediction, reference ...) with the names of the classes set there. */
  layers: { name: string; labels: string[] }[];
  fields: { name: string; value: number }[];
}

export function readoutAt(
  image: Raster, x: number, y: number,
  layers: readonly { name: string; mask: MaskView; classNames: readonly string[] }[],
  fields: readonly { name: string; field: FloatField }[],
): Readout {
  return {
    x, y,
    values: pixelValues(image, x, y),
    layers: layers.map((l) => ({ name: l.name, labels: labelsAt(l.mask, x, y).map((c) => l.classNames[c] ?? `class ${c + 1}`) })),
    fields: fields.map((f) => ({ name: f.name, value: fieldAt(f.field, image.width, image.height, x, y) })),
  };
}

/** A measured value with about three significant digits: 1234, 12.3, 1.23, 0.0012. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

/** One line for people: "x 12, y 30 · RGB 120, 80, 40 · mask: disc · rate 2.31". */
export function formatReadout(r: Readout): string {
  const v = r.values;
  const value = v.length === 1 ? `value ${v[0]}` : `${v.length === 4 ? 'RGBA' : 'RGB'} ${v.join(', ')}`;
  const parts = [`x ${r.x}, y ${r.y}`, value];
  for (const l of r.layers) parts.push(`${l.name}: ${l.labels.length ? l.labels.join(', ') : 'background'}`);
  for (const f of r.fields) parts.push(`${f.name} ${formatValue(f.value)}`);
  return parts.join(' · ');
}

// ---------- keyboard ----------

/** Whether a key event belongs to a form field (typing, a slider's arrows) rather than to the viewer. */
export function isFieldTarget(target: EventTarget | null): boolean {
  const el = target as { closest?: (sel: string) => unknown } | null;
  return !!el && typeof el.closest === 'function' && !!el.closest('input, select, textarea, [contenteditable="true"]');
}

/** Whether the viewer should take this key: no field has focus and no browser shortcut modifier is held. */
export function isViewerKey(e: { target: EventTarget | null; ctrlKey: boolean; metaKey: boolean; altKey: boolean }): boolean {
  return !e.ctrlKey && !e.metaKey && !e.altKey && !isFieldTarget(e.target);
}
