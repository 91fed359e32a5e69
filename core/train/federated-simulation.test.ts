// A short in-process federation on tiny synthetic multi-site fundus data (4 sites, 32x32, 6 training
// images per source site, U-Net base width 8 / depth 3, 5 rounds x 1 local epoch, batch 4, Adam lr 2e-3):
// the unseen site's optic-disc Dice must end above 0.6 and gain >= 0.2 over round 1, for both FedAvg and
// ELCFS. Measured when written: FedAvg 0.19 -> 0.79, ELCFS 0.00 -> 0.81 (cup Dice stays low at 32x32).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { createUNet } from '../models/unet.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { runFederatedSimulation, disposeWeights, type RoundMetrics } from './federated-simulation.js';
import { useBackend } from '../../test/helpers/leaks.js';

before(async () => {
  await useBackend();
});

const data = generateFundusSites({ sites: 4, perSite: 6, size: 32, seed: 3 });
const sites = data.map((d) => ({ site: d.site, samples: d.samples }));
const model = createUNet({ inChannels: 3, classes: 2, baseWidth: 8, depth: 3 });

for (const mode of ['fedavg', 'elcfs'] as const) {
  test(`${mode}: unseen-site disc Dice rises above 0.6 in 5 rounds; per-round metrics; no leaks`, async () => {
    const before = tf.memory().numTensors;
    const seen: RoundMetrics[] = [];
    const res = await runFederatedSimulation({
      model,
      sites,
      unseen: data[1]!.site,
      rounds: 5,
      seed: 1,
      mode,
      batchSize: 4,
      adamConfig: { lr: 2e-3 },
      onRound: (m) => seen.push(m),
    });
    assert.equal(res.rounds.length, 5);
    assert.deepEqual(seen, res.rounds);
    for (const r of res.rounds) {
      assert.equal(r.unseen.site, data[1]!.site);
      assert.equal(r.unseen.images, 6);
      assert.deepEqual(r.sites.map((s) => s.site), [data[0]!.site, data[2]!.site, data[3]!.site]);
      if (mode === 'elcfs') assert.ok(r.sites.every((s) => s.meanLosses.boundary > 0 && s.meanLosses.metaDice > 0));
    }
    const first = res.rounds[0]!.unseen.meanDice[0]!;
    const last = res.rounds[4]!.unseen.meanDice[0]!;
    assert.ok(last > 0.6, `final unseen disc Dice ${last.toFixed(3)} (round 1: ${first.toFixed(3)})`);
    assert.ok(last - first >= 0.2, `disc Dice gain ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    assert.ok(res.rounds[4]!.sites.every((s) => s.meanLosses.inner < res.rounds[0]!.sites[0]!.meanLosses.inner));
    disposeWeights(res.weights);
    assert.equal(tf.memory().numTensors, before, 'the simulation leaked tensors');
  });
}

test('simulation rejects an unknown unseen site', async () => {
  await assert.rejects(runFederatedSimulation({ model, sites, unseen: 'Nowhere', rounds: 1, seed: 1, mode: 'fedavg' }), /unseen site 'Nowhere'/);
});
