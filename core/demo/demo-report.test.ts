// Demo report: table rows (last round, mean rows over folds), SVG chart, overlay PNG round trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { formatTable, lineChartSvg, overlayPng, renderReport, tableRows, type DemoResult, type MethodResult } from './demo-report.js';

const run = (method: 'fedavg' | 'elcfs', unseen: string, d0: number): MethodResult => ({
  method, unseen, elapsedMs: 1000, overlays: [],
  rounds: [{ round: 1, metrics: { dice_c0: 0.1, dice_c1: 0.1 } as Record<string, number> }, { round: 2, metrics: { dice_c0: d0, dice_c1: 0.5, hd95_c0: 3, hd95_c1: 4 } }],
});
const res: DemoResult = {
  setup: { sites: ['D1', 'D2'], size: 32, perSite: 2, rounds: 2, baseWidth: 4, batchSize: 2, localEpochs: 1, backend: 'wasm', seed: 1 },
  runs: [run('fedavg', 'D1', 0.8), run('elcfs', 'D1', 0.9), run('fedavg', 'D2', 0.6), run('elcfs', 'D2', 0.7)],
  startedAt: 'now', elapsedMs: 5000,
};

test('table reports the last round and per-method means over folds', () => {
  const rows = tableRows(res);
  assert.deepEqual(rows[1]!.slice(0, 4), ['FedAvg', 'D1', '80.00', '50.00']);
  assert.deepEqual(rows.at(-2)!.slice(0, 3), ['FedAvg', 'mean', '70.00']);
  assert.deepEqual(rows.at(-1)!.slice(0, 3), ['ELCFS', 'mean', '80.00']);
  assert.match(formatTable(res), /\| ELCFS +\| D2 +\| 70\.00/);
});

test('chart and overlay render; the report embeds them', () => {
  const svg = lineChartSvg([{ label: 'a<b', color: '#f00', points: [[1, 0.5], [2, NaN], [3, 0.7]] }], { title: 't', yLabel: 'y' });
  assert.ok(svg.startsWith('<svg') && svg.includes('<polyline') && svg.includes('a&lt;b'));
  const w = 4, h = 4;
  const image = { width: w, height: h, channels: 3, data: new Float32Array(w * h * 3).fill(100) };
  const mask = { width: w, height: h, classes: 2, data: new Uint8Array(w * h * 2) };
  for (const i of [5, 6, 9, 10]) mask.data[i * 2] = 1;
  const uri = overlayPng(image, mask, mask, 2);
  const png = PNG.sync.read(Buffer.from(uri.split(',')[1]!, 'base64'));
  assert.equal(png.width, 8);
  assert.deepEqual([...png.data.subarray(0, 3)], [100, 100, 100]);
  const o = ((2 * 2) * 8 + 2 * 2) * 4; // pixel (1,1) -> disc contour, prediction colour drawn last
  assert.deepEqual([...png.data.subarray(o, o + 3)], [255, 40, 40]);
  const html = renderReport(res);
  assert.ok(html.includes('Unseen site D2') && (html.match(/<svg/g) ?? []).length === 4);
});
