// The experiment report's figures (docs/experiments.md §4): line charts of the unseen site's metrics
// per round as inline SVG, and overlays of a prediction on its image (contours of the ground truth and
// of the prediction, nearest-upscaled so a thin structure stays readable) as PNG.
import { PNG } from 'pngjs';
import type { ImageF32, MaskU8 } from '../contract/image.js';
import { maskPlane } from '../masks/convert.js';
import { boundaryRing } from '../morphology/rings.js';

export const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface Series {
  label: string;
  color: string;
  dash?: boolean;
  points: [number, number][];
}

/** A small line chart as inline SVG. */
export function lineChartSvg(series: Series[], opts: { title: string; yLabel: string; yMin?: number; yMax?: number; width?: number; height?: number }): string {
  const W = opts.width ?? 520;
  const H = opts.height ?? 260;
  const L = 48, R = 130, T = 28, B = 36;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const x0 = Math.min(1, ...xs), x1 = Math.max(x0 + 1, ...xs);
  const y0 = opts.yMin ?? Math.min(0, ...ys);
  const y1 = opts.yMax ?? Math.max(y0 + 1e-9, ...ys) * 1.05;
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2 - R / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(opts.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#444"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#444"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">round</text>`,
    `<text x="12" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 12 ${(T + H - B) / 2})">${esc(opts.yLabel)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    out.push(`<line x1="${L}" y1="${py(y)}" x2="${W - R}" y2="${py(y)}" stroke="#ddd"/><text x="${L - 4}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(y1 - y0 < 5 ? 2 : 0)}</text>`);
  }
  const step = Math.max(1, Math.ceil((x1 - x0) / 10));
  for (let x = x0; x <= x1; x += step) out.push(`<text x="${px(x)}" y="${H - B + 14}" text-anchor="middle">${x}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5,3"' : ''} points="${pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')}"/>`);
    const ly = T + 14 * i + 6;
    out.push(`<line x1="${W - R + 10}" y1="${ly}" x2="${W - R + 30}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5,3"' : ''}/><text x="${W - R + 34}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

/** Image with contours (PNG bytes): ground truth class 0/1 green/cyan, prediction class 0/1 red/yellow; nearest-upscaled by `scale`. */
export function overlayPng(image: ImageF32, gt: MaskU8, pred: MaskU8, scale = 3): Uint8Array {
  const { width: w, height: h } = image;
  const ch = (m: MaskU8, c: number) => boundaryRing(maskPlane(m, c), h, w);
  const rings: [Uint8Array, [number, number, number]][] = [];
  for (let c = 0; c < Math.min(2, gt.classes); c++) rings.push([ch(gt, c), c === 0 ? [0, 230, 0] : [0, 220, 230]]);
  for (let c = 0; c < Math.min(2, pred.classes); c++) rings.push([ch(pred, c), c === 0 ? [255, 40, 40] : [255, 230, 0]]);
  const png = new PNG({ width: w * scale, height: h * scale });
  for (let y = 0; y < h * scale; y++) {
    for (let x = 0; x < w * scale; x++) {
      const i = Math.floor(y / scale) * w + Math.floor(x / scale);
      let rgb: [number, number, number] = [0, 1, 2].map((k) => {
        const v = image.data[i * image.channels + Math.min(k, image.channels - 1)]!;
        return Math.max(0, Math.min(255, Math.round(v)));
      }) as [number, number, number];
      for (const [ring, col] of rings) if (ring[i]) rgb = col;
      const o = (y * w * scale + x) * 4;
      png.data[o] = rgb[0];
      png.data[o + 1] = rgb[1];
      png.data[o + 2] = rgb[2];
      png.data[o + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

