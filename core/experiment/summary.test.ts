// Experiment summary and report on hand-made run records: last-k means, mean +- std over seeds, the
// fold mean rows, the paired differences (pairing by seed and image), the text table and the HTML
// (charts, overlays by file, the pending warning); the overlay PNG and the chart render.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { lineChartSvg, overlayPng } from './figures.js';
import { formatText, renderHtml, tables } from './report.js';
import { lastKMean, summarise, type RunRecord } from './summary.js';

const rec = (fold: string, method: string, seed: number, d0: number[], img: number[]): RunRecord => ({
  key: `${fold}__${method}__s${seed}`, fold, method, seed,
  rounds: d0.map((d, i) => ({ round: i + 1, metrics: { dice_c0: d, dice_c1: d / 2, hd95_c0: 10 - i } })),
  final: { round: d0.length, perImage: img.map((v, i) => ({ name: `im${i}`, dice: [v, v / 2], hd95: [1, null] })) },
  overlays: [{ name: 'im0', file: `overlays/${fold}-${method}-${seed}-0.png`, dice: [img[0]!, img[0]! / 2] }],
  bytesFromSite: { A: 100, B: 200, C: 50 }, bytesToSite: { A: 1, B: 1, C: 1 }, elapsedMs: 2000 + seed * 1000, resumedAfterRound: 0, finishedAt: 'now',
});

const runs: RunRecord[] = [
  rec('A', 'fedavg', 1, [0.1, 0.5, 0.7], [0.6, 0.7, 0.8]),
  rec('A', 'fedavg', 2, [0.1, 0.5, 0.5], [0.5, 0.6, 0.7]),
  rec('A', 'elcfs', 1, [0.1, 0.6, 0.8], [0.7, 0.8, 0.9]),
  rec('A', 'elcfs', 2, [0.2, 0.6, 0.6], [0.6, 0.7, 0.8]),
  rec('B', 'fedavg', 1, [0.3, 0.4, 0.4], [0.4, 0.4]),
  rec('B', 'elcfs', 1, [0.3, 0.4, 0.2], [0.2, 0.3]),
];
const opts = { classes: ['disc', 'cup'], lastK: 2, folds: ['A', 'B'], methods: ['fedavg', 'elcfs'], trainSites: (f: string) => ['A', 'B', 'C'].filter((s) => s !== f) };

test('last-k means, mean +- std over seeds, fold means, bytes from the sources', () => {
  assert.ok(Math.abs(lastKMean(runs[0]!.rounds, 'dice_c0', 2) - 0.6) < 1e-12);
  assert.ok(Number.isNaN(lastKMean(runs[0]!.rounds, 'hd95_c1', 2)), 'a metric never reported is not 0');
  const s = summarise(runs, opts);
  const a = s.cells.find((c) => c.fold === 'A' && c.method === 'fedavg')!;
  // Seed 1: (0.5 + 0.7) / 2 = 0.6; seed 2: (0.5 + 0.5) / 2 = 0.5 -> mean 0.55, std sqrt(0.005).
  assert.ok(Math.abs(a.dice[0]!.mean - 0.55) < 1e-12 && Math.abs(a.dice[0]!.std - Math.sqrt(0.005)) < 1e-12, JSON.stringify(a.dice[0]));
  assert.equal(a.seeds, 2);
  assert.deepEqual(a.curve.map((e) => e.round), [1, 2, 3]);
  assert.ok(Math.abs(a.curve[2]!.dice[0]! - 0.6) < 1e-12);
  assert.equal(a.bytesFromSources.mean, 200 + 50, 'fold A: the sources are B and C');
  assert.equal(a.wallSeconds.mean, 3.5);
  const overall = s.overall.find((o) => o.method === 'elcfs')!;
  // Fold A elcfs: seeds (0.7, 0.6) -> 0.65; fold B: 0.3 -> mean 0.475.
  assert.ok(Math.abs(overall.dice[0]!.mean - 0.475) < 1e-12 && overall.folds === 2);
});

test('paired differences: per fold by seed and image, pooled over folds, against fedavg', () => {
  const s = summarise(runs, opts);
  const a = s.diffs.find((d) => d.fold === 'A')!;
  assert.equal(a.method, 'elcfs');
  assert.equal(a.baseline, 'fedavg');
  // Every image of fold A is 0.1 better for elcfs at both seeds: a zero-width interval at +0.1.
  assert.ok(Math.abs(a.dice[0]!.mean - 0.1) < 1e-12 && Math.abs(a.dice[0]!.lo - 0.1) < 1e-12 && Math.abs(a.dice[0]!.hi - 0.1) < 1e-12);
  assert.equal(a.dice[0]!.seeds, 2);
  const all = s.diffs.find((d) => d.fold === 'all')!;
  // Seed 1 only (fold B ran one seed): diffs 0.1 x 3 (A) and -0.2, -0.1 (B) -> mean -0.02.
  assert.ok(Math.abs(all.dice[0]!.mean - (0.3 - 0.3) / 5) < 1e-12, String(all.dice[0]!.mean));
  assert.equal(all.dice[0]!.images, 5);
  assert.ok(all.dice[0]!.lo < all.dice[0]!.mean && all.dice[0]!.mean < all.dice[0]!.hi);
});

test('text and HTML report', () => {
  const s = summarise(runs, opts);
  const t = tables(s);
  assert.deepEqual(t.results[0], ['unseen site', 'method', 'seeds', 'disc Dice %', 'cup Dice %', 'disc HD95 px', 'cup HD95 px', 'time s', 'MB from sources']);
  assert.deepEqual(t.results[1]!.slice(0, 4), ['A', 'FedAvg', '2', '55.0 ± 7.1']);
  assert.equal(t.results.at(-1)![0], 'mean of 2 folds');
  assert.deepEqual(t.diffs[1]!.slice(0, 3), ['A', 'ELCFS − FedAvg', '+10.0 [+10.0, +10.0]']);
  const text = formatText(s);
  assert.match(text, /\| B +\| ELCFS +\| 1 +\| 30\.0 +\|/);
  assert.match(text, /all folds/);
  const html = renderHtml({
    title: 'T <x>', description: ['d & e'], sites: [{ name: 'A', dataset: 'A', images: 3 }], folds: ['A', 'B'], methods: ['fedavg', 'elcfs'], seeds: [1, 2],
    rounds: 3, startedAt: 'now', elapsedMs: 1000, pending: 1,
  }, s, runs);
  assert.ok(html.includes('T &lt;x&gt;') && html.includes('d &amp; e'));
  assert.equal((html.match(/<svg/g) ?? []).length, 4, 'Dice and HD95 charts per fold');
  assert.ok(html.includes('src="overlays/A-fedavg-1-0.png"') && html.includes('1 run(s) not done yet'));
});

test('chart and overlay render', () => {
  const svg = lineChartSvg([{ label: 'a<b', color: '#f00', points: [[1, 0.5], [2, NaN], [3, 0.7]] }], { title: 't', yLabel: 'y' });
  assert.ok(svg.startsWith('<svg') && svg.includes('<polyline') && svg.includes('a&lt;b'));
  const w = 4, h = 4;
  const image = { width: w, height: h, channels: 3, data: new Float32Array(w * h * 3).fill(100) };
  const mask = { width: w, height: h, classes: 2, data: new Uint8Array(w * h * 2) };
  for (const i of [5, 6, 9, 10]) mask.data[i * 2] = 1;
  const png = PNG.sync.read(Buffer.from(overlayPng(image, mask, mask, 2)));
  assert.equal(png.width, 8);
  assert.deepEqual([...png.data.subarray(0, 3)], [100, 100, 100]);
  const o = ((2 * 2) * 8 + 2 * 2) * 4; // pixel (1,1) -> disc contour, prediction colour drawn last
  assert.deepEqual([...png.data.subarray(o, o + 3)], [255, 40, 40]);
});
