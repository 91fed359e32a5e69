import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dice } from './dice.js';
import { asd, assd, hausdorff, hd95, percentileLinear } from './hausdorff.js';
import { aggregateEvaluations, evaluateMasks, postprocess } from './evaluate.js';
import { FedSegError } from '../contract/errors.js';
import type { MaskU8 } from '../contract/image.js';

const box = (h: number, w: number, y0: number, y1: number, x0: number, x1: number): Uint8Array => {
  const m = new Uint8Array(h * w);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
};

test('percentileLinear follows numpy linear interpolation', () => {
  // numpy.percentile([1, 2, 3, 4], 95) = 3.8499999999999996 (its lerp, bit for bit); ([0, 10], 95) = 9.5; single value -> itself
  assert.equal(percentileLinear(Float64Array.from([4, 1, 3, 2]), 95), 3.8499999999999996);
  assert.equal(percentileLinear(Float64Array.from([10, 0]), 95), 9.5);
  assert.equal(percentileLinear(Float64Array.from([7]), 95), 7);
  assert.equal(percentileLinear(Float64Array.from([1, 2, 3]), 100), 3);
});

test('hd95 of two shifted squares is the shift; asd one-directional, assd symmetric', () => {
  const a = box(20, 20, 5, 10, 5, 10);
  const b = box(20, 20, 5, 10, 8, 13);
  assert.equal(hd95(a, b, 20, 20), 3);
  assert.equal(hausdorff(a, b, 20, 20), 3);
  assert.equal(hd95(a, b, 20, 20, [1, 2]), 6);
  const c = box(20, 20, 5, 10, 5, 12); // wider than a
  assert.notEqual(asd(a, c, 20, 20), asd(c, a, 20, 20));
  assert.equal(assd(a, c, 20, 20), assd(c, a, 20, 20));
});

test('postprocess: threshold 0.75, largest 4-connected component per class, empty stays empty', () => {
  const h = 4;
  const w = 5;
  const probs = new Float32Array(h * w * 2);
  // class 0: a 3-pixel run and a diagonal single pixel; class 1: all 0.74 (below threshold)
  for (const [y, x] of [[0, 0], [0, 1], [0, 2], [2, 4]]) probs[(y! * w + x!) * 2] = 0.9;
  probs[(1 * w + 3) * 2] = 0.75; // exactly the threshold counts, touches (2,4)? no: (1,3)-(2,4) is diagonal
  for (let i = 0; i < h * w; i++) probs[i * 2 + 1] = 0.74;
  const m = postprocess(probs, h, w, 2);
  const c0 = Array.from({ length: h * w }, (_, i) => m.data[i * 2]);
  const c1 = Array.from({ length: h * w }, (_, i) => m.data[i * 2 + 1]);
  assert.deepEqual(c0.map((v, i) => (v ? i : -1)).filter((i) => i >= 0), [0, 1, 2]);
  assert.ok(c1.every((v) => v === 0), 'empty prediction stays empty');
  assert.throws(() => postprocess(new Float32Array(3), 2, 2, 1), (e: unknown) => e instanceof FedSegError && e.code === 'SHAPE_MISMATCH');
  assert.throws(() => postprocess(Float32Array.from([0, Number.NaN, 0, 0]), 2, 2, 1), /NaN/);
});

test('evaluateMasks: per-class dice/hd95 and the empty-mask policy, aggregated with counts', () => {
  const h = 12;
  const w = 12;
  const mk = (planes: Uint8Array[]): MaskU8 => {
    const data = new Uint8Array(h * w * planes.length);
    planes.forEach((p, c) => p.forEach((v, i) => (data[i * planes.length + c] = v)));
    return { width: w, height: h, classes: planes.length, data };
  };
  const empty = new Uint8Array(h * w);
  const a = box(h, w, 2, 8, 2, 8);
  const b = box(h, w, 3, 9, 2, 8);
  const pred = mk([a, empty, empty, a]);
  const gt = mk([b, empty, a, empty]);
  const e = evaluateMasks(pred, gt);
  assert.equal(e.dice[0], dice(a, b));
  assert.equal(e.hd95[0], hd95(a, b, h, w));
  assert.deepEqual(e.dice.slice(1), [1, 0, 0]);
  assert.deepEqual(e.hd95.slice(1), [0, null, null]);
  assert.deepEqual(e.emptyPred, [false, true, true, false]);
  assert.deepEqual(e.emptyGt, [false, true, false, true]);
  const s = aggregateEvaluations([e, evaluateMasks(gt, gt)]);
  assert.equal(s.images, 2);
  assert.deepEqual(s.hd95Undefined, [0, 0, 1, 1]);
  assert.equal(s.meanDice[2], 0.5);
  assert.equal(s.meanHd95[2], 0);
  assert.equal(s.meanHd95[0], e.hd95[0]! / 2);
});

test('bad input: mismatched shapes, non-binary masks, bad spacing, empty hd95', () => {
  const a = box(6, 6, 1, 4, 1, 4);
  const is = (code: string, re: RegExp) => (e: unknown) => e instanceof FedSegError && e.code === code && re.test(e.message);
  assert.throws(() => dice(a, new Uint8Array(35)), is('SHAPE_MISMATCH', /differ in size/));
  assert.throws(() => dice(a, a.map((v) => v * 3)), is('INVALID_INPUT', /not binary/));
  assert.throws(() => hd95(a, new Uint8Array(30), 6, 6), is('SHAPE_MISMATCH', /36 expected/));
  assert.throws(() => hd95(a, a.map((v) => v * 2), 6, 6), is('INVALID_INPUT', /not binary/));
  assert.throws(() => hd95(a, new Uint8Array(36), 6, 6), is('INVALID_INPUT', /empty/));
  assert.throws(() => hd95(a, a, 6, 6, [0, 1]), is('INVALID_ARGUMENT', /spacing/));
  const m = { width: 6, height: 6, classes: 1, data: a };
  assert.throws(() => evaluateMasks(m, { ...m, width: 3, height: 12 }), is('SHAPE_MISMATCH', /6x6x1/));
  assert.throws(() => evaluateMasks(m, { ...m, data: a.map((v) => v * 255) }), is('INVALID_INPUT', /not binary/));
});
