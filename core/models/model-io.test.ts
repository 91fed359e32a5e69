import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf/tf.js';
import { MODEL_KINDS, type ModelSpecInput } from '../contract/model-spec.js';
import { buildNetwork } from './registry.js';
import { encodeModel, decodeModel, loadModel, saveModelFile, loadModelFile, encodeModelAsync, upgradeSpec } from './model-io.js';
import { toNamedArrays, toNamedArraysAsync, toWeightMap } from './weight-map.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { encodeWeights } from '../contract/weights.js';

before(async () => {
  await useBackend();
});

const spec: ModelSpecInput = { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } };
const net = buildNetwork(spec);
const model = net.model;

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
      await saveModelFile(path, spec, w, { meta: { round: 7 } });
      const back = await loadModelFile(path);
      assert.equal(back.net.model.kind, 'unet');
      assert.deepEqual(back.spec, net.spec);
      assert.deepEqual(back.spec.config, { baseWidth: 4, depth: 3 });
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
        assert.deepEqual(back.net.model.forward(back.weights, x).probs.dataSync(), model.forward(w, x).probs.dataSync());
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
  const arrays = toNamedArrays(w);
  assert.equal(arrays[0]!.name, 'convd1.conv1.weight');
  assert.deepEqual(await toNamedArraysAsync(w), arrays);
  assert.deepEqual(await encodeModelAsync(spec, w), encodeModel(spec, arrays));
  const half = decodeModel(encodeModel(spec, arrays, { dtype: 'float16' }));
  const a0 = arrays[0]!.data;
  half.arrays[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - a0[i]!) <= 1e-3 * Math.abs(a0[i]!) + 1e-7));
  // Missing entry / wrong shape vs the config.
  const short = encodeModel(spec, arrays.slice(1));
  assert.throws(() => decodeModel(short), /missing 1 entry: convd1.conv1.weight/);
  const bad = arrays.map((a, i) => (i === 0 ? { ...a, shape: [a.data.length] } : a));
  assert.throws(() => decodeModel(encodeModel(spec, bad)), /has shape/);
  assert.throws(() => decodeModel(encodeWeights(arrays)), /no model spec/);
  assert.throws(() => loadModel(encodeWeights(arrays, { meta: { model: { kind: 'mystery', inChannels: 3, classes: 2 } } })), /unknown/);
  assert.throws(() => encodeModel({ kind: 'mystery', inChannels: 3, classes: 2 } as unknown as ModelSpecInput, arrays), /kind/);
  assert.throws(() => toWeightMap(arrays.slice(1), net.shapes), /missing 1 entry/);
  const dir = await mkdtemp(join(tmpdir(), 'fedseg-io-'));
  await writeFile(join(dir, 'junk'), 'not a model');
  await assert.rejects(loadModelFile(join(dir, 'junk')), /bad magic/);
  await assert.rejects(loadModelFile(join(dir, 'nope')), /does not exist/);
  await rm(dir, { recursive: true, force: true });
  for (const t of Object.values(w)) t.dispose();
});

test('every registered kind round-trips through a model file and rebuilds identically', async () => {
  for (const kind of MODEL_KINDS) {
    const s = { kind, inChannels: 1, classes: 2, config: kind === 'unet' || kind === 'asc-unet' ? { baseWidth: 2, depth: 2 } : {} } as ModelSpecInput;
    const n = buildNetwork(s);
    const w = n.model.init(3);
    const back = loadModel(encodeModel(s, w));
    assert.deepEqual(back.spec, n.spec, kind);
    assert.deepEqual(Object.keys(back.weights).sort(), n.shapes.map((e) => e.name).sort(), kind);
    tf.dispose([...Object.values(w), ...Object.values(back.weights)]);
  }
});

test('specs written by earlier versions are upgraded, and unusable ones are clear errors', () => {
  const resolvedUNet = { kind: 'unet', config: { inChannels: 3, classes: 2, baseWidth: 8, depth: 4, activation: 'relu', pooling: 'max' } };
  assert.deepEqual(upgradeSpec(resolvedUNet), { kind: 'unet', inChannels: 3, classes: 2, input: { normalise: 'none' }, config: { baseWidth: 8, depth: 4 } });
  const appStyle = { kind: 'ascnet-7', inChannels: 1, classes: 2, baseWidth: 16, depth: 5 };
  assert.deepEqual(upgradeSpec(appStyle), { kind: 'ascnet-7', inChannels: 1, classes: 2, input: { normalise: 'none' }, config: { rateBeta: 1 } });
  assert.throws(() => upgradeSpec({ kind: 'unet', config: {} }), (e: Error & { code?: string }) => e.code === 'CORRUPT_FILE' && /inChannels/.test(e.message));
  assert.throws(() => upgradeSpec(undefined), /no model spec/);
});
