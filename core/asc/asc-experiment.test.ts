// The cross-validation engine in-process on tiny RGB cell images: colour kept (a 3-channel network),
// --grey gives a 1-channel one, --size resamples; the per-fold metrics and their mean ± std; no tensors
// left behind; and the errors: non-nested masks, mixed image sizes, a class-name mismatch. Plus the
// metric definitions (empty prediction / ground truth), luma and mean ± std on hand-made values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { useBackend } from '../../test/helpers/leaks.js';
import type { Sample } from '../contract/image.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { checkSoftmaxMasks, foldMetrics, formatCvTable, formatRateGrowth, formatTercileTable, meanStd, prepareSamples, runCrossValidation, toLuma } from './asc-experiment.js';

function rgbCells(size: number, perSite: number): Sample[] {
  return generateCellSites({ size, perSite, seed: 9 }).flatMap((s) => s.samples).map((x) => {
    const n = x.image.width * x.image.height;
    const d = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      const v = x.image.data[i]!;
      d[3 * i] = v;
      d[3 * i + 1] = 0.5 * v;
      d[3 * i + 2] = 255 - v;
    }
    return { ...x, image: { ...x.image, channels: 3, data: d } };
  });
}

test('cross-validation keeps RGB, folds cover the images once, metrics are mean ± std of the folds', async () => {
  await useBackend('wasm');
  const before = tf.memory().numTensors;
  const samples = rgbCells(16, 3);
  const lines: string[] = [];
  const ds = { name: 'rgb', classNames: ['cell', 'nucleus'], samples };
  const res = await runCrossValidation(ds, { models: ['cnn-7', 'ascnet-7'], folds: 3, steps: 2, seed: 4 }, 'wasm', (l) => lines.push(l));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.equal(res.dataset.channels, 3);
  assert.deepEqual(res.folds.flat().sort(), samples.map((s) => s.name).sort());
  assert.deepEqual(res.folds.map((f) => f.length), [2, 2, 2]);
  for (const m of res.models) {
    for (const c of m.classes) {
      assert.equal(c.perFold.length, 3);
      const d = c.perFold.map((x) => x.dice);
      assert.ok(Math.abs(c.dice.mean - d.reduce((a, b) => a + b, 0) / 3) < 1e-12);
      assert.ok(Math.abs(c.dice.std - meanStd(d).std) < 1e-12);
    }
    assert.equal(m.medianRate !== null, m.model === 'ascnet-7');
  }
  assert.ok(lines.some((l) => /^ascnet-7 fold 3\/3: step 2\/2 loss/.test(l)));
  assert.ok(lines.some((l) => /^cnn-7 fold 1\/3: Dice cell \d\.\d{3}, nucleus \d\.\d{3}$/.test(l)));
  assert.equal(formatCvTable(res).split('\n').length, 2 + 4);
  assert.equal(formatTercileTable(res.models).split('\n').length, 2 + 2 * 2 * 3);
  assert.ok(formatRateGrowth(res.models).every((l) => l.startsWith('ascnet-7 ')));

  // The same folds for the same seed; grey and a resampled size change the network input.
  const grey = await runCrossValidation(ds, { models: ['cnn-7'], folds: 3, steps: 1, seed: 4, grey: true, size: 24 }, 'wasm');
  assert.deepEqual(grey.folds, res.folds);
  assert.deepEqual([grey.dataset.channels, grey.dataset.width, grey.dataset.height], [1, 24, 24]);
});

test('masks and sizes are checked before training', async () => {
  const samples = rgbCells(16, 2);
  // A nucleus outside its cell: not nested.
  const bad = samples.map((s, i) => (i === 0 ? { ...s, mask: { ...s.mask, data: s.mask.data.map((v, j) => (j % 2 === 1 ? 1 : v)) } } : s));
  await assert.rejects(runCrossValidation({ name: 'd', classNames: ['cell', 'nucleus'], samples: bad }, { models: ['cnn-7'], folds: 2, steps: 1, seed: 0 }, 'wasm'), /mask class 1 is not inside class 0 .*nested masks/);
  await assert.rejects(runCrossValidation({ name: 'd', classNames: ['cell'], samples }, { models: ['cnn-7'], folds: 2, steps: 1, seed: 0 }, 'wasm'), /names 1 class\(es\) but its masks have 2/);
  const mixed = [...samples, ...rgbCells(32, 1)];
  assert.throws(() => prepareSamples(mixed, {}), /is 32x32x3, others 16x16x3; resample them to one size \(--size N\)/);
  assert.equal(prepareSamples(mixed, { size: 16 }).length, mixed.length);
  assert.throws(() => checkSoftmaxMasks(samples, 3, 'x'), /has 2 mask class\(es\), the dataset 3/);
  await assert.rejects(runCrossValidation({ name: 'd', classNames: ['cell', 'nucleus'], samples: samples.slice(0, 2) }, { models: ['cnn-7'], folds: 2, steps: 1, seed: 0 }, 'wasm'), /fold 1 has 1 training image\(s\), fewer than the batch size 2/);
});

test('fold metrics, luma, mean ± std on hand-made values', () => {
  // Image 1: tp 2, |P| 4, |G| 2. Image 2: nothing predicted, |G| 3. Image 3: both empty.
  const m = foldMetrics([{ tp: 2, p: 4, g: 2 }, { tp: 0, p: 0, g: 3 }, { tp: 0, p: 0, g: 0 }]);
  assert.ok(Math.abs(m.dice - (4 / 6 + 0 + 1) / 3) < 1e-12);
  assert.equal(m.precision, 0.5, 'only images with a prediction');
  assert.equal(m.recall, (1 + 0) / 2, 'only images with ground truth');
  assert.equal(m.pooledDice, 4 / 9);
  const l = toLuma({ width: 1, height: 1, channels: 3, data: Float32Array.of(100, 200, 50) });
  assert.equal(l.channels, 1);
  assert.ok(Math.abs(l.data[0]! - (29.9 + 117.4 + 5.7)) < 1e-4);
  assert.deepEqual(meanStd([1, 3]), { mean: 2, std: Math.SQRT2 });
  assert.deepEqual(meanStd([5]), { mean: 5, std: 0 });
});
