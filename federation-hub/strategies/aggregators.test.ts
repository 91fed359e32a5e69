// The round's aggregators (docs/security.md §7-8) against hand-computed values: sample bounds, the share
// cap's water-filling, the median clip, coordinate-wise median and trimmed mean, plain FedAvg kept exact
// when nothing binds, and the DP mean's clipping, equal weights, noise scale and reproducibility.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NamedArray } from '../../core/contract/weights.js';
import { fedAvg } from '../weighted-average.js';
import { capShares, createAggregator, medianClipBound, medianOf, modelDigest, noiseSeedOf, trimCount, trimmedMeanOf, type AggregationHooks, type AggregationSettings } from './aggregators.js';

const w = (...v: number[]): NamedArray[] => [{ name: 'w', shape: [v.length], data: Float32Array.from(v) }];
const close = (got: ArrayLike<number>, want: number[], tol = 1e-6) =>
  assert.ok(want.every((x, i) => Math.abs(got[i]! - x) <= tol), `${Array.from(got).join(', ')} vs ${want.join(', ')}`);

function run(global: NamedArray[], ups: [number[], number, string?][], s: AggregationSettings, hooks: AggregationHooks = {}) {
  const agg = createAggregator(global, s, hooks);
  const verdicts = ups.map(([v, n, site]) => agg.add(w(...v), n, site));
  return { out: agg.result()[0]!.data, agg, verdicts };
}

test('median, trimmed mean and the trim count', () => {
  assert.equal(medianOf([3, 1, 2]), 2);
  assert.equal(medianOf([4, 1, 3, 2]), 2.5);
  assert.throws(() => medianOf([]), /no values/);
  assert.deepEqual([[1, 0.2], [2, 0.2], [3, 0.2], [4, 0.2], [5, 0.2], [10, 0.2], [15, 0.2], [10, 0], [3, 0.49], [7, 0.49]].map(([n, f]) => trimCount(n!, f!)),
    [0, 0, 1, 1, 1, 2, 3, 0, 1, 3]);
  assert.throws(() => trimCount(3, 0.5), /trimFraction/);
  assert.equal(trimmedMeanOf([10, 1, 2, 6, -50], 1), 3);
  assert.equal(trimmedMeanOf([10, 1, 2, 6, -50], 2), 2);
  assert.throws(() => trimmedMeanOf([1, 2], 1), /cannot trim/);
});

test('share cap: water-filling to max(maxShare, 1/n) from 3 weights on, plain shares otherwise', () => {
  assert.deepEqual(capShares([1, 1, 2], 0.5), [0.25, 0.25, 0.5], 'exactly at the cap: untouched');
  close(capShares([1, 1, 98], 0.5), [0.25, 0.25, 0.5], 1e-15);
  close(capShares([1, 3, 96], 0.5), [0.125, 0.375, 0.5], 1e-15);
  close(capShares([1, 10, 89], 0.4), [0.2, 0.4, 0.4], 1e-15); // two passes: 89 capped, then 10 exceeds too
  close(capShares([1, 1, 100], 0.1), [1 / 3, 1 / 3, 1 / 3], 1e-15); // never below 1/n
  assert.deepEqual(capShares([1, 3], 0.5), [0.25, 0.75], 'two sites: no cap');
  assert.deepEqual(capShares([1, 1, 98], 1), [0.01, 0.01, 0.98]);
  assert.throws(() => capShares([0, 0, 0], 0.5), /sum/);
});

test('median clip bound: clipFactor x the median norm, from 3 updates on', () => {
  assert.equal(medianClipBound([1, 2, 100], 3), 6);
  assert.equal(medianClipBound([1, 2, 3, 100], 10), 25);
  assert.equal(medianClipBound([1, 100], 3), undefined);
  assert.equal(medianClipBound([1, 2, 100], 0), undefined);
});

test('mean: plain FedAvg exactly when nothing binds (one update is returned as itself)', () => {
  const g = w(0.1, 0.2, 0.3);
  const ups: [number[], number][] = [[[1, 2, 3], 10], [[2, 2, 2], 20], [[4, 0, 1], 10]];
  const want = fedAvg(g, ups.map(([v, n]) => ({ arrays: w(...v), numSamples: n })))[0]!.data;
  close(run(g, ups, {}).out, [...want], 1e-6);
  assert.deepEqual([...run(g, [[[1.1, 2.7, 3.3], 5]], {}).out], [...Float32Array.from([1.1, 2.7, 3.3])]);
  // Protections off: the streaming accumulator, same numbers.
  close(run(g, ups, { clipFactor: 0, maxSiteShare: 1 }).out, [...want], 1e-6);
});

test('mean: the median clip scales the outlying delta, the share cap renormalises, the audit says so', () => {
  const log: string[] = [];
  const hooks: AggregationHooks = { audit: (e, site, d) => log.push(`${e} ${site}: ${d}`) };
  // Norms 1, 1, 5; median 1, clipFactor 3 -> C's delta scaled by 3/5 to (1.8, 2.4); shares 1/4, 1/4, 1/2 (not above the cap).
  const r = run(w(0, 0), [[[1, 0], 1, 'A'], [[0, 1], 1, 'B'], [[3, 4], 2, 'C']], { clipFactor: 3 }, hooks);
  close(r.out, [1.15, 1.45]);
  assert.equal(r.verdicts[2]!.deltaNorm, 5);
  assert.equal(r.agg.totalSamples, 4);
  assert.match(log.join('\n'), /update_clipped C: delta norm 5\.000 > 3 x the round's median delta norm 1\.000; scaled by 0\.6000/);
  // Without the clip: plain FedAvg (1/4, 1/4, 1/2).
  close(run(w(0, 0), [[[1, 0], 1], [[0, 1], 1], [[3, 4], 2]], { clipFactor: 0 }).out, [1.75, 2.25]);
  // A site claiming 98 of 100 samples gets the cap, 1/2; A and B share the other half: (0.75, 0.75) instead of (0.99, 0.99).
  log.length = 0;
  close(run(w(0, 0), [[[1, 0], 1, 'A'], [[0, 1], 1, 'B'], [[1, 1], 98, 'C']], { clipFactor: 0 }, hooks).out, [0.75, 0.75]);
  assert.match(log.join('\n'), /share_capped C: share of the round's weight 0\.9800 capped to 0\.5000/);
  close(run(w(0, 0), [[[1, 0], 1], [[0, 1], 1], [[1, 1], 98]], { clipFactor: 0, maxSiteShare: 1 }).out, [0.99, 0.99]);
  // An explicit clipNorm replaces the median clip: C clipped to norm 1 -> (0.6, 0.8).
  close(run(w(0, 0), [[[1, 0], 1], [[0, 1], 1], [[3, 4], 2]], { clipFactor: 3, clipNorm: 1 }).out, [0.25 + 0.3, 0.25 + 0.4]);
});

test('external weights (FedDG-GA) replace the sample counts; clips and the share cap still apply', () => {
  const log: string[] = [];
  const asked: (string | undefined)[][] = [];
  const hooks = (weights: number[]): AggregationHooks => ({
    audit: (e, site, d) => log.push(`${e} ${site}: ${d}`),
    weights: (sites) => (asked.push([...sites]), weights),
  });
  // Counts 1 / 1 / 98 would give (0.99, 0.99); weights 0.5 / 0.25 / 0.25 give A 0.5 + C 0.25 = 0.75 and B 0.25 + C 0.25 = 0.5.
  const ups: [number[], number, string][] = [[[1, 0], 1, 'A'], [[0, 1], 1, 'B'], [[1, 1], 98, 'C']];
  close(run(w(0, 0), ups, { clipFactor: 0, maxSiteShare: 1 }, hooks([0.5, 0.25, 0.25])).out, [0.75, 0.5]);
  assert.deepEqual(asked, [['A', 'B', 'C']], 'asked once, in the order the updates came');
  // Not normalised: 2 / 1 / 1 is the same rule.
  close(run(w(0, 0), ups, { clipFactor: 0, maxSiteShare: 1 }, hooks([2, 1, 1])).out, [0.75, 0.5]);
  // The share cap (0.5 from 3 updates on) binds a weight of 0.8: C capped to 1/2, A and B 1/4 each.
  close(run(w(0, 0), ups, { clipFactor: 0 }, hooks([0.1, 0.1, 0.8])).out, [0.75, 0.75]);
  assert.match(log.join('\n'), /share_capped C: share of the round's weight 0\.8000 capped to 0\.5000/);
  // clipNorm 1 scales C's delta (3, 4) to (0.6, 0.8) before weighing: 0.5 (1, 0) + 0.5 (0.6, 0.8).
  close(run(w(0, 0), [[[1, 0], 1, 'A'], [[3, 4], 1, 'C']], { clipNorm: 1 }, hooks([0.5, 0.5])).out, [0.8, 0.4]);
  assert.throws(() => run(w(0, 0), ups, { clipFactor: 0 }, hooks([0.5, -0.1, 0.6])), /finite values >= 0/);
  assert.throws(() => run(w(0, 0), ups, { clipFactor: 0 }, hooks([0, 0, 0])), /positive sum/);
  assert.throws(() => run(w(0, 0), ups, { clipFactor: 0 }, hooks([0.5, 0.5])), /must be 3/);
  assert.throws(() => createAggregator(w(0, 0), { aggregator: 'median' }, hooks([1])), /need aggregator 'mean' without dp \(got 'median'\)/);
  assert.throws(() => createAggregator(w(0, 0), { dp: { noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 } }, hooks([1])), /got dp/);
});

test('sample counts: a claim above the enrolled bound or maxSamplesPerSite counts as the bound, audited', () => {
  const log: string[] = [];
  const hooks: AggregationHooks = { sampleBound: (s) => (s === 'E' ? 2 : null), audit: (e, site, d) => log.push(`${e} ${site}: ${d}`) };
  const r = run(w(0), [[[1], 5, 'A'], [[2], 5, 'B'], [[10], 1000, 'C']], { maxSamplesPerSite: 10, clipFactor: 0, maxSiteShare: 1 }, hooks);
  close(r.out, [(5 + 10 + 100) / 20]);
  assert.equal(r.agg.totalSamples, 20);
  assert.equal(r.verdicts[2]!.counted, 10);
  const e = run(w(0), [[[1], 5, 'A'], [[2], 5, 'B'], [[10], 2 ** 53 - 1, 'E']], { clipFactor: 0 }, hooks);
  close(e.out, [(5 + 10 + 20) / 12]);
  assert.deepEqual(log, [
    'samples_clamped C: claimed 1000 samples; counted 10, maxSamplesPerSite',
    `samples_clamped E: claimed ${2 ** 53 - 1} samples; counted 2, its enrolled bound (add-site --samples)`,
  ]);
  // Streaming and buffered paths alike refuse a count that is not a positive integer.
  for (const s of [{}, { clipFactor: 0, maxSiteShare: 1 }]) assert.throws(() => createAggregator(w(0), s).add(w(1), 0), /sample count/);
});

test('median and trimmed mean: coordinate-wise on the deltas, unweighted', () => {
  const ups: [number[], number][] = [[[1, 2, 3], 1], [[2, 4, -1], 1], [[100, -100, 0], 1]];
  close(run(w(0, 0, 0), ups, { aggregator: 'median', clipFactor: 0 }).out, [2, 2, 0]);
  // Sample counts do not matter: the site claiming 10^6 samples does not move the median.
  close(run(w(0, 0, 0), ups.map(([v], i) => [v, i === 2 ? 1e6 : 1]), { aggregator: 'median', clipFactor: 0 }).out, [2, 2, 0]);
  close(run(w(0, 0, 0), [...ups, [[3, 3, 3], 1]], { aggregator: 'median', clipFactor: 0 }).out, [2.5, 2.5, 1.5]);
  // Deltas from a non-zero global: 10 + median(1, 2, 990) = 12.
  close(run(w(10), [[[11], 1], [[12], 1], [[1000], 1]], { aggregator: 'median', clipFactor: 0 }).out, [12]);
  // Trimmed mean, 5 updates, trimFraction 0.2 -> k = 1: mean of the middle three.
  const five: [number[], number][] = [[[1], 1], [[2], 1], [[3], 1], [[4], 1], [[100], 1]];
  close(run(w(0), five, { aggregator: 'trimmed-mean', clipFactor: 0 }).out, [3]);
  close(run(w(0), five, { aggregator: 'trimmed-mean', trimFraction: 0.4, clipFactor: 0 }).out, [3]);
  close(run(w(0), five, { aggregator: 'trimmed-mean', trimFraction: 0, clipFactor: 0 }).out, [22]);
  // Two updates: nothing can be trimmed, the median is their mean.
  close(run(w(0), [[[1], 1], [[3], 9]], { aggregator: 'trimmed-mean' }).out, [2]);
  close(run(w(0), [[[1], 1], [[3], 9]], { aggregator: 'median' }).out, [2]);
});

test('bad updates are rejected and leave the round untouched', () => {
  for (const s of [{}, { aggregator: 'median' as const }, { dp: { noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 } }]) {
    const agg = createAggregator([...w(0, 0), { name: 'b', shape: [1], data: new Float32Array(1) }], s, { noiseSeed: () => 'x' });
    const good = (v: number) => [...w(v, v), { name: 'b', shape: [1], data: Float32Array.from([v]) }];
    assert.throws(() => agg.add([...w(1, NaN), { name: 'b', shape: [1], data: new Float32Array(1) }], 1), /weight 'w' holds a non-finite value \(NaN\) at index 1/);
    assert.throws(() => agg.add(w(1, 1), 1), /lacks weight 'b'/);
    assert.throws(() => agg.add(good(1), 1.5), /sample count/);
    assert.equal(agg.count, 0);
    agg.add(good(2), 1);
    assert.equal(agg.count, 1);
    if (!('dp' in s)) assert.deepEqual([...agg.result()[0]!.data], [2, 2]);
  }
  assert.throws(() => createAggregator(w(0), {}).result(), /zero updates/);
  assert.throws(() => createAggregator(w(0), { aggregator: 'nope' as never }), /unknown aggregator 'nope'/);
  assert.throws(() => createAggregator(w(0), { aggregator: 'median', dp: { noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 } }), /dp needs aggregator 'mean'/);
  assert.throws(() => createAggregator(w(0), { maxSiteShare: 0 }), /maxSiteShare/);
});

test('DP: deltas clipped to clipNorm, equal weights, N(0, (z C / n)^2) per coordinate, reproducible from the seed', () => {
  const P = 40_000;
  const g: NamedArray[] = [{ name: 'w', shape: [P], data: new Float32Array(P).fill(0.5) }];
  const up = (v: number): NamedArray[] => [{ name: 'w', shape: [P], data: new Float32Array(P).fill(v) }];
  const dp = { noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 };
  const once = (samples: number[], seed: string, z = dp.noiseMultiplier) => {
    const log: string[] = [];
    const agg = createAggregator(g, { dp: { ...dp, noiseMultiplier: z } }, { noiseSeed: () => seed, audit: (e, _s, d) => log.push(`${e}: ${d}`) });
    // Deltas +1, +1, +1, -3 per coordinate: norms 200, 200, 200, 600, all clipped to 1.
    [1.5, 1.5, 1.5, -2.5].forEach((v, i) => assert.equal(agg.add(up(v), samples[i]!).scale, 1 / (Math.abs(v - 0.5) * Math.sqrt(P))));
    return { out: agg.result()[0]!.data, log };
  };
  const a = once([1, 1, 1, 1], 'seed:7');
  // Clipped deltas: +1/200 three times, -1/200 once; their mean is 0.0025 per coordinate, then noise of std 2 x 1 / 4 = 0.5.
  let m = 0;
  for (const x of a.out) m += x - 0.5;
  m /= P;
  let v = 0;
  for (const x of a.out) v += (x - 0.5 - m) ** 2;
  const sd = Math.sqrt(v / (P - 1));
  assert.ok(Math.abs(m - 0.0025) < 4 * (0.5 / Math.sqrt(P)), `mean shift ${m}`);
  assert.ok(Math.abs(sd - 0.5) < 0.01, `noise std ${sd}`);
  assert.match(a.log.join('\n'), /dp_noise: 4 update\(s\) clipped to 1, equal weights; noise std 0\.5000 per coordinate/);
  // Equal weights: claimed sample counts change nothing; the same seed and global model give the same noise.
  assert.deepEqual(once([1, 1, 1, 1e6], 'seed:7').out, a.out);
  assert.notDeepEqual(once([1, 1, 1, 1], 'seed:8').out, a.out);
  // Tiny noise: the mean of the clipped deltas itself.
  close(once([1, 1, 1, 1], 'seed:7', 1e-9).out.subarray(0, 5), [0.5025, 0.5025, 0.5025, 0.5025, 0.5025], 1e-6);
  const noSeed = createAggregator(g, { dp });
  noSeed.add(up(1), 1);
  assert.throws(() => noSeed.result(), /noise seed/);
});

test('noise seed: the configured one, else a random one kept in the meta table; the digest names the model', () => {
  const meta = new Map<string, string>();
  const m = { getMeta: (k: string) => meta.get(k) ?? null, setMeta: (k: string, v: string) => void meta.set(k, v) };
  assert.equal(noiseSeedOf(m, 42), 'seed:42');
  assert.equal(meta.size, 0);
  const r = noiseSeedOf(m, undefined);
  assert.match(r, /^random:[0-9a-f]{64}$/);
  assert.equal(noiseSeedOf(m, undefined), r, 'kept across rounds and restarts');
  assert.notEqual(modelDigest(w(1, 2)), modelDigest(w(1, 3)));
  assert.notEqual(modelDigest(w(1, 2)), modelDigest([{ name: 'v', shape: [2], data: Float32Array.from([1, 2]) }]));
});
