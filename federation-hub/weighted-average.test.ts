// FedAvg (docs/algorithms.md §1) properties: identity on equal inputs, order independence, weighting by
// sample count, norm clipping, and rejection of bad updates without touching the running sum.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NamedArray } from '../core/contract/weights.js';
import { checkUpdate, FedAvgAccumulator, fedAvg } from './weighted-average.js';

const model = (vals: number[][]): NamedArray[] => vals.map((v, i) => ({ name: `w${i}`, shape: [v.length], data: Float32Array.from(v) }));
const arb = fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 });

test('FedAvg of equal updates is the identity, for any sample counts', () => {
  fc.assert(fc.property(arb, fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 6 }), (vals, ns) => {
    const g = model(vals.map((v) => v.map(() => 0)));
    const out = fedAvg(g, ns.map((n) => ({ arrays: model(vals), numSamples: n })));
    out.forEach((o, k) => o.data.forEach((x, i) => assert.ok(Math.abs(x - Math.fround(vals[k]![i]!)) <= 1e-5 * Math.max(1, Math.abs(x)))));
  }), { numRuns: 50 });
});

test('FedAvg is order-independent and weights by sample count', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.float({ min: -5, max: 5, noNaN: true }), fc.integer({ min: 1, max: 50 })), { minLength: 1, maxLength: 6 }), (ups) => {
    const g = model([[0, 0]]);
    const updates = ups.map(([v, n]) => ({ arrays: model([[v, 2 * v]]), numSamples: n }));
    const a = fedAvg(g, updates)[0]!.data;
    const b = fedAvg(g, [...updates].reverse())[0]!.data;
    const N = ups.reduce((s, [, n]) => s + n, 0);
    const want = ups.reduce((s, [v, n]) => s + (n / N) * Math.fround(v), 0);
    assert.ok(Math.abs(a[0]! - b[0]!) < 1e-5);
    assert.ok(Math.abs(a[0]! - want) < 1e-4, `${a[0]} vs ${want}`);
  }), { numRuns: 50 });
});

test('norm clipping scales the update delta to clipNorm', () => {
  const g = model([[1, 1, 1, 1]]);
  const acc = new FedAvgAccumulator(g, 1);
  const v = acc.add(model([[4, 5, 1, 1]]), 3); // delta (3,4,0,0), norm 5 -> scaled by 1/5
  assert.equal(v.deltaNorm, 5);
  assert.ok(Math.abs(v.scale - 0.2) < 1e-12);
  const out = acc.result()[0]!.data;
  assert.deepEqual([...out].map((x) => +x.toFixed(5)), [1.6, 1.8, 1, 1]);
});

test('bad updates are rejected with a reason and leave the sum untouched', () => {
  const g = model([[0, 0], [0]]);
  const acc = new FedAvgAccumulator(g);
  const bad: [NamedArray[], RegExp][] = [
    [model([[1, NaN], [1]]), /non-finite/],
    [model([[1, Infinity], [1]]), /non-finite/],
    [model([[3, 5], [NaN]]), /weight 'w1' holds a non-finite/], // the first array is folded in, then rolled back
    [model([[1, 1, 1], [1]]), /shape/],
    [model([[1, 1]]), /lacks weight 'w1'/],
    [[...model([[1, 1], [1]]), { name: 'extra', shape: [1], data: new Float32Array(1) }], /unknown weight 'extra'/],
  ];
  for (const [u, re] of bad) assert.throws(() => acc.add(u, 5), (e: Error & { code?: string }) => e.code === 'BAD_UPDATE' && re.test(e.message));
  assert.throws(() => acc.add(model([[1, 1], [1]]), 0), /sample count/);
  assert.equal(acc.count, 0);
  acc.add(model([[2, 4], [6]]), 1);
  assert.deepEqual([...acc.result()[0]!.data], [2, 4]);
  assert.deepEqual([...acc.result()[1]!.data], [6]);
  // Same with clipping (two-pass path).
  const clipped = new FedAvgAccumulator(g, 100);
  assert.throws(() => clipped.add(model([[3, 5], [NaN]]), 2), /non-finite/);
  clipped.add(model([[2, 4], [6]]), 1);
  assert.deepEqual([...clipped.result()[0]!.data], [2, 4]);
  assert.throws(() => new FedAvgAccumulator(g).result(), /zero updates/);
  assert.equal(checkUpdate(g, model([[1, 2], [3]])).size, 2);
});

test('a non-finite value in the middle of an array, after good updates, leaves the running sum as it was', () => {
  const g = model([[0, 0, 0, 0, 0], [0]]);
  const acc = new FedAvgAccumulator(g);
  acc.add(model([[0.1, 0.2, 0.3, 0.4, 0.5], [0.25]]), 3);
  for (const bad of [[0.3, 0.7, NaN, 0.1, 0.9], [0.3, 0.7, 0.2, -Infinity, 0.9]]) {
    assert.throws(() => acc.add(model([[1, 1, 1, 1, 1], [bad.find((v) => !Number.isFinite(v))!]]), 2), /weight 'w1' holds a non-finite/);
    assert.throws(() => acc.add(model([bad, [1]]), 2), /weight 'w0' holds a non-finite value/);
  }
  acc.add(model([[0.5, 0.5, 0.5, 0.5, 0.5], [0.75]]), 1);
  const out = acc.result();
  const want = [0.1, 0.2, 0.3, 0.4, 0.5].map((v) => (3 * v + 0.5) / 4);
  out[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-7, `${v} vs ${want[i]}`));
  assert.ok(Math.abs(out[1]!.data[0]! - (3 * 0.25 + 0.75) / 4) < 1e-7);
  assert.equal(acc.count, 2);
});
