// Experiment statistics against numpy (test/fixtures/golden/experiment-stats.json, made by
// scripts/golden/make_experiment_stats_golden.py) and the bootstrap's defining properties.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRng } from '../rng.js';
import { mean, meanStd, pairedBootstrap, percentile, sampleStd } from './stats.js';

const golden = JSON.parse(readFileSync(join(import.meta.dirname, '../../test/fixtures/golden/experiment-stats.json'), 'utf8')) as {
  cases: { x: number[]; mean: number; std: number | null; q: number[]; percentiles: number[] }[];
};

test('mean, sample std and percentiles equal numpy (ddof=1, linear interpolation)', () => {
  for (const c of golden.cases) {
    assert.ok(Math.abs(mean(c.x) - c.mean) < 1e-12);
    if (c.std === null) assert.ok(Number.isNaN(sampleStd(c.x)));
    else assert.ok(Math.abs(sampleStd(c.x) - c.std) < 1e-12, `${sampleStd(c.x)} vs ${c.std}`);
    c.q.forEach((q, k) => assert.ok(Math.abs(percentile(c.x, q) - c.percentiles[k]!) < 1e-12, `q${q}: ${percentile(c.x, q)} vs ${c.percentiles[k]}`));
  }
  assert.deepEqual(meanStd([1, null, 3, NaN, undefined]), { mean: 2, std: Math.SQRT2, n: 2 });
  assert.throws(() => percentile([1], 101), /q must be in/);
});

test('paired bootstrap: a constant difference has a zero-width interval; the interval holds the mean and narrows with more images', () => {
  const c = pairedBootstrap([[0.05, 0.05, 0.05], [0.05, 0.05, 0.05]], createRng(1), { resamples: 500 });
  assert.ok(Math.abs(c.lo - 0.05) < 1e-12 && Math.abs(c.hi - 0.05) < 1e-12 && Math.abs(c.mean - 0.05) < 1e-12);
  const noisy = (n: number, seed: number) => {
    const r = createRng(seed);
    return [0, 1, 2].map(() => Array.from({ length: n }, () => 0.02 + 0.1 * r.normal()));
  };
  const small = pairedBootstrap(noisy(10, 2), createRng(3), { resamples: 2000 });
  const large = pairedBootstrap(noisy(400, 2), createRng(3), { resamples: 2000 });
  for (const b of [small, large]) assert.ok(b.lo <= b.mean && b.mean <= b.hi, JSON.stringify(b));
  assert.ok(large.hi - large.lo < (small.hi - small.lo) / 2, `${large.hi - large.lo} vs ${small.hi - small.lo}`);
  // Seeded: the same inputs and seed give the same interval.
  assert.deepEqual(pairedBootstrap(noisy(10, 2), createRng(3), { resamples: 2000 }), small);
  assert.throws(() => pairedBootstrap([[1, 2], [1]], createRng(1)), /same 2 images/);
  assert.throws(() => pairedBootstrap([[1, NaN]], createRng(1)), /not finite/);
  assert.throws(() => pairedBootstrap([], createRng(1)), /no paired values/);
});
