import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { createUNet, unetWeightShapes, countParams, instanceNorm, upsampleNearest2x, withFusedNormGradient } from './unet.js';
import { assertNoLeaks, useBackend, relError } from '../../test/helpers/leaks.js';
import { createRng } from '../rng.js';
import { randomDirection, directionalFD, disposeMap, dotMaps } from '../train/finite-diff.js';
import { valueAndGradsAllowUnused } from '../train/episodic-step.js';

before(async () => {
  await useBackend();
});

test('reference U-Net 3-in/2-out has exactly 3,179,890 parameters (shapes only)', () => {
  const shapes = unetWeightShapes({ inChannels: 3, classes: 2 });
  assert.equal(countParams(shapes), 3_179_890);
  // Prostate variant: 1 channel in/out.
  assert.equal(countParams(unetWeightShapes({ inChannels: 1, classes: 1 })), 3_179_890 - 2 * 9 * 16 - 33);
});

test('weight names are stable and follow the reference state_dict', () => {
  const names = unetWeightShapes({ inChannels: 3, classes: 2 }).map((s) => s.name);
  assert.equal(names.length, 15 * 2 + (2 + 3 * 3) * 2 + 2);
  assert.deepEqual(names.slice(0, 4), ['convd1.conv1.weight', 'convd1.conv1.bias', 'convd1.conv2.weight', 'convd1.conv2.bias']);
  assert.ok(names.includes('convu4.conv2.weight') && !names.includes('convu4.conv1.weight'));
  assert.ok(names.includes('convu1.conv1.weight'));
  assert.deepEqual(names.slice(-2), ['seg1.weight', 'seg1.bias']);
  const shapes = Object.fromEntries(unetWeightShapes({ inChannels: 3, classes: 2 }).map((s) => [s.name, s.shape]));
  assert.deepEqual(shapes['convd5.conv1.weight'], [3, 3, 128, 256]);
  assert.deepEqual(shapes['convu1.conv2.weight'], [1, 1, 32, 16]);
  assert.deepEqual(shapes['seg1.weight'], [1, 1, 32, 2]);
});

test('full-size net: Z is 32 channels at full resolution, probs in (0,1); init is seeded', async () => {
  const net = createUNet({ inChannels: 3, classes: 2 });
  await assertNoLeaks(() => {
    const w = net.init(7);
    const w2 = net.init(7);
    const w3 = net.init(8);
    try {
      assert.equal(Object.values(w).reduce((s, t) => s + t.size, 0), 3_179_890);
      const a = w['convd3.conv2.weight']!.dataSync() as Float32Array;
      assert.deepEqual(a, w2['convd3.conv2.weight']!.dataSync());
      assert.notDeepEqual(a, w3['convd3.conv2.weight']!.dataSync());
      // He-normal fan_out: std sqrt(2 / (64*9)).
      const std = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      assert.ok(Math.abs(std / Math.sqrt(2 / (64 * 9)) - 1) < 0.02, `filter std ${std}`);
      const b = w['convd3.conv2.bias']!.dataSync() as Float32Array;
      const bound = 1 / Math.sqrt(32 * 9 * 2);
      assert.ok(b.every((v) => Math.abs(v) <= bound) && b.some((v) => Math.abs(v) > bound / 2));
      tf.tidy(() => {
        const x = tf.randomUniform([1, 16, 16, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
        const out = net.forward(w, x);
        assert.deepEqual(out.features!.shape, [1, 16, 16, 32]);
        assert.deepEqual(out.probs.shape, [1, 16, 16, 2]);
        const p = out.probs.dataSync();
        assert.ok(p.every((v) => v > 0 && v < 1));
      });
    } finally {
      disposeMap(w);
      disposeMap(w2);
      disposeMap(w3);
    }
  });
});

test('instance norm: zero mean, unit (biased) variance per sample and channel', () => {
  tf.tidy(() => {
    const x = tf.randomNormal([2, 4, 4, 3], 5, 3, 'float32', 3) as tf.Tensor4D;
    const y = instanceNorm(x);
    const { mean, variance } = tf.moments(y, [1, 2]);
    mean.dataSync().forEach((v) => assert.ok(Math.abs(v) < 1e-5));
    variance.dataSync().forEach((v) => assert.ok(Math.abs(v - 1) < 1e-3));
  });
});

test('instance norm: the closed-form (fused) backward equals autodiff, and leaks nothing', async () => {
  const x = tf.randomNormal([2, 6, 5, 3], 2, 3, 'float32', 4);
  const dy = tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 5);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(instanceNorm(t as tf.Tensor4D), dy));
  const a = tf.grad(f)(x);
  const b = await assertNoLeaks(() => {
    const g = withFusedNormGradient(() => tf.grad(f)(x));
    const v = g.dataSync().slice();
    g.dispose();
    return v;
  }, 'fused IN grad');
  assert.ok(relError(b, a.dataSync()) < 1e-5);
  assert.deepEqual(withFusedNormGradient(() => tf.tidy(() => instanceNorm(x as tf.Tensor4D).dataSync())), tf.tidy(() => instanceNorm(x as tf.Tensor4D).dataSync()));
  tf.dispose([x, dy, a]);
});

test('nearest x2 upsampling equals resizeNearestNeighbor; its gradient sums 2x2 blocks', async () => {
  await assertNoLeaks(() =>
    tf.tidy(() => {
      const x = tf.randomNormal([2, 3, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      assert.deepEqual(upsampleNearest2x(x).dataSync(), tf.image.resizeNearestNeighbor(x, [6, 8]).dataSync());
      const dy = tf.randomNormal([2, 6, 8, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleNearest2x(t as tf.Tensor4D), dy)))(x);
      const want = tf.avgPool(dy, 2, 2, 'valid').mul(4);
      assert.ok(tf.max(tf.abs(tf.sub(g, want))).dataSync()[0]! < 1e-5);
    }),
  );
});

test('bad inputs fail with clear errors', () => {
  assert.throws(() => createUNet({ inChannels: 0, classes: 2 }), /inChannels/);
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 2, depth: 3 });
  const w = net.init(1);
  try {
    tf.tidy(() => {
      assert.throws(() => net.forward(w, tf.zeros([1, 6, 8, 3]) as tf.Tensor4D), /divisible by 4/);
      assert.throws(() => net.forward(w, tf.zeros([1, 8, 8, 1]) as tf.Tensor4D), /1 channels, model expects 3/);
      const { 'seg1.bias': _drop, ...rest } = w;
      assert.throws(() => net.forward(rest, tf.zeros([1, 8, 8, 3]) as tf.Tensor4D), /'seg1.bias' is missing/);
    });
  } finally {
    disposeMap(w);
  }
});

test('small U-Net gradient matches central finite differences (smooth variant)', async () => {
  const net = createUNet({ inChannels: 2, classes: 2, baseWidth: 2, depth: 3, activation: 'softplus', pooling: 'avg' });
  const w = net.init(3);
  const names = Object.keys(w);
  const x = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y = tf.randomUniform([2, 8, 8, 2], 0, 1, 'float32', 6);
  const loss = (m: Record<string, tf.Tensor>) => tf.tidy(() => tf.mean(tf.square(tf.sub(net.forward(m, x).probs, y))) as tf.Scalar);
  await assertNoLeaks(async () => {
    const { value, grads } = valueAndGradsAllowUnused((...ws: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, ws[i]!]))), names.map((n) => w[n]!));
    value.dispose();
    const g = Object.fromEntries(names.map((n, i) => [n, grads[i]!]));
    // Conv biases in front of instance norm cancel exactly (not even computed); the head's bias matters.
    assert.ok(g['convd2.conv1.bias']!.dataSync().every((v) => v === 0));
    assert.ok(g['seg1.bias']!.dataSync().some((v) => v !== 0));
    const rng = createRng(11);
    for (let k = 0; k < 3; k++) {
      const d = randomDirection(w, rng);
      const analytic = await dotMaps(g, d);
      const fd = await directionalFD((m) => tf.tidy(() => loss(m).dataSync()[0]!), w, d, 1e-2);
      disposeMap(d);
      assert.ok(Math.abs(analytic - fd) <= 2e-2 * Math.abs(analytic) + 1e-6, `direction ${k}: analytic ${analytic} vs fd ${fd}`);
    }
    disposeMap(g);
  });
  x.dispose();
  y.dispose();
  disposeMap(w);
});
