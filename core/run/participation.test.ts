// A site's validation split for FedDG-GA (docs/feddg-ga.md §2), on a real SQLite store: with
// valFraction the site holds out the same images every round, trains on the rest (numSamples), and
// reports the validation loss (1 - mean Dice) of the received global model and of its local model;
// without it nothing is held out. No tensors leak. The split itself: stable under reordering, sizes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TrainConfig } from '../contract/hub-protocol.js';
import type { ModelSpec } from '../contract/model-spec.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights, toNamedArrays, toWeightMap } from '../models/weight-map.js';
import { participantData } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { tf } from '../tf/tf.js';
import { useBackend } from '../../test/helpers/leaks.js';
import { evaluateNetwork } from './evaluation.js';
import { Participation, validationSplit } from './participation.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-participation-'));
before(async () => {
  await useBackend();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('validation split: by name hash, the same whatever the order, at least one image, never all', () => {
  const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
  const samples = Array.from({ length: 10 }, (_, i) => ({ name: `img-${i}.png` }));
  const a = validationSplit(samples, 0.2);
  const b = validationSplit([...samples].reverse(), 0.2);
  assert.equal(a.val.length, 2);
  assert.equal(a.fit.length, 8);
  assert.deepEqual(names(a.val), names(b.val));
  assert.deepEqual(names([...a.fit, ...a.val]), names(samples));
  // A different set of names gives a different split (it is the names, not the positions).
  const other = validationSplit(samples.map((s) => ({ name: `x-${s.name}` })), 0.2);
  assert.notDeepEqual(names(other.val).map((n) => n.slice(2)), names(a.val));
  assert.equal(validationSplit(samples, 0.01).val.length, 1, 'at least one');
  assert.equal(validationSplit(samples.slice(0, 2), 0.5).fit.length, 1, 'never all');
  assert.equal(validationSplit(samples.slice(0, 1), 0.5).val.length, 0, 'one image: no split');
  assert.equal(validationSplit(samples, 0).val.length, 0);
  assert.equal(validationSplit(samples, undefined).fit.length, 10);
});

test('valFraction: a stable validation split, its size out of numSamples, both validation losses reported', { timeout: 120_000 }, async () => {
  const store = openSqliteStore(join(dir, 'site.db'));
  try {
    const ds = store.createDataset({ name: 'A', kind: 'fundus', channels: 3, classes: 2 });
    store.addSamples(ds.id, generateFundusSites({ sites: 1, perSite: 5, size: 32, seed: 2 })[0]!.samples);
    const spec = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } }).spec as ModelSpec;
    const net = buildNetwork(spec);
    const init = net.model.init(3);
    const global = toNamedArrays(init);
    disposeWeights(init);
    const p = new Participation({ ledger: store, data: participantData(store, ds.id), site: 'A', backend: tf.getBackend(), seed: 1 });
    const before = tf.memory().numTensors;
    const train = (round: number, config: Partial<TrainConfig>) => p.train({
      round, mode: 'fedavg', model: spec, runKey: 'hub:run', global, bank: [], onProgress: () => {},
      config: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0, maxStepsPerEpoch: 1, ...config },
    });
    const r1 = await train(1, { valFraction: 0.4 });
    const r2 = await train(2, { valFraction: 0.4 });
    assert.equal(r1.numSamples, 3);
    assert.equal(r1.metrics.val_images, 2);
    for (const r of [r1, r2]) for (const k of ['val_loss_global', 'val_loss_local']) assert.ok(r.metrics[k]! >= 0 && r.metrics[k]! <= 1, `${k} ${r.metrics[k]}`);
    // The same global model on the same held-out images: the same loss in both rounds, and it is
    // 1 - mean Dice of that model on exactly the split's images.
    assert.equal(r1.metrics.val_loss_global, r2.metrics.val_loss_global);
    const { val } = validationSplit(participantData(store, ds.id).train(), 0.4);
    const gw = toWeightMap(global, net.shapes);
    const ev = await evaluateNetwork(net, gw, val);
    disposeWeights(gw);
    assert.ok(Math.abs(r1.metrics.val_loss_global! - (1 - (ev.meanDice[0]! + ev.meanDice[1]!) / 2)) < 1e-12);
    assert.ok(r1.metrics.val_loss_global! > 0 && r1.metrics.val_loss_global! < 1, 'a loss that tells models apart');
    // The local model is another model: after one step its loss differs from the global one's.
    assert.notEqual(r1.metrics.val_loss_local, r1.metrics.val_loss_global);
    const plain = await train(3, {});
    assert.equal(plain.numSamples, 5);
    assert.equal(plain.metrics.val_loss_global, undefined);
    p.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensors leak (the optimiser state is disposed)');
  } finally {
    store.close();
  }
});
