import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from './rng.js';
import { FedSegError } from './contract/errors.js';

test('createRng is deterministic per seed and differs across seeds', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xs = Array.from({ length: 8 }, () => a.next());
  const ys = Array.from({ length: 8 }, () => b.next());
  const zs = Array.from({ length: 8 }, () => c.next());
  assert.deepEqual(xs, ys);
  assert.notDeepEqual(xs, zs);
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('uniform moments, normal moments, int range and shuffle permutation', () => {
  const r = createRng(7);
  const n = 20000;
  let s = 0;
  let s2 = 0;
  let m = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    s += u;
    s2 += u * u;
    const z = r.normal();
    m += z;
    m2 += z * z;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.01);
  assert.ok(Math.abs(s2 / n - s * s / n / n - 1 / 12) < 0.005);
  assert.ok(Math.abs(m / n) < 0.03);
  assert.ok(Math.abs(m2 / n - 1) < 0.04);
  const counts = new Array<number>(5).fill(0);
  for (let i = 0; i < 5000; i++) counts[r.int(5)]!++;
  for (const c of counts) assert.ok(c > 900 && c < 1100, `int bucket count ${c}`);
  const arr = Array.from({ length: 50 }, (_, i) => i);
  r.shuffle(arr);
  assert.deepEqual([...arr].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(arr, Array.from({ length: 50 }, (_, i) => i));
});

test('bad arguments throw FedSegError', () => {
  assert.throws(() => createRng(Number.NaN), FedSegError);
  const r = createRng(1);
  assert.throws(() => r.int(0), FedSegError);
  assert.throws(() => r.int(2.5), FedSegError);
  assert.throws(() => r.uniform(2, 1), FedSegError);
});
