// The app's Segment view and `fedseg eval` see a model the same way: for every stored sample and
// model, runSegmentation's Dice equals eval's per-image Dice (same input normalisation, padding,
// post-processing and metric), for a z-scored U-Net on images whose size needs padding and for a
// softmax ASCNet-7.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf/tf.js';
import type { ModelSpecInput } from '../contract/model-spec.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights, toNamedArrays } from '../models/weight-map.js';
import { saveModel } from '../run/checkpoints.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { run as evalCli, type EvalReport } from '../cli/cmd-eval.js';
import { captureCli } from '../../test/helpers/cli-capture.js';
import { useBackend } from '../../test/helpers/leaks.js';
import { createEngine, type Engine } from './engine.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-segment-'));
const db = join(dir, 'site.db');
const cases: { dataset: string; datasetId: string; modelId: string; count: number }[] = [];
let engine: Engine;

function storeModel(spec: ModelSpecInput, name: string, bias?: number[]): number {
  const net = buildNetwork(spec);
  const w = net.model.init(11);
  if (bias) {
    const b = w['seg1.bias']!;
    w['seg1.bias'] = tf.tensor1d(bias);
    b.dispose();
  }
  const store = openSqliteStore(db);
  try {
    return saveModel(store, { name, spec: net.spec, arrays: toNamedArrays(w), source: 'local' }).id;
  } finally {
    disposeWeights(w);
    store.close();
  }
}

before(async () => {
  await useBackend('wasm');
  const store = openSqliteStore(db);
  // 30x30 fundus images: a depth-3 U-Net needs multiples of 4, so inference pads and crops.
  const fundus = generateFundusSites({ sites: 1, perSite: 4, size: 32, seed: 6 })[0]!.samples.map((s) => {
    const crop = (d: Float32Array | Uint8Array, c: number) => {
      const out = new (d.constructor as Float32ArrayConstructor | Uint8ArrayConstructor)(30 * 30 * c);
      for (let y = 0; y < 30; y++) out.set(d.subarray(y * 32 * c, y * 32 * c + 30 * c), y * 30 * c);
      return out;
    };
    return { name: s.name, image: { width: 30, height: 30, channels: 3, data: crop(s.image.data, 3) as Float32Array }, mask: { width: 30, height: 30, classes: 2, data: crop(s.mask.data, 2) as Uint8Array } };
  });
  const f = store.createDataset({ name: 'fundus30', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
  store.addSamples(f.id, fundus);
  const cells = generateCellSites({ size: 24, perSite: 3, seed: 8 })[0]!.samples;
  const c = store.createDataset({ name: 'cells', kind: 'cells', channels: 1, classes: 2, classNames: ['cell', 'nucleus'] });
  store.addSamples(c.id, cells);
  store.close();
  const unet = storeModel({ kind: 'unet', inChannels: 3, classes: 2, input: { normalise: 'zscore' }, config: { baseWidth: 4, depth: 3 } }, 'zscored unet', [1.5, 0.2]);
  const asc = storeModel({ kind: 'ascnet-7', inChannels: 1, classes: 2 }, 'ascnet');
  cases.push({ dataset: 'fundus30', datasetId: String(f.id), modelId: String(unet), count: fundus.length });
  cases.push({ dataset: 'cells', datasetId: String(c.id), modelId: String(asc), count: cells.length });
  engine = await createEngine({ dbPath: db, mode: 'browser' });
});

after(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('runSegmentation Dice equals fedseg eval per-image Dice, sample by sample', async () => {
  for (const c of cases) {
    const r = await captureCli(evalCli, ['--checkpoint', c.modelId, '--db', db, '--dataset', c.dataset, '--split', 'all', '--threshold', '0.5', '--json', '--backend', 'wasm']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as EvalReport;
    assert.equal(rep.perImage.length, c.count);
    let nonTrivial = 0;
    for (let i = 0; i < c.count; i++) {
      const seg = await engine.handlers.runSegmentation({ modelId: c.modelId, datasetId: c.datasetId, index: i, threshold: 0.5 });
      assert.ok(seg.metrics, `${c.dataset} #${i} has metrics`);
      assert.deepEqual(seg.metrics.dice, rep.perImage[i]!.dice, `${c.dataset} #${i}: Segment view vs fedseg eval`);
      assert.deepEqual(seg.metrics.hd95, rep.perImage[i]!.hd95);
      assert.equal(seg.prediction.width, c.dataset === 'fundus30' ? 30 : 24, 'the prediction is cropped back to the image');
      if (seg.metrics.dice.some((d) => d > 0 && d < 1)) nonTrivial++;
    }
    assert.ok(nonTrivial > 0, `${c.dataset}: the comparison is not all-empty predictions`);
  }
});
