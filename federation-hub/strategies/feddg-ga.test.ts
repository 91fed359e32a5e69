// FedDG-GA's rule on hand-computed numbers (docs/feddg-ga.md §1): the step schedule, one adjustment
// with a clip to 0, all-zero and missing gaps; the strategy's rounds on a real SQLite hub state (timing,
// a re-run and a restarted hub, an absent site, an absurd loss). The hub config's checks:
// federation-hub/config.test.ts; the rule on a real hub with sites: test/federation/ga-rounds.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeWeights, type NamedArray } from '../../core/contract/weights.js';
import { parseHubConfig } from '../config.js';
import { HubState } from '../state.js';
import { adjustWeights, FedAvgGaStrategy, gaStep } from './feddg-ga.js';

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

test('the rule as the hub applies it: 3 sites, s = 0.2, R = 10, rounds 1 and 3', () => {
  const sites = ['A', 'B', 'C'];
  const equal = new Map(sites.map((k) => [k, 1 / 3]));
  // Round 1: d_1 = 0.2 x (1 - 0/10) = 0.2, d/K = 0.2/3. Gaps 0.1 / -0.05 / 0.05 -> max|G| 0.1 -> normalised 1 / -0.5 / 0.5:
  // A = 1/3 + 0.2/3 = 0.4, B = 1/3 - 0.1/3 = 0.3, C = 1/3 + 0.1/3 = 0.36667; sum 1.06667 -> 0.375, 0.28125, 0.34375.
  const r1 = adjustWeights(sites, equal, new Map([['A', 0.1], ['B', -0.05], ['C', 0.05]]), gaStep(0.2, 1, 10));
  close(r1.get('A')!, 0.375);
  close(r1.get('B')!, 0.28125);
  close(r1.get('C')!, 0.34375);
  // Round 3 from those weights: d_3 = 0.2 x (1 - 2/10) = 0.16, d/K = 0.053333. Gaps -0.4 / 0.2 / 0 -> -1 / 0.5 / 0:
  // A = 0.375 - 0.053333 = 0.321667, B = 0.28125 + 0.026667 = 0.307917, C = 0.34375; sum 0.973333
  // -> 0.330479, 0.316353, 0.353168.
  const r3 = adjustWeights(sites, r1, new Map([['A', -0.4], ['B', 0.2], ['C', 0]]), gaStep(0.2, 3, 10));
  close(r3.get('A')!, 0.321667 / 0.973333, 1e-6);
  close(r3.get('B')!, 0.307917 / 0.973333, 1e-6);
  close(r3.get('C')!, 0.34375 / 0.973333, 1e-6);
  // A site far below: weights 0.02 / 0.49 / 0.49, gaps -1 / 1 / 0 with d = 0.2: A = 0.02 - 0.0667 < 0 -> 0,
  // B = 0.49 + 0.0667 = 0.55667, C = 0.49; sum 1.04667 -> 0, 0.531847, 0.468153.
  const clipped = adjustWeights(sites, new Map([['A', 0.02], ['B', 0.49], ['C', 0.49]]), new Map([['A', -1], ['B', 1], ['C', 0]]), 0.2);
  assert.equal(clipped.get('A'), 0);
  close(clipped.get('B')!, 0.556667 / 1.046667, 1e-6);
  close(clipped.get('C')!, 0.49 / 1.046667, 1e-6);
  // All gaps 0 (max|G| = 0): nothing moves, no division by zero.
  assert.deepEqual([...adjustWeights(sites, r1, new Map(sites.map((k) => [k, 0])), 0.2)], [...r1]);
  // A site new to the weights enters at 1/K = 1/4 before the renormalisation: 0.375, 0.28125, 0.34375, 0.25 over 1.25.
  const joined = adjustWeights([...sites, 'D'], r1, new Map(), 0.2);
  close(joined.get('D')!, 0.2);
  close(joined.get('A')!, 0.3);
});

const tensor = (v: number): NamedArray[] => [{ name: 'w', shape: [1], data: Float32Array.from([v]) }];

test('the strategy over rounds on a real hub state: the previous round\'s gaps, the same weights after a re-run or a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-ga-'));
  const db = join(dir, 'hub.db');
  const config = parseHubConfig({ strategy: 'fedavg-ga', rounds: 10, minSites: 2, clipFactor: 0, maxSiteShare: 1, db });
  let state = new HubState(db);
  const log: string[] = [];
  const strategyOn = (st: HubState) => new FedAvgGaStrategy({ config, state: st, log: (l) => log.push(l), send: () => {}, changed: () => {} });
  let strategy = strategyOn(state);
  // Site A's update is 1, B's 2, C's 3 (from a global of 0); each reports [val_loss_global, val_loss_local].
  const target: Record<string, number> = { A: 1, B: 2, C: 3 };
  const aggregate = (reports: Record<string, [number, number]>) => {
    const agg = strategy.aggregator(tensor(0));
    for (const [site, [g, l]] of Object.entries(reports)) agg.add(tensor(target[site]!), 10 * target[site]!, site, { val_loss_global: g, val_loss_local: l });
    return { value: agg.result()[0]!.data[0]!, perSite: agg.siteMetrics!() };
  };
  const complete = (round: number, sites: string[]) => {
    state.openRound(round, 'fedavg-ga', sites);
    state.completeRound({ round, accepted: sites, rejected: [], numSamples: 0, metrics: {} }, encodeWeights(tensor(0)), `h${round}`, 0);
  };
  try {
    // Round 1: equal weights whatever the losses (no local loss of a round 0): (1 + 2 + 3) / 3 = 2, not 2.33 by counts.
    const r1 = aggregate({ A: [0.9, 0.2], B: [0.9, 0.3], C: [0.9, 0.4] });
    close(r1.value, 2, 1e-6);
    assert.deepEqual(r1.perSite.A, { ga_weight: 1 / 3 });
    complete(1, ['A', 'B', 'C']);
    // Round 2: gaps of round 1 = L(global_1) now - L(local_1) then = 0.5-0.2, 0.3-0.3, 0.4-0.4 = 0.3, 0, 0; d_1 = 0.2:
    // 0.375 / 0.3125 / 0.3125 -> 0.375 + 0.625 + 0.9375 = 1.9375.
    const round2 = { A: [0.5, 0.1], B: [0.3, 0.2], C: [0.4, 0.5] } satisfies Record<string, [number, number]>;
    const r2 = aggregate(round2);
    close(r2.value, 1.9375, 1e-6);
    close(r2.perSite.A!.ga_weight!, 0.375);
    close(r2.perSite.A!.ga_gap!, 0.3);
    assert.equal(r2.perSite.B!.ga_gap, 0);
    // The round re-run (hub stopped before completing it), then by a restarted hub on the same file: the same model.
    close(aggregate(round2).value, 1.9375, 1e-6);
    state.close();
    state = new HubState(db);
    strategy = strategyOn(state);
    close(aggregate(round2).value, 1.9375, 1e-6);
    complete(2, ['A', 'B', 'C']);
    // Round 3 without C; A's global loss 5 is out of range: no gap for A (audited), B's gap 0.4 - 0.2 = 0.2 is the largest.
    // d_2 = 0.2 x (1 - 1/10) = 0.18, K = 2: B = 0.3125 + 0.09 = 0.4025, A stays 0.375; over 0.7775 -> 0.482315 / 0.517685
    // -> 0.482315 + 2 x 0.517685 = 1.517685.
    const r3 = aggregate({ A: [5, 0.1], B: [0.4, 0.2] });
    close(r3.value, 1.517685, 1e-5);
    assert.equal(r3.perSite.A!.ga_gap, undefined);
    assert.match(state.listAudit({ event: 'ga_loss_ignored' }).map((a) => `${a.site}: ${a.detail}`).join('\n'), /^A: round 3: val_loss_global 5 is not in \[0, 1\]/);
    complete(3, ['A', 'B']);
    // Round 4, C back with its last weight 0.3125 and no gap (no local loss in round 3); A's gap 0.3 - 0.1 = 0.2, B's 0.2 - 0.2 = 0;
    // d_3 = 0.16, K = 3: A = 0.482315 + 0.053333 = 0.535648, B 0.517685, C 0.3125; over 1.365833
    // -> 0.392177 / 0.379025 / 0.228798 -> 1.836621.
    const r4 = aggregate({ A: [0.3, 0.1], B: [0.2, 0.2], C: [0.6, 0.6] });
    close(r4.value, 1.836621, 1e-5);
    close(r4.perSite.C!.ga_weight!, 0.228798, 1e-5);
    assert.deepEqual(state.listAudit({ event: 'ga_weights' }).map((a) => a.detail).slice(-1), ['round 4: A 0.3922, B 0.3790, C 0.2288']);
    assert.ok(log.some((l) => l === 'round 4: FedDG-GA weights A 0.3922, B 0.3790, C 0.2288'), log.join('\n'));
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
