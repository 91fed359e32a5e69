// FedDG-GA's rule on hand-computed numbers (docs/feddg-ga.md §1): the step schedule, one adjustment
// with a clip to 0, all-zero and missing gaps; the hub config's checks. The rule on a real hub:
// test/federation/ga-rounds.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHubConfig } from '../config.js';
import { adjustWeights, gaStep } from './feddg-ga.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('step size: s (1 - (r - 1) / R), from s at round 1 down to s / R', () => {
  close(gaStep(0.2, 1, 10), 0.2);
  close(gaStep(0.2, 3, 10), 0.16);
  close(gaStep(0.2, 10, 10), 0.02);
  assert.throws(() => gaStep(0.2, 0, 10), /round 0/);
});

test('one adjustment: w + (d / K) G / max|G|, clipped to [0, 1], renormalised', () => {
  const sites = ['A', 'B', 'C'];
  // Equal weights, gaps 0.3 / 0 / 0, d = 0.2: A = 1/3 + 0.2/3 = 0.4, B = C = 1/3; sum 16/15 -> 0.375, 0.3125, 0.3125.
  const w = adjustWeights(sites, new Map(), new Map([['A', 0.3], ['B', 0], ['C', 0]]), 0.2);
  assert.deepEqual([...w.keys()], sites);
  close(w.get('A')!, 0.375);
  close(w.get('B')!, 0.3125);
  close(w.get('C')!, 0.3125);
  // A falls below 0 and is clipped: 0.05 - 0.3/3 = -0.05 -> 0; B = 0.5 + 0.1 x 0.5 = 0.55; C stays 0.45; sum 1.
  const c = adjustWeights(sites, new Map([['A', 0.05], ['B', 0.5], ['C', 0.45]]), new Map([['A', -1], ['B', 0.5], ['C', 0]]), 0.3);
  close(c.get('A')!, 0);
  close(c.get('B')!, 0.55);
  close(c.get('C')!, 0.45);
  // No gap anywhere (or all 0): the weights only renormalise; a site without a gap keeps its weight.
  const z = adjustWeights(sites, new Map([['A', 0.2], ['B', 0.2], ['C', 0.6]]), new Map([['A', 0], ['B', 0], ['C', 0]]), 0.2);
  close(z.get('C')!, 0.6);
  const m = adjustWeights(sites, new Map([['A', 0.5], ['B', 0.25], ['C', 0.25]]), new Map([['A', undefined], ['B', 0.1], ['C', -0.1]]), 0.3);
  // B = 0.25 + 0.1 = 0.35, C = 0.25 - 0.1 = 0.15, A = 0.5; sum 1.
  close(m.get('A')!, 0.5);
  close(m.get('B')!, 0.35);
  close(m.get('C')!, 0.15);
});

test('hub config: GA needs a weighted mean, no dp, a validation split (0.2 by default)', () => {
  const base = { strategy: 'elcfs-ga', minSites: 2 };
  assert.equal(parseHubConfig(base).train.valFraction, 0.2);
  assert.equal(parseHubConfig({ ...base, train: { valFraction: 0.3 } }).train.valFraction, 0.3);
  assert.equal(parseHubConfig({ strategy: 'fedavg' }).train.valFraction, undefined);
  assert.throws(() => parseHubConfig({ ...base, train: { valFraction: 0 } }), /needs train\.valFraction > 0/);
  assert.throws(() => parseHubConfig({ ...base, aggregator: 'median' }), /unweighted/);
  assert.throws(() => parseHubConfig({ ...base, dp: { noiseMultiplier: 1, clipNorm: 1 } }), /dp needs equal ones/);
  assert.throws(() => parseHubConfig({ ...base, minSites: 1 }), /minSites >= 2/);
  assert.throws(() => parseHubConfig({ ...base, gaStepSize: 0 }), /gaStepSize/);
});
