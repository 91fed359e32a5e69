// Demo results: the console table (Dice and HD95 per class per method on the unseen site, last round —
// docs/algorithms.md §1: report the last round, never select on the test site) and a self-contained HTML
// report (table, per-round curves as inline SVG, example overlays as data-URI PNGs).
import { PNG } from 'pngjs';
import type { ImageF32, MaskU8 } from '../contract/image.js';
import { maskPlane } from '../masks/convert.js';
import { boundaryRing } from '../morphology/rings.js';

export interface RoundEval {
  round: number;
  metrics: Record<string, number>;
}

export interface Overlay {
  name: string;
  /** data:image/png;base64,... */
  png: string;
  dice: number[];
}

export interface MethodResult {
  method: 'fedavg' | 'elcfs';
  unseen: string;
  rounds: RoundEval[];
  elapsedMs: number;
  overlays: Overlay[];
}

export interface DemoSetup {
  sites: string[];
  size: number;
  perSite: number;
  rounds: number;
  baseWidth: number;
  batchSize: number;
  localEpochs: number;
  backend: string;
  seed: number;
}

export interface DemoResult {
  setup: DemoSetup;
  runs: MethodResult[];
  startedAt: string;
  elapsedMs: number;
}

const CLASSES = ['OD', 'OC'];
const label = (m: string) => (m === 'elcfs' ? 'ELCFS' : 'FedAvg');
const fmt = (v: number | undefined, scale = 1, d = 2) => (v === undefined || !Number.isFinite(v) ? '  n/a' : (v * scale).toFixed(d));

function last(r: MethodResult): Record<string, number> {
  return r.rounds.at(-1)?.metrics ?? {};
}

/** Rows: method x unseen site, plus a mean row per method when several folds ran. */
export function tableRows(res: DemoResult): string[][] {
  const rows: string[][] = [];
  const header = ['method', 'unseen', ...CLASSES.map((c) => `${c} Dice %`), ...CLASSES.map((c) => `${c} HD95 px`), 'rounds', 'time s'];
  rows.push(header);
  for (const r of res.runs) {
    const m = last(r);
    rows.push([label(r.method), r.unseen, ...CLASSES.map((_, c) => fmt(m[`dice_c${c}`], 100)), ...CLASSES.map((_, c) => fmt(m[`hd95_c${c}`])),
      String(r.rounds.length), (r.elapsedMs / 1000).toFixed(0)]);
  }
  const folds = new Set(res.runs.map((r) => r.unseen));
  if (folds.size > 1) {
    for (const method of ['fedavg', 'elcfs'] as const) {
      const rs = res.runs.filter((r) => r.method === method);
      if (!rs.length) continue;
      const mean = (k: string) => {
        const v = rs.map((r) => last(r)[k]).filter((x): x is number => x !== undefined && Number.isFinite(x));
        return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
      };
      rows.push([label(method), 'mean', ...CLASSES.map((_, c) => fmt(mean(`dice_c${c}`), 100)), ...CLASSES.map((_, c) => fmt(mean(`hd95_c${c}`))), '', '']);
    }
  }
  return rows;
}

export function formatTable(res: DemoResult): string {
  const rows = tableRows(res);
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  return [line(rows[0]!), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

export interface Series {
  label: string;
  color: string;
  dash?: boolean;
  points: [number, number][];
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

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

/** Image with contours: ground truth disc/cup green/cyan, prediction disc/cup red/yellow; nearest-upscaled. */
export function overlayPng(image: ImageF32, gt: MaskU8, pred: MaskU8, scale = 3): string {
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
  return 'data:image/png;base64,' + PNG.sync.write(png).toString('base64');
}

export function renderReport(res: DemoResult): string {
  const s = res.setup;
  const rows = tableRows(res);
  const table = `<table><thead><tr>${rows[0]!.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows.slice(1).map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const colors: Record<string, string> = { fedavg: '#1f77b4', elcfs: '#d62728' };
  const charts: string[] = [];
  for (const unseen of [...new Set(res.runs.map((r) => r.unseen))]) {
    const runs = res.runs.filter((r) => r.unseen === unseen);
    const series = (key: (c: number) => string, scale: number) => runs.flatMap((r) => CLASSES.map((cls, c) => ({
      label: `${label(r.method)} ${cls}`, color: colors[r.method] ?? '#333', dash: c === 1,
      points: r.rounds.map((e) => [e.round, (e.metrics[key(c)] ?? NaN) * scale] as [number, number]),
    })));
    charts.push(`<h3>Unseen site ${esc(unseen)}</h3><div class="charts">${lineChartSvg(series((c) => `dice_c${c}`, 100), { title: 'Dice on the unseen site', yLabel: 'Dice %', yMin: 0, yMax: 100 })}` +
      `${lineChartSvg(series((c) => `hd95_c${c}`, 1), { title: 'HD95 on the unseen site (lower is better)', yLabel: 'HD95 px', yMin: 0 })}</div>`);
    for (const r of runs) {
      if (!r.overlays.length) continue;
      charts.push(`<h4>${label(r.method)}: final global model on ${esc(unseen)}</h4><div class="ov">${r.overlays.map((o) =>
        `<figure><img src="${o.png}" alt="${esc(o.name)}"><figcaption>${esc(o.name)}<br>Dice OD ${(o.dice[0]! * 100).toFixed(1)} / OC ${(o.dice[1]! * 100).toFixed(1)}</figcaption></figure>`).join('')}</div>`);
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>FedSeg demo report</title><style>
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}
th{background:#eee}.charts{display:flex;flex-wrap:wrap;gap:12px}.ov{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;text-align:center;font-size:12px}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}</style></head><body>
<h1>FedSeg demo: FedAvg vs ELCFS on an unseen site</h1>
<p>Synthetic multi-site fundus data (${s.sites.length} sites: ${s.sites.map(esc).join(', ')}; ${s.perSite} images of ${s.size}x${s.size} per site, seed ${s.seed}).
Leave-one-site-out: the unseen site never trains and never shares spectra; it evaluates the global model after every round over the network.
U-Net base width ${s.baseWidth}, ${s.rounds} rounds x ${s.localEpochs} local epoch(s), batch ${s.batchSize}, Adam lr 1e-3, backend ${esc(s.backend)}.
Every site and the hub ran as separate processes on 127.0.0.1. Numbers are from the last round (no selection on the test site). Dice per class (OD = optic disc incl. cup, OC = cup), HD95 in pixels
(mean over images where it is defined). Started ${esc(res.startedAt)}, took ${(res.elapsedMs / 1000).toFixed(0)} s.</p>
${table}
<p class="legend">Overlays: ground truth <span style="background:#00e600"></span>disc <span style="background:#00dce6"></span>cup; prediction <span style="background:#ff2828"></span>disc <span style="background:#ffe600"></span>cup.</p>
${charts.join('\n')}
</body></html>`;
}
