import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf/tf.js';
import { createUNet } from './unet.js';
import { encodeModel, decodeModel, loadModel, saveModelFile, loadModelFile, modelSpecOf, weightsToNamedArrays, weightsToNamedArraysAsync, encodeModelAsync, namedArraysToWeights } from './model-io.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { encodeWeights } from '../contract/weights.js';

before(async () => {
  await useBackend();
});

const model = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });

test('save/load round trip is bit-exact, keyed by name, and rebuilds the same network', async () => {
  const w = model.init(5);
  // Include awkward float32 values (subnormal, -0, large) to prove bit-exactness.
  const special = tf.tensor1d([1e-45, -0, 3.4e38, -1.17549435e-38]);
  const bias = w['seg1.bias']!;
  w['seg1.bias'] = tf.tidy(() => tf.slice(special, 0, 2));
  bias.dispose();
  special.dispose();
  const dir = await mkdtemp(join(tmpdir(), 'fedseg-io-'));
  try {
    await assertNoLeaks(async () => {
      const path = join(dir, 'm.fsw');
      await saveModelFile(path, modelSpecOf(model), w, { meta: { round: 7 } });
      const back = await loadModelFile(path);
      assert.equal(back.model.kind, 'unet');
      assert.deepEqual(back.spec.config, model.config);
      assert.deepEqual(back.meta, { round: 7 });
      assert.deepEqual(Object.keys(back.weights).sort(), Object.keys(w).sort());
      for (const n of Object.keys(w)) {
        const a = new Uint32Array((w[n]!.dataSync() as Float32Array).slice().buffer);
        const b = new Uint32Array((back.weights[n]!.dataSync() as Float32Array).slice().buffer);
        assert.deepEqual(b, a, `weight ${n} is not bit-identical`);
      }
      // The rebuilt network gives the same output.
      tf.tidy(() => {
        const x = tf.randomUniform([1, 8, 8, 3], 0, 255, 'float32', 2) as tf.Tensor4D;
        assert.deepEqual(back.model.forward(back.weights, x).probs.dataSync(), model.forward(w, x).probs.dataSync());
      });
      for (const t of Object.values(back.weights)) t.dispose();
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
    for (const t of Object.values(w)) t.dispose();
  }
});

test('float16 option, named-array helpers, and clear errors for bad files', async () => {
  const w = model.init(6);
  const arrays = weightsToNamedArrays(w);
  assert.equal(arrays[0]!.name, 'convd1.conv1.weight');
  assert.deepEqual(await weightsToNamedArraysAsync(w), arrays);
  assert.deepEqual(await encodeModelAsync(modelSpecOf(model), w), encodeModel(modelSpecOf(model), arrays));
  const half = decodeModel(encodeModel(modelSpecOf(model), arrays, { dtype: 'float16' }));
  const a0 = arrays[0]!.data;
  half.arrays[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - a0[i]!) <= 1e-3 * Math.abs(a0[i]!) + 1e-7));
  // Missing entry / wrong shape vs the config.
  const short = encodeModel(modelSpecOf(model), arrays.slice(1));
  assert.throws(() => decodeModel(short), /lacks weight 'convd1.conv1.weight'/);
  const bad = arrays.map((a, i) => (i === 0 ? { ...a, shape: [a.data.length] } : a));
  assert.throws(() => decodeModel(encodeModel(modelSpecOf(model), bad)), /has shape/);
  assert.throws(() => decodeModel(encodeWeights(arrays)), /no model spec/);
  assert.throws(() => loadModel(encodeModel({ kind: 'mystery', config: {} }, arrays)), /unknown/);
  assert.throws(() => namedArraysToWeights(arrays.slice(1), model.shapes), /missing 1 entry/);
  const dir = await mkdtemp(join(tmpdir(), 'fedseg-io-'));
  await writeFile(join(dir, 'junk'), 'not a model');
  await assert.rejects(loadModelFile(join(dir, 'junk')), /bad magic/);
  await assert.rejects(loadModelFile(join(dir, 'nope')), /cannot read model file/);
  await rm(dir, { recursive: true, force: true });
  for (const t of Object.values(w)) t.dispose();
});
