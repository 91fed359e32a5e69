// End to end with the REAL learner on tiny data: a hub and 2 source sites + 1 unseen (eval) site on
// loopback, each site's synthetic fundus images in its own store, 2 ELCFS rounds of the U-Net
// (32x32, base width 4). Every frame on the wire is inspected: only protocol messages whose schema
// allows nothing but spectrum windows, weights, counts and metrics — and no image bytes anywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessage, HUB_TO_SITE, SITE_TO_HUB, BANK_ENTRY_RE, WINDOW_ENTRY_RE, type HubMessage } from '../../core/contract/hub-protocol.js';
import { decodeWeights } from '../../core/contract/weights.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { Participation } from '../../core/run/participation.js';
import { listModelRecords } from '../../core/run/checkpoints.js';
import { participantData } from '../../core/store/sample-source.js';
import { createMemoryStore } from '../../core/store/memory-store.js';
import { runSite } from '../../core/federation/site-client.js';
import { tf } from '../../core/tf/tf.js';
import { useBackend } from '../helpers/leaks.js';
import { CONSENTING, startHub, tempDir, within } from './helpers/hub-harness.js';

test('real learner, ELCFS over loopback; the wire carries only windows, weights, counts and metrics', { timeout: 240_000 }, async () => {
  const report = await useBackend();
  const { dir, cleanup } = tempDir();
  const ac = new AbortController();
  try {
    const data = generateFundusSites({ sites: 3, perSite: 3, size: 32, seed: 5 });
    const names = data.map((d) => d.site);
    const { hub, url, tokens } = await startHub(dir, {
      mode: 'elcfs', rounds: 2, minSites: 2, roundTimeoutMs: 120_000, evalTimeoutMs: 60_000, siteTimeoutMs: 60_000,
      model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 4, seed: 7 },
      train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 },
    }, [{ name: names[0]! }, { name: names[1]! }, { name: names[2]!, role: 'eval' }]);
    const run = hub.run();
    const frames: { dir: 'in' | 'out'; data: Uint8Array | string; binary: boolean }[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const sites = data.map((d, k) => {
      const store = createMemoryStore();
      const ds = store.createDataset({ name: d.site, kind: 'fundus', channels: 3, classes: 2 });
      store.addSamples(ds.id, d.samples);
      const role = k === 2 ? 'eval' as const : 'train' as const;
      const trainer = new Participation({ ledger: store, data: participantData(store, ds.id), site: d.site, backend: report.name, seed: k });
      const p = runSite({ hubUrl: url, site: d.site, token: tokens[d.site]!, role, policy: CONSENTING, trainer, ledger: store, signal: ac.signal,
        tap: (dir, data, binary) => frames.push({ dir, data: typeof data === 'string' ? data : data.slice(), binary }) });
      return { store, trainer, p };
    });
    const res = await within(Promise.all([...sites.map((s) => s.p), run]), 170_000, 'learner run');
    for (const s of sites) s.trainer.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensors leaked by the site trainers');
    assert.equal((res[0] as { roundsTrained: number }).roundsTrained, 2);
    const evals = hub.state.listEvaluations();
    assert.deepEqual(evals.map((e) => e.round), [1, 2]);
    for (const e of evals) for (const k of ['dice_c0', 'dice_c1']) assert.ok(e.metrics[k]! >= 0 && e.metrics[k]! <= 1, `${k}=${e.metrics[k]}`);
    // Adam state persisted at each train site (kept across rounds, never sent): 2 rounds x 2 steps.
    for (const s of sites.slice(0, 2)) assert.ok(s.store.listCheckpoints().some((c) => c.meta.role === 'optimiser' && c.meta.step === 4), 'optimiser state after round 2');
    // Every site keeps every round's global model, the final one included, with the hub's spec (usable without side information).
    for (const s of sites) {
      const g = listModelRecords(s.store).filter((r) => r.meta.source === 'global');
      assert.deepEqual(g.map((r) => r.info.round), [1, 2], 'every global model is kept');
      for (const r of g) {
        assert.equal(r.meta.model.kind, 'unet');
        assert.deepEqual(r.meta.model.config, { baseWidth: 4, depth: 5 });
      }
    }

    // ---- wire inspection ----
    const modelNames = new Set(decodeWeights(hub.state.checkpoint(0)!.weights).arrays.map((a) => `${a.name}:${a.shape}`));
    assert.ok(modelNames.size > 10);
    const imageProbes = data.flatMap((d) => d.samples.map((s) => new Uint8Array(s.image.data.buffer, s.image.data.byteOffset + 4 * 200, 32)));
    const kinds = new Set<string>();
    for (const f of frames) {
      const d = decodeMessage(f.data, f.binary, { accept: f.dir === 'out' ? SITE_TO_HUB : HUB_TO_SITE }); // strict schemas: unknown keys rejected
      const m: HubMessage = d.msg;
      kinds.add(m.kind);
      if (!f.binary) {
        assert.ok(!/\[(\s*-?[\d.e+-]+\s*,){8,}/.test(f.data as string), `a text frame carries a number array: ${String(f.data).slice(0, 200)}`);
        continue;
      }
      for (const a of d.arrays!) {
        if (m.kind === 'spectrum_res') assert.ok(WINDOW_ENTRY_RE.test(a.name) && a.shape.join() === '3,3,3', `${a.name} [${a.shape}]`);
        else if (m.kind === 'spectrum_bank') assert.ok(BANK_ENTRY_RE.test(a.name) && a.shape.join() === '3,3,3', `${a.name} [${a.shape}]`);
        else assert.ok(modelNames.has(`${a.name}:${a.shape}`), `${m.kind} carries '${a.name}' [${a.shape}], not a model weight`);
      }
      const bytes = f.data as Uint8Array;
      for (const probe of imageProbes) assert.equal(Buffer.from(bytes).indexOf(Buffer.from(probe)), -1, `${m.kind} frame contains image bytes`);
    }
    for (const k of ['hello', 'welcome', 'spectrum_res', 'spectrum_bank', 'train_ins', 'train_res', 'evaluate_ins', 'evaluate_res', 'global_model', 'bye']) assert.ok(kinds.has(k), `no ${k} seen`);
    // Everything sent was audited with its size.
    for (const s of sites) assert.ok(s.store.listAudit({ direction: 'out' }).every((a) => a.bytes > 0));
    const outFrames = frames.filter((f) => f.dir === 'out').length;
    const outAudits = sites.reduce((n, s) => n + s.store.listAudit({ direction: 'out' }).length, 0);
    assert.equal(outAudits, outFrames, 'one audit entry per frame sent');
    await hub.stop();
  } finally {
    ac.abort();
    cleanup();
  }
});
