// Per-dataset statistics and thumbnail grids with mask overlays, for the UI's dataset
// panel and for reports. Statistics come from the per-sample summaries the store keeps (no pixels
// are loaded): count, splits, sizes, pooled intensity mean/std (from each sample's mean and std:
// E[x^2] = std^2 + mean^2), label fractions, and empty masks per class.
// Thumbnails: images shown as-is when they are 0..255, otherwise windowed to mean +- 2.5 std
// (z-scored MRI); masks drawn as a translucent fill plus an opaque outline, one colour per class.
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { encodePng } from './codecs/image-file.js';
import { resizeImageBilinear, resizeMaskNearest } from './resize.js';

export interface DatasetStats {
  datasetId: number;
  name: string;
  kind: string;
  count: number;
  channels: number;
  classes: number;
  classNames: string[];
  splits: Record<string, number>;
  /** "WxH" -> number of samples. */
  sizes: Record<string, number>;
  intensity: { min: number; max: number; mean: number; std: number } | null;
  /** Mean fraction of foreground pixels per class. */
  labelFractions: number[];
  /** Samples whose mask is empty, per class. */
  emptyMasks: number[];
  /** Samples whose mask is empty in every class. */
  emptyAll: number;
  /** Pixel spacing range [row, col] in mm, when samples carry one. */
  spacing: { min: [number, number]; max: [number, number] } | null;
}

export function datasetStats(store: DatasetStore, idOrName: number | string): DatasetStats {
  const ds = store.getDataset(idOrName);
  if (!ds) throw new FedSegError('NOT_FOUND', `dataset ${JSON.stringify(idOrName)} does not exist`);
  const k = ds.classes;
  const st: DatasetStats = {
    datasetId: ds.id, name: ds.name, kind: ds.kind, count: 0, channels: ds.channels, classes: k, classNames: ds.classNames, splits: {}, sizes: {},
    intensity: null, labelFractions: new Array<number>(k).fill(0), emptyMasks: new Array<number>(k).fill(0), emptyAll: 0, spacing: null,
  };
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  const page = 500;
  for (let offset = 0; ; offset += page) {
    const rows = store.listSamples(ds.id, { offset, limit: page });
    for (const r of rows) {
      st.count++;
      const sp = r.split ?? 'none';
      st.splits[sp] = (st.splits[sp] ?? 0) + 1;
      const key = `${r.width}x${r.height}`;
      st.sizes[key] = (st.sizes[key] ?? 0) + 1;
      const px = r.width * r.height * r.channels;
      n += px;
      sum += r.mean * px;
      sumSq += (r.std * r.std + r.mean * r.mean) * px;
      min = Math.min(min, r.min);
      max = Math.max(max, r.max);
      let all = true;
      for (let c = 0; c < k; c++) {
        const f = r.foreground[c] ?? 0;
        st.labelFractions[c]! += f;
        if (f === 0) st.emptyMasks[c]!++;
        else all = false;
      }
      if (all) st.emptyAll++;
      if (r.spacing) {
        if (!st.spacing) st.spacing = { min: [...r.spacing], max: [...r.spacing] };
        for (const i of [0, 1] as const) {
          st.spacing.min[i] = Math.min(st.spacing.min[i], r.spacing[i]);
          st.spacing.max[i] = Math.max(st.spacing.max[i], r.spacing[i]);
        }
      }
    }
    if (rows.length < page) break;
  }
  if (st.count > 0) {
    const mean = sum / n;
    st.intensity = { min, max, mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)) };
    st.labelFractions = st.labelFractions.map((f) => f / st.count);
  }
  return st;
}

/** Overlay colours per class (RGB): disc/first class green, cup/second blue, then others. */
export const CLASS_COLOURS: [number, number, number][] = [[46, 204, 64], [0, 116, 217], [255, 65, 54], [255, 220, 0], [177, 13, 201], [57, 204, 204]];

export interface ThumbnailOptions {
  /** Cell size in pixels (square). Default 96. */
  size?: number;
  overlay?: boolean;
  /** Fill opacity 0..1 (outline is opaque). Default 0.35. */
  opacity?: number;
}

/** Renders one sample as RGBA pixels of size x size with the mask overlaid. */
export function renderThumbnail(s: Sample, opts: ThumbnailOptions = {}): { width: number; height: number; rgba: Uint8Array } {
  const size = opts.size ?? 96;
  const im = resizeImageBilinear(s.image, size, size);
  const m = resizeMaskNearest(s.mask, size, size);
  const c = im.channels;
  const d = im.data;
  let lo = 0;
  let hi = 255;
  let mn = Infinity;
  let mx = -Infinity;
  for (const v of s.image.data) {
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (mn < 0 || mx > 255 || mx <= 1) {
    let sum = 0;
    let sq = 0;
    for (const v of s.image.data) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / s.image.data.length;
    const std = Math.sqrt(Math.max(1e-12, sq / s.image.data.length - mean * mean));
    lo = Math.max(mn, mean - 2.5 * std);
    hi = Math.min(mx, mean + 2.5 * std);
    if (hi <= lo) hi = lo + 1;
  }
  const scale = 255 / (hi - lo);
  const rgba = new Uint8Array(size * size * 4);
  const k = m.classes;
  const alpha = opts.opacity ?? 0.35;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      let r: number;
      let g: number;
      let b: number;
      if (c >= 3) {
        r = (d[i * c]! - lo) * scale;
        g = (d[i * c + 1]! - lo) * scale;
        b = (d[i * c + 2]! - lo) * scale;
      } else {
        r = g = b = (d[i * c]! - lo) * scale;
      }
      if (opts.overlay ?? true) {
        for (let cl = 0; cl < k; cl++) {
          if (!m.data[i * k + cl]) continue;
          const col = CLASS_COLOURS[cl % CLASS_COLOURS.length]!;
          const edge = x === 0 || y === 0 || x === size - 1 || y === size - 1
            || !m.data[(i - 1) * k + cl] || !m.data[(i + 1) * k + cl] || !m.data[(i - size) * k + cl] || !m.data[(i + size) * k + cl];
          const a = edge ? 1 : alpha;
          r = r * (1 - a) + col[0] * a;
          g = g * (1 - a) + col[1] * a;
          b = b * (1 - a) + col[2] * a;
        }
      }
      rgba[i * 4] = Math.max(0, Math.min(255, Math.round(r)));
      rgba[i * 4 + 1] = Math.max(0, Math.min(255, Math.round(g)));
      rgba[i * 4 + 2] = Math.max(0, Math.min(255, Math.round(b)));
      rgba[i * 4 + 3] = 255;
    }
  }
  return { width: size, height: size, rgba };
}

export function thumbnailPng(s: Sample, opts: ThumbnailOptions = {}): Buffer {
  const t = renderThumbnail(s, opts);
  return encodePng(t.width, t.height, 4, t.rgba);
}

/** A grid of thumbnails (row-major, `cols` wide, 2 px dark gutters) as PNG. */
export function thumbnailGridPng(samples: Sample[], opts: ThumbnailOptions & { cols?: number } = {}): Buffer {
  if (samples.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'thumbnail grid: no samples');
  const size = opts.size ?? 96;
  const cols = Math.max(1, Math.min(opts.cols ?? Math.ceil(Math.sqrt(samples.length)), samples.length));
  const rows = Math.ceil(samples.length / cols);
  const gap = 2;
  const W = cols * size + (cols + 1) * gap;
  const H = rows * size + (rows + 1) * gap;
  const out = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = 24;
    out[i * 4 + 3] = 255;
  }
  samples.forEach((s, j) => {
    const t = renderThumbnail(s, { ...opts, size });
    const ox = gap + (j % cols) * (size + gap);
    const oy = gap + Math.floor(j / cols) * (size + gap);
    for (let y = 0; y < size; y++) out.set(t.rgba.subarray(y * size * 4, (y + 1) * size * 4), ((oy + y) * W + ox) * 4);
  });
  return encodePng(W, H, 4, out);
}

/** Thumbnail grid of the first `limit` samples of a dataset (evenly spaced when `spread`). */
export function datasetThumbnailGrid(store: DatasetStore, idOrName: number | string, opts: ThumbnailOptions & { cols?: number; limit?: number; spread?: boolean } = {}): Buffer {
  const ds = store.getDataset(idOrName);
  if (!ds) throw new FedSegError('NOT_FOUND', `dataset ${JSON.stringify(idOrName)} does not exist`);
  const limit = opts.limit ?? 16;
  const total = ds.sampleCount;
  if (total === 0) throw new FedSegError('INVALID_ARGUMENT', `dataset '${ds.name}' has no samples`);
  let samples: Sample[];
  if (opts.spread ?? true) {
    const picks = Math.min(limit, total);
    samples = [];
    for (let j = 0; j < picks; j++) {
      const off = Math.floor((j * total) / picks);
      samples.push(...store.loadSamples(ds.id, { offset: off, limit: 1 }));
    }
  } else {
    samples = store.loadSamples(ds.id, { limit });
  }
  return thumbnailGridPng(samples, opts);
}
