// The experiment's report (docs/experiments.md §4): the table on stdout (per fold and method: unseen
// Dice and HD95 per class as mean +- std over seeds, wall time, MB that left the sources; the mean over
// folds; each method minus the baseline with its bootstrap interval) and a self-contained HTML page
// with the same tables, the per-round curves and overlays of the final models on the unseen sites.
import { STRATEGY_LABELS, isStrategyName } from '../contract/strategy-names.js';
import { esc, lineChartSvg, type Series } from './figures.js';
import type { BootstrapInterval, MeanStd } from './stats.js';
import type { ExperimentSummary, RunRecord } from './summary.js';

export const methodLabel = (m: string): string => (isStrategyName(m) ? STRATEGY_LABELS[m] : m);

const num = (v: number, scale: number, d: number) => (Number.isFinite(v) ? (v * scale).toFixed(d) : 'n/a');
export function fmtMeanStd(m: MeanStd, scale = 1, d = 1): string {
  if (!Number.isFinite(m.mean)) return 'n/a';
  return Number.isFinite(m.std) ? `${num(m.mean, scale, d)} ± ${num(m.std, scale, d)}` : num(m.mean, scale, d);
}
export function fmtInterval(b: BootstrapInterval | null, scale = 100, d = 1): string {
  if (!b) return 'n/a';
  const sign = (v: number) => {
    const t = (v * scale).toFixed(d);
    if (Number(t) === 0) return (0).toFixed(d); // never "-0.0"
    return t.startsWith('-') ? t : `+${t}`;
  };
  return `${sign(b.mean)} [${sign(b.lo)}, ${sign(b.hi)}]`;
}

export interface ReportSetup {
  title: string;
  /** Sentences describing data, model, training and how it ran (HTML-escaped by the renderer). */
  description: string[];
  sites: { name: string; dataset: string; images: number }[];
  folds: string[];
  methods: string[];
  seeds: number[];
  rounds: number;
  startedAt: string;
  elapsedMs: number;
  /** Runs still to do (an experiment stopped part-way reports what it has). */
  pending: number;
}

/** The tables as rows of cells: results per fold/method (+ over folds), then differences to the baseline. */
export function tables(s: ExperimentSummary): { results: string[][]; diffs: string[][] } {
  const cls = s.classes;
  const results: string[][] = [['unseen site', 'method', 'seeds', ...cls.map((c) => `${c} Dice %`), ...cls.map((c) => `${c} HD95 px`), 'time s', 'MB from sources']];
  for (const c of s.cells) {
    results.push([c.fold, methodLabel(c.method), String(c.seeds), ...c.dice.map((m) => fmtMeanStd(m, 100)), ...c.hd95.map((m) => fmtMeanStd(m, 1, 2)),
      fmtMeanStd(c.wallSeconds, 1, 0), num(c.bytesFromSources.mean, 1e-6, 2)]);
  }
  if (new Set(s.cells.map((c) => c.fold)).size > 1) {
    for (const o of s.overall) results.push([`mean of ${o.folds} folds`, methodLabel(o.method), '', ...o.dice.map((m) => fmtMeanStd(m, 100)), ...o.hd95.map((m) => fmtMeanStd(m, 1, 2)), '', '']);
  }
  const diffs: string[][] = [['unseen site', 'difference', ...cls.map((c) => `${c} Dice pts (95% CI)`), 'seeds x images']];
  for (const d of s.diffs) {
    const b = d.dice.find((x) => x !== null);
    diffs.push([d.fold === 'all' ? 'all folds' : d.fold, `${methodLabel(d.method)} − ${methodLabel(d.baseline)}`, ...d.dice.map((x) => fmtInterval(x)), b ? `${b.seeds} x ${b.images}` : '']);
  }
  return { results, diffs };
}

export function formatRows(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (c ?? '').padEnd(w[i]!)).join(' | ') + ' |';
  return [line(rows[0]!), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

export function formatText(s: ExperimentSummary): string {
  const t = tables(s);
  const parts = [`Unseen-site Dice and HD95: each run's mean over its last ${s.lastK} round(s), then mean ± std over seeds.`, formatRows(t.results)];
  if (t.diffs.length > 1) {
    parts.push('Paired difference on the final global models (per image, resampling seeds and images; 95% percentile bootstrap):', formatRows(t.diffs));
  }
  return parts.join('\n\n');
}

const htmlTable = (rows: string[][]) =>
  `<table><thead><tr>${rows[0]!.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows.slice(1).map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;

/** MB that left each site per run (mean over seeds): the sources' updates and windows, the unseen site's evaluations. */
function bytesTable(s: ExperimentSummary): string {
  const sites = [...new Set(s.cells.flatMap((c) => Object.keys(c.bytesPerSite)))];
  if (!sites.length) return '';
  const rows = [['unseen site', 'method', ...sites.map((x) => `${x} MB`)], ...s.cells.map((c) => [c.fold, methodLabel(c.method), ...sites.map((x) => num(c.bytesPerSite[x] ?? NaN, 1e-6, 3))])];
  return `<h2>What left each site</h2><p>Megabytes the hub received from each site in one run (every message but heartbeats; mean over seeds). The unseen site sends only its evaluations.</p>${htmlTable(rows)}`;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function renderHtml(setup: ReportSetup, s: ExperimentSummary, runs: readonly RunRecord[]): string {
  const t = tables(s);
  const color = (m: string) => COLORS[Math.max(0, setup.methods.indexOf(m)) % COLORS.length]!;
  const sections: string[] = [];
  for (const fold of setup.folds) {
    const cells = s.cells.filter((c) => c.fold === fold);
    if (!cells.length) continue;
    const series = (pick: 'dice' | 'hd95', scale: number): Series[] => cells.flatMap((c) => s.classes.map((cls, k) => ({
      label: `${methodLabel(c.method)} ${cls}`, color: color(c.method), dash: k > 0,
      points: c.curve.map((e) => [e.round, (e[pick][k] ?? NaN) * scale] as [number, number]),
    })));
    sections.push(`<h2>Unseen site ${esc(fold)}</h2><p>Curves: mean over ${cells[0]!.seeds} seed(s) of the unseen site's evaluation after every round.</p><div class="charts">` +
      lineChartSvg(series('dice', 100), { title: `Dice on ${fold}`, yLabel: 'Dice %', yMin: 0, yMax: 100, width: 560, height: 300 }) +
      lineChartSvg(series('hd95', 1), { title: `HD95 on ${fold} (lower is better)`, yLabel: 'HD95 px', yMin: 0, width: 560, height: 300 }) + '</div>');
    for (const c of cells) {
      const r = runs.filter((x) => x.fold === fold && x.method === c.method).sort((a, b) => a.seed - b.seed)[0];
      if (!r?.overlays.length) continue;
      sections.push(`<h3>${esc(methodLabel(c.method))}: final global model (round ${r.final.round}, seed ${r.seed}) on ${esc(fold)}</h3><div class="ov">` +
        r.overlays.map((o) => `<figure><img src="${esc(o.file)}" alt="${esc(o.name)}"><figcaption>${esc(o.name)}<br>Dice ${o.dice.map((d, k) => `${esc(s.classes[k] ?? `c${k}`)} ${(d * 100).toFixed(1)}`).join(' / ')}</figcaption></figure>`).join('') + '</div>');
    }
  }
  const sites = setup.sites.map((x) => `${esc(x.name)}${x.dataset !== x.name ? ` (${esc(x.dataset)})` : ''}: ${x.images} images`).join('; ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(setup.title)}</title><style>
body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222;line-height:1.4}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}
th{background:#eee}.charts{display:flex;flex-wrap:wrap;gap:12px}.ov{display:flex;flex-wrap:wrap;gap:14px}figure{margin:0;text-align:center;font-size:13px}
img{image-rendering:pixelated;max-width:100%}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}.warn{color:#a00}</style></head><body>
<h1>${esc(setup.title)}</h1>
${setup.description.map((d) => `<p>${esc(d)}</p>`).join('\n')}
<p>Sites: ${sites}. Leave-one-site-out folds: ${setup.folds.map(esc).join(', ')}. Methods: ${setup.methods.map((m) => esc(methodLabel(m))).join(', ')}. Seeds: ${setup.seeds.join(', ')}. ${setup.rounds} rounds.
Started ${esc(setup.startedAt)}; ${(setup.elapsedMs / 1000).toFixed(0)} s of runs so far.</p>
${setup.pending ? `<p class="warn">${setup.pending} run(s) not done yet: the numbers below cover the completed runs only.</p>` : ''}
<h2>Results on the unseen sites</h2>
<p>Each run's mean over its last ${s.lastK} round(s), then mean ± std over seeds (no selection on the unseen site). HD95 in pixels, mean over the images where it is defined.</p>
${htmlTable(t.results)}
${t.diffs.length > 1 ? `<h2>Paired differences</h2><p>Method minus baseline on the final global models, per image of the unseen site, paired by seed and image; 95% percentile bootstrap resampling seeds and images (10,000 resamples). An interval that contains 0 does not separate the methods.</p>${htmlTable(t.diffs)}` : ''}
<p class="legend">Overlays: ground truth <span style="background:#00e600"></span>${esc(s.classes[0] ?? 'class 0')}${s.classes[1] ? ` <span style="background:#00dce6"></span>${esc(s.classes[1])}` : ''}; prediction <span style="background:#ff2828"></span>${esc(s.classes[0] ?? 'class 0')}${s.classes[1] ? ` <span style="background:#ffe600"></span>${esc(s.classes[1])}` : ''}.</p>
${bytesTable(s)}
${sections.join('\n')}
</body></html>`;
}
