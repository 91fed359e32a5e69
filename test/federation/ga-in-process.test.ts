// elcfs-ga with the real learner (docs/feddg-ga.md §1-5): the hub's round runner and strategy, the site
// client and the run API's Participation over the in-memory transport; 3 synthetic fundus train sites
// (32x32, 6 images each) and one unseen site, U-Net base width 8 / depth 3, 3 rounds x 2 local epochs. Each site holds
// out its default validation split (0.2 of 6 = 1 image), trains ELCFS on the other 5, reports both
// validation losses; the round records carry the weights, equal in round 1 and then the rule applied to
// the losses the sites reported (the previous round's gaps).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../core/tf/tf.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { Participation } from '../../core/run/participation.js';
import { createMemoryStore } from '../../core/store/memory-store.js';
import { participantData } from '../../core/store/sample-source.js';
import { adjustWeights, gaStep } from '../../federation-hub/strategies/feddg-ga.js';
import { useBackend } from '../helpers/leaks.js';
import { site, startHub, tempDir, within } from './helpers/hub-harness.js';

before(async () => {
  await useBackend();
});

test('elcfs-ga with real sites: validation losses reported, weights recorded and following the rule, no leaks', { timeout: 180_000 }, async () => {
  const data = generateFundusSites({ sites: 4, perSite: 6, size: 32, seed: 5 });
  const unseen = data[3]!.site;
  const trainSites = data.filter((d) => d.site !== unseen).map((d) => d.site).sort();
  const { dir, cleanup } = tempDir();
  const before = tf.memory().numTensors;
  try {
    // No GA key at all: the strategy's defaults (valFraction 0.2, gaStepSize 0.2) apply.
    const { hub, url, tokens, config } = await startHub(dir, {
      strategy: 'elcfs-ga', rounds: 3, minSites: 3, evaluate: 'eval', roundTimeoutMs: 120_000, siteTimeoutMs: 120_000,
      model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 8, depth: 3 } }, initSeed: 1,
      train: { localEpochs: 2, batchSize: 4, lr: 4e-3, alpha: 0.003, maxStepsPerEpoch: 0 },
    }, data.map((d) => ({ name: d.site, role: d.site === unseen ? 'eval' as const : 'train' as const })), { transport: 'memory' });
    assert.equal(config.train.valFraction, 0.2);
    const run = hub.run();
    const parts = data.map((d, k) => {
      const store = createMemoryStore();
      const ds = store.createDataset({ name: d.site, kind: 'fundus', channels: 3, classes: 2 });
      store.addSamples(ds.id, d.samples);
      const trainer = new Participation({ ledger: store, data: participantData(store, ds.id), site: d.site, backend: tf.getBackend(), seed: k });
      return { trainer, s: site(url, d.site, tokens[d.site]!, trainer, { role: d.site === unseen ? 'eval' : 'train' }) };
    });
    await within(Promise.all([...parts.map((p) => p.s.promise), run]), 150_000, 'elcfs-ga federation');
    const rounds = hub.state.listRounds().sort((a, b) => a.round - b.round);
    assert.equal(rounds.length, 3);
    let prev: Map<string, number> | null = null;
    for (const r of rounds) {
      assert.deepEqual([...r.accepted].sort(), trainSites);
      const m = r.metrics;
      for (const s of trainSites) {
        const x = m[s]!;
        assert.equal(x.numSamples, 5, 'the validation image is not trained on');
        assert.equal(x.val_images, 1);
        for (const k of ['val_loss_global', 'val_loss_local'] as const) assert.ok(x[k]! >= 0 && x[k]! <= 1, `${s} round ${r.round} ${k} ${x[k]}`);
        assert.ok(x.loss_boundary! > 0, 'ELCFS local training ran (boundary loss)');
      }
      const w = new Map(trainSites.map((s) => [s, m[s]!.ga_weight!]));
      if (!prev) {
        for (const v of w.values()) assert.ok(Math.abs(v - 1 / 3) < 1e-12);
      } else {
        // Round r's weights: round r-1's, adjusted by the gaps L(global_{r-1}) (reported now) - L(local_{r-1}) (reported then).
        const before = rounds.find((x) => x.round === r.round - 1)!.metrics;
        const gaps = new Map(trainSites.map((s) => [s, m[s]!.val_loss_global! - before[s]!.val_loss_local!]));
        // Losses that tell models apart (not all 1 = nothing predicted): the rule has something to act on.
        assert.ok([...gaps.values()].some((g) => Math.abs(g) > 1e-3), `round ${r.round} gaps ${[...gaps.values()].join(', ')}`);
        const want = adjustWeights(trainSites, prev, gaps, gaStep(0.2, r.round - 1, config.rounds));
        for (const s of trainSites) {
          assert.ok(Math.abs(m[s]!.ga_gap! - gaps.get(s)!) < 1e-12, `${s} gap`);
          assert.ok(Math.abs(w.get(s)! - want.get(s)!) < 1e-12, `${s} round ${r.round}: ${w.get(s)} vs ${want.get(s)}`);
        }
      }
      assert.ok(Math.abs([...w.values()].reduce((a, b) => a + b, 0) - 1) < 1e-12);
      prev = w;
    }
    assert.equal(hub.state.listAudit({ event: 'ga_weights' }).length, 3);
    assert.equal(hub.state.listEvaluations().filter((e) => e.site === unseen).length, 3);
    await hub.stop();
    for (const p of parts) p.trainer.dispose();
    assert.equal(tf.memory().numTensors, before, 'the federation leaked tensors');
  } finally {
    cleanup();
  }
});
