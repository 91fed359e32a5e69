// Size terciles on a hand-made 8x8 mask with three objects (1, 4 and 9 pixels) and a hand-made rate
// field: object Dice against overlapping predicted components, recall, per-tercile median / mean rate,
// whether the rate grows with size, Spearman's rho (ties included), and the no-rate case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectRecords, spearman, tercileCuts, tercileOf, tercileSummary } from './size-terciles.js';

const H = 8;
const W = 8;
function plane(cells: [number, number][]): Uint8Array {
  const p = new Uint8Array(H * W);
  for (const [y, x] of cells) p[y * W + x] = 1;
  return p;
}
const box = (y0: number, x0: number, h: number, w: number): [number, number][] =>
  Array.from({ length: h * w }, (_, i) => [y0 + Math.floor(i / w), x0 + (i % w)] as [number, number]);

// A: 1 px at (0,0), missed. B: 2x2 at (0,3), predicted exactly. C: 3x3 at (4,4), its top two rows
// predicted plus one pixel left of it (one component of 7 px). A stray predicted pixel at (7,0).
const gt = plane([[0, 0], ...box(0, 3, 2, 2), ...box(4, 4, 3, 3)]);
const pred = plane([...box(0, 3, 2, 2), ...box(4, 4, 2, 3), [4, 3], [7, 0]]);

function rateField(a: number, b: number, c: number): Float32Array {
  const r = new Float32Array(H * W).fill(9); // background rates must not count
  r[0] = a;
  for (const [y, x] of box(0, 3, 2, 2)) r[y * W + x] = b;
  for (const [y, x] of box(4, 4, 3, 3)) r[y * W + x] = c;
  r[6 * W + 6] = c + 1;
  return r;
}

test('objects: area, Dice against overlapping predicted components, hits, rates inside', () => {
  const objs = objectRecords(gt, pred, H, W, rateField(0.5, 1, 2));
  assert.deepEqual(objs.map((o) => o.area), [1, 4, 9]);
  assert.deepEqual(objs.map((o) => o.dice), [0, 1, (2 * 6) / (9 + 7)]);
  assert.deepEqual(objs.map((o) => o.hit), [0, 4, 6]);
  assert.deepEqual([...objs[2]!.rates!].sort(), [2, 2, 2, 2, 2, 2, 2, 2, 3]);
});

test('terciles: cuts, per-tercile Dice / recall / rates, rate grows with size', () => {
  const objs = objectRecords(gt, pred, H, W, rateField(0.5, 1, 2));
  assert.deepEqual(tercileCuts(objs.map((o) => o.area)), [1, 4]);
  assert.equal(tercileOf(5, [1, 4]), 'large');
  const s = tercileSummary(objs);
  assert.deepEqual(s.terciles.map((t) => [t.tercile, t.objects, t.minArea, t.maxArea]), [['small', 1, 1, 1], ['medium', 1, 4, 4], ['large', 1, 9, 9]]);
  assert.deepEqual(s.terciles.map((t) => t.dice), [0, 1, 0.75]);
  assert.deepEqual(s.terciles.map((t) => t.recall), [0, 1, 6 / 9]);
  assert.deepEqual(s.terciles.map((t) => t.medianRate), [0.5, 1, 2]);
  assert.ok(Math.abs(s.terciles[2]!.meanRate! - 19 / 9) < 1e-6);
  assert.equal(s.rateGrowsWithSize, true);
  assert.equal(s.spearman, 1);

  const down = tercileSummary(objectRecords(gt, pred, H, W, rateField(2, 1.5, 1)));
  assert.equal(down.rateGrowsWithSize, false);
  assert.equal(down.spearman, -1);

  const none = tercileSummary(objectRecords(gt, pred, H, W));
  assert.equal(none.rateGrowsWithSize, null);
  assert.equal(none.spearman, null);
  assert.deepEqual(none.terciles.map((t) => t.medianRate), [null, null, null]);
  assert.deepEqual(none.terciles.map((t) => t.dice), [0, 1, 0.75]);
});

test('terciles: empty terciles and rank ties', () => {
  const s = tercileSummary([{ area: 5, dice: 1, hit: 5, rates: Float32Array.of(1, 1, 1, 1, 1) }]);
  assert.deepEqual(s.terciles.map((t) => t.objects), [1, 0, 0]);
  assert.equal(s.rateGrowsWithSize, null);
  assert.ok(Math.abs(spearman([1, 1, 2], [1, 2, 3])! - 1.5 / Math.sqrt(3)) < 1e-12);
  assert.equal(spearman([1, 2, 3], [4, 4, 4]), null);
  assert.throws(() => tercileCuts([]), /no objects/);
});
