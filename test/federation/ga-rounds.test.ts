// FedDG-GA on a real hub (ws on 127.0.0.1, real SQLite; docs/feddg-ga.md §1-4): light arithmetic sites
// whose every weight becomes their target 1, 2 or 3 report chosen validation losses, and the global
// model of rounds 1-3 equals the GA-weighted mean of the targets computed by hand (not the mean by
// sample counts); the weights are in the audit log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeWeights } from '../../core/contract/weights.js';
import type { TrainRequest } from '../../core/federation/trainer.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { site, startHub, tempDir, within } from './helpers/hub-harness.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

/** Reports chosen validation losses with its (arithmetic) update. */
class ReportingTrainer extends FakeTrainer {
  constructor(target: number, private readonly losses: Record<number, { global: number; local: number }>) {
    super({ target, samples: 10 + target * 7, step: 1 });
  }

  override async train(req: TrainRequest) {
    const r = await super.train(req);
    const l = this.losses[req.round]!;
    return { ...r, metrics: { ...r.metrics, val_loss_global: l.global, val_loss_local: l.local } };
  }
}

test('on a real hub the global model is the GA-weighted mean for the reported losses (not the sample-weighted one)', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, {
      strategy: 'fedavg-ga', rounds: 3, minSites: 3, evaluate: 'none', maxSiteShare: 1, clipFactor: 0,
    }, [{ name: 'A' }, { name: 'B' }, { name: 'C' }]);
    const run = hub.run();
    // Round 1's global losses are unused (no previous local model). Gaps: round 1 = (0.5-0.2, 0.3-0.3, 0.4-0.4)
    // = (0.3, 0, 0); round 2 = (0.2-0.1, 0.4-0.2, 0.3-0.5) = (0.1, 0.2, -0.2).
    const losses: Record<string, Record<number, { global: number; local: number }>> = {
      A: { 1: { global: 0.9, local: 0.2 }, 2: { global: 0.5, local: 0.1 }, 3: { global: 0.2, local: 0.1 } },
      B: { 1: { global: 0.9, local: 0.3 }, 2: { global: 0.3, local: 0.2 }, 3: { global: 0.4, local: 0.2 } },
      C: { 1: { global: 0.9, local: 0.4 }, 2: { global: 0.4, local: 0.5 }, 3: { global: 0.3, local: 0.5 } },
    };
    const sites = ['A', 'B', 'C'].map((n, i) => site(url, n, tokens[n]!, new ReportingTrainer(i + 1, losses[n]!)));
    await within(Promise.all([...sites.map((s) => s.promise), run]), 50_000, 'GA run');
    const globalAt = (r: number) => decodeWeights(hub.state.checkpoint(r)!.weights).arrays.flatMap((a) => [...a.data]);
    // Round 1: equal weights -> (1 + 2 + 3) / 3 = 2 (by sample counts 17/24/31 it would be 2.19).
    for (const v of globalAt(1)) close(v, 2, 1e-6);
    // Round 2: weights 0.375 / 0.3125 / 0.3125 (the adjustment above) -> 1.9375.
    for (const v of globalAt(2)) close(v, 1.9375, 1e-6);
    // Round 3: step 0.2 (1 - 1/3); A = 0.375 + (0.1333/3)(0.5), B = 0.3125 + (0.1333/3)(1), C = 0.3125 - (0.1333/3)(1),
    // renormalised: 0.388587 / 0.349185 / 0.262228 -> 1.873641.
    for (const v of globalAt(3)) close(v, 1.8736413043478264, 1e-5);
    // The round record shows each site's weight and gap next to what it reported (fedseg-hub, the experiment runner).
    const rec = hub.state.listRounds().find((r) => r.round === 2)!;
    assert.deepEqual(Object.fromEntries(Object.entries(rec.metrics).map(([k, m]) => [k, [m.ga_weight, m.ga_gap, m.val_loss_global, m.numSamples]])),
      { A: [0.375, 0.3, 0.5, 17], B: [0.3125, 0, 0.3, 24], C: [0.3125, 0, 0.4, 31] });
    const logged = hub.state.listAudit({ event: 'ga_weights' }).map((a) => a.detail);
    assert.deepEqual(logged, ['round 1: A 0.3333, B 0.3333, C 0.3333', 'round 2: A 0.3750, B 0.3125, C 0.3125', 'round 3: A 0.3886, B 0.3492, C 0.2622']);
    await hub.stop();
  } finally {
    cleanup();
  }
});
