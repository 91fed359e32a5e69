// ASC U-Net: U-Net weight names + rate.*, outputs (sigmoid probs, 2*base features, rate), gradients
// reach every trainable weight including the shared rate field, trains on wasm, no leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { createAscUNet } from './asc-unet.js';
import { createUNet } from './unet.js';
import { isTrainableWeight, rescaleRate } from './rate-field.js';
import { inferWithRate } from './rate-stats.js';
import type { SegModel, WeightMap } from './seg-model.js';

test('ASC U-Net: names, init shared with the U-Net, outputs, gradients to every weight, trains on wasm', async () => {
  await useBackend('wasm');
  const cfg = { inChannels: 3, classes: 2, baseWidth: 4, depth: 3 };
  const model: SegModel = createAscUNet(cfg);
  const asc = createAscUNet(cfg);
  const unet = createUNet(cfg);
  const w = model.init(3);
  const wu = unet.init(3);
  for (const s of unet.shapes) assert.deepEqual(Array.from(w[s.name]!.dataSync()), Array.from(wu[s.name]!.dataSync()), s.name);
  assert.ok(asc.shapes.some((s) => s.name === 'rate.bn3.running_var'));
  assert.equal(asc.paramCount, unet.paramCount + (9 * 3 * 8 + 8 + 16) + (9 * 8 * 4 + 4 + 8) + (9 * 4 + 1 + 2));

  const x = tf.randomUniform([2, 16, 16, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
  const target = tf.tidy(() => tf.cast(tf.greater(tf.slice(x, [0, 0, 0, 0], [2, 16, 16, 2]), 128), 'float32'));
  await assertNoLeaks(() => {
    const o = model.forward(w, x, { training: true });
    assert.deepEqual(o.probs.shape, [2, 16, 16, 2]);
    assert.deepEqual(o.features!.shape, [2, 16, 16, 8]);
    assert.deepEqual(o.rate!.shape, [2, 16, 16, 1]);
    tf.dispose([o.probs, o.features!, o.logits!, o.rate!]);
  }, 'forward');

  const names = Object.keys(w).filter(isTrainableWeight);
  const vars = Object.fromEntries(names.map((k) => [k, tf.variable(w[k]!.clone(), true, `ascunet/${k}`)]));
  const current = (): WeightMap => ({ ...w, ...vars });
  const loss = () => tf.tidy(() => {
    const o = model.forward(current(), x, { training: true });
    return tf.mean(tf.square(tf.sub(o.probs, target))) as tf.Scalar;
  });
  await assertNoLeaks(() => {
    const { value, grads } = tf.variableGrads(loss, Object.values(vars));
    for (const k of names) {
      const g = grads[`ascunet/${k}`];
      assert.ok(g, `gradient for ${k}`);
      const a = tf.tidy(() => tf.max(tf.abs(g!)).dataSync()[0]!);
      assert.ok(Number.isFinite(a) && (a > 0 || k.endsWith('.bias')), `${k}: max |grad| ${a}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  }, 'grads');
  const opt = tf.train.adam(1e-2, 0.9, 0.999);
  const l0 = tf.tidy(() => loss().dataSync()[0]!);
  for (let i = 0; i < 15; i++) tf.tidy(() => { opt.minimize(loss, false, Object.values(vars)); });
  const l1 = tf.tidy(() => loss().dataSync()[0]!);
  assert.ok(l1 < l0 * 0.8, `loss ${l0} -> ${l1}`);
  assert.throws(() => model.forward(w, tf.zeros([1, 10, 16, 3]) as tf.Tensor4D), /divisible by 4/);
  const img = { width: 16, height: 16, channels: 3, data: tf.tidy(() => x.slice([0, 0, 0, 0], [1, 16, 16, 3]).dataSync() as Float32Array) };
  const inf = await assertNoLeaks(() => inferWithRate(asc, { ...w, ...vars }, img), 'inferWithRate');
  assert.equal(inf.probs.channels, 2);
  assert.equal(inf.rate.data.length, 256);
  assert.equal(inf.stats.histogram.counts.reduce((a, b) => a + b, 0), 256);
  opt.dispose();
  tf.dispose([x, target, ...Object.values(vars), ...Object.values(w), ...Object.values(wu)]);
  tf.disposeVariables();
});

test('rescaleRate: level 2 averages 4x4 blocks and divides by 4', async () => {
  await useBackend('cpu');
  const r = tf.fill([1, 8, 8, 1], 2) as tf.Tensor4D;
  const r2 = rescaleRate(r, 2);
  assert.deepEqual(r2.shape, [1, 2, 2, 1]);
  assert.deepEqual(Array.from(r2.dataSync()), [0.5, 0.5, 0.5, 0.5]);
  assert.throws(() => rescaleRate(r, 4), /not divisible by 16/);
  tf.dispose([r, r2]);
});

test('the ELCFS learner step (core/train) trains the ASC U-Net: gradients for every trainable weight, none for running stats', async () => {
  await useBackend('wasm');
  const { computeStepGradients } = await import('../train/episodic-step.js');
  const model = createAscUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
  const w = model.init(5);
  const x = tf.randomUniform([2, 16, 16, 3], 0, 255, 'float32', 2) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.greater(tf.slice(x, [0, 0, 0, 0], [2, 16, 16, 2]), 100), 'float32')) as tf.Tensor4D;
  const t = tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, 5, 'float32', 3))) as tf.Tensor4D;
  await assertNoLeaks(() => {
    const { grads, losses } = computeStepGradients(model, w, { x, y, meta: [t] }, { mode: 'elcfs', gamma: 0 });
    assert.ok(Number.isFinite(losses.total) && losses.metaDice > 0);
    for (const k of Object.keys(w)) {
      const a = tf.tidy(() => tf.max(tf.abs(grads[k]!)).dataSync()[0]!);
      if (isTrainableWeight(k)) assert.ok(Number.isFinite(a) && (a > 0 || k.endsWith('.bias')), `${k}: ${a}`);
      else assert.equal(a, 0, `${k} is a running statistic: no gradient`);
    }
    tf.dispose(Object.values(grads));
  }, 'elcfs step');
  tf.dispose([x, y, t, ...Object.values(w)]);
});
