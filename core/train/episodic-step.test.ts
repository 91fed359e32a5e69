import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { createUNet } from '../models/unet.js';
import { boundaryRegions, boundaryLoss } from '../losses/boundary-loss.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { extractAmplitudeWindow, interpolateAmplitude, presetAlpha } from '../freq/amplitude-interpolation.js';
import { imagesToTensor, masksToTensor } from './batch.js';
import { diceLoss } from '../losses/dice-loss.js';
import { computeStepGradients, computeStepGradientsAsync, metaObjective, trainStep, valueAndGradsAllowUnused, type StepInputs, type MetaStepOptions } from './episodic-step.js';
import { Adam } from './adam.js';
import { assertNoLeaks, useBackend, relError } from '../../test/helpers/leaks.js';
import { createRng } from '../rng.js';
import { randomDirection, directionalFD, disposeMap, dotMaps } from './finite-diff.js';
import type { MaskU8 } from '../contract/image.js';
import type { WeightMap } from '../models/seg-model.js';

before(async () => {
  await useBackend();
});

/** Disc (c0) square with a cup (c1) square inside, per image. */
function masks(size: number, boxes: [number, number, number, number, number][]): MaskU8[] {
  return boxes.map(([y0, x0, s, cy, cs]) => {
    const data = new Uint8Array(size * size * 2);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        if (y >= y0 && y < y0 + s && x >= x0 && x < x0 + s) data[(y * size + x) * 2] = 1;
        if (y >= y0 + cy && y < y0 + cy + cs && x >= x0 + cy && x < x0 + cy + cs) data[(y * size + x) * 2 + 1] = 1;
      }
    return { width: size, height: size, classes: 2, data };
  });
}

function inputs(size: number, views = 1, seed = 1): { inp: StepInputs; dispose: () => void } {
  const ms = masks(size, [
    [1, 2, 5, 1, 3],
    [2, 1, 4, 1, 2],
  ]);
  const y = tf.tensor4d(Float32Array.from(ms.flatMap((m) => Array.from(m.data))), [2, size, size, 2]);
  const x = tf.tidy(() => tf.add(tf.randomNormal([2, size, size, 3], 0, 0.5, 'float32', seed), tf.mul(tf.slice(tf.concat([y, y], 3), [0, 0, 0, 0], [2, size, size, 3]), 1.5))) as tf.Tensor4D;
  const meta = Array.from({ length: views }, (_, j) => tf.tidy(() => tf.add(tf.mul(x, 0.7 + 0.2 * j), 0.3 - 0.1 * j)) as tf.Tensor4D);
  return { inp: { x, y, meta, regions: boundaryRegions(ms) }, dispose: () => tf.dispose([x, y, ...meta]) };
}

const gradsOfDice = (net: ReturnType<typeof createUNet>, w: WeightMap, x: tf.Tensor4D, y: tf.Tensor4D): WeightMap => {
  const names = Object.keys(w);
  const { value, grads: g } = valueAndGradsAllowUnused((...ws: tf.Tensor[]) => diceLoss(net.forward(Object.fromEntries(names.map((n, i) => [n, ws[i]!])), x).probs, y), names.map((n) => w[n]!));
  value.dispose();
  return Object.fromEntries(names.map((n, i) => [n, g[i]!]));
};

const maxRel = (a: WeightMap, b: WeightMap) => Math.max(...Object.keys(a).map((n) => relError(a[n]!.dataSync(), b[n]!.dataSync(), 1e-4)));

test('FedAvg step = plain Dice gradient; Adam step leaks nothing', async () => {
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
  const w = net.init(1);
  const { inp, dispose } = inputs(8);
  const adam = new Adam();
  await assertNoLeaks(() => {
    const { grads, losses } = computeStepGradients(net, w, inp, { mode: 'fedavg' });
    const ref = gradsOfDice(net, w, inp.x, inp.y);
    assert.ok(maxRel(grads, ref) < 1e-5);
    assert.equal(losses.metaDice, 0);
    disposeMap(grads);
    disposeMap(ref);
  });
  // Adam creates its m/v state on the first step; later steps must leave the tensor count unchanged.
  await trainStep(net, w, adam, inp, { mode: 'fedavg' });
  await assertNoLeaks(() => trainStep(net, w, adam, inp, { mode: 'fedavg' }), 'fedavg trainStep');
  await assertNoLeaks(() => trainStep(net, w, adam, inp, { mode: 'elcfs' }), 'elcfs trainStep');
  await assertNoLeaks(() => trainStep(net, w, adam, inp, { mode: 'elcfs', secondOrder: 'fd-hvp' }), 'elcfs 2nd-order trainStep');
  assert.equal(adam.step, 4);
  adam.dispose();
  dispose();
  disposeMap(w);
});

test('first-order meta step: dtheta\'/dtheta = I (meta gradient = dL_meta/dtheta\' added to dL_inner/dtheta)', async () => {
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
  const w = net.init(2);
  const { inp, dispose } = inputs(8);
  const beta = 0.05; // large, so theta' differs visibly from theta
  await assertNoLeaks(() => {
    const { grads, losses } = computeStepGradients(net, w, inp, { mode: 'elcfs', gamma: 0, beta });
    // Independent reference: g = grad inner at theta; theta' = theta - beta*clip(g); grad of Dice(net(t; .)) at theta'.
    const g = gradsOfDice(net, w, inp.x, inp.y);
    const wp: WeightMap = {};
    for (const n of Object.keys(w)) wp[n] = tf.tidy(() => tf.sub(w[n]!, tf.mul(tf.clipByValue(g[n]!, -100, 100), beta)));
    const gMeta = gradsOfDice(net, wp, inp.meta![0]!, inp.y);
    const expected: WeightMap = {};
    for (const n of Object.keys(w)) expected[n] = tf.add(g[n]!, gMeta[n]!);
    assert.ok(maxRel(grads, expected) < 1e-4, `rel ${maxRel(grads, expected)}`);
    // Sanity: the meta term is not negligible (the test can fail).
    assert.ok(maxRel(g, expected) > 1e-2);
    const metaDice = tf.tidy(() => diceLoss(net.forward(wp, inp.meta![0]!).probs, inp.y).dataSync()[0]!);
    assert.ok(Math.abs(losses.metaDice - metaDice) < 1e-5);
    [grads, g, wp, gMeta, expected].forEach(disposeMap);
  });
  dispose();
  disposeMap(w);
});

test('first-order meta step WITH the boundary term, on real CFSI fundus batches, equals plain autodiff of L_inner(theta) + L_meta(theta, theta\')', async () => {
  // Guards the ELCFS-vs-FedAvg investigation (docs/learner.md "ELCFS at demo scale"): Z_x from theta,
  // Z_t from theta' = theta - beta*clip(g), gamma 0.1, tau 0.05, the fused instance-norm backward and the
  // nested inner gradient together give exactly dF/dtheta_a + dF/dtheta_b of
  // F(theta_a, theta_b) = Dice(x; theta_a) + Dice(t; theta_b) + gamma * L_boundary(Z(x; theta_a), Z(t; theta_b))
  // at (theta, theta'), built here with plain autodiff and no fused gradient.
  const size = 32;
  const data = generateFundusSites({ sites: 3, perSite: 3, size, seed: 1 });
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
  const w = net.init(3);
  const names = Object.keys(w);
  const batch = data[1]!.samples;
  const win = extractAmplitudeWindow(data[2]!.samples[0]!.image, presetAlpha(size, size));
  const x = imagesToTensor(batch.map((s) => s.image));
  const y = masksToTensor(batch.map((s) => s.mask));
  const t = imagesToTensor(batch.map((s) => interpolateAmplitude(s.image, win, 0.7, { clip: [0, 255] })));
  const regions = boundaryRegions(batch.map((s) => s.mask));
  const beta = 1e-3;
  const gamma = 0.1;
  await assertNoLeaks(() => {
    const got = computeStepGradients(net, w, { x, y, meta: [t], regions }, { mode: 'elcfs', gamma, beta });
    assert.ok(got.losses.boundary > 0.5, `boundary loss ${got.losses.boundary} should be substantial at init`);
    const map = (ws: tf.Tensor[]): WeightMap => Object.fromEntries(names.map((n, i) => [n, ws[i]!]));
    const g = gradsOfDice(net, w, x, y);
    const wp: WeightMap = {};
    for (const n of names) wp[n] = tf.tidy(() => tf.sub(w[n]!, tf.mul(tf.clipByValue(g[n]!, -100, 100), beta)));
    const k = names.length;
    const { value, grads } = valueAndGradsAllowUnused((...ws: tf.Tensor[]) => {
      const ox = net.forward(map(ws.slice(0, k)), x);
      const ot = net.forward(map(ws.slice(k)), t);
      return tf.addN([diceLoss(ox.probs, y), diceLoss(ot.probs, y), tf.mul(boundaryLoss(ox.features!, ot.features!, regions), gamma)]) as tf.Scalar;
    }, [...names.map((n) => w[n]!), ...names.map((n) => wp[n]!)]);
    assert.ok(Math.abs(got.losses.total - value.dataSync()[0]!) < 1e-5);
    const expected: WeightMap = Object.fromEntries(names.map((n, i) => [n, tf.add(grads[i]!, grads[k + i]!)]));
    let err = 0;
    let ref = 0;
    for (const n of names) {
      err += tf.tidy(() => tf.sum(tf.square(tf.sub(got.grads[n]!, expected[n]!))).dataSync()[0]!);
      ref += tf.tidy(() => tf.sum(tf.square(expected[n]!)).dataSync()[0]!);
    }
    assert.ok(Math.sqrt(err / ref) < 1e-4, `relative L2 error ${Math.sqrt(err / ref)}`);
    // The boundary term is present in the gradient (the comparison can fail): without it the gradient differs.
    const noB = computeStepGradients(net, w, { x, y, meta: [t], regions }, { mode: 'elcfs', gamma: 0, beta });
    assert.ok(maxRel(noB.grads, expected) > 1e-2);
    [got.grads, g, wp, expected, noB.grads].forEach(disposeMap);
    tf.dispose([value, ...grads]);
  });
  tf.dispose([x, y, t]);
  disposeMap(w);
});

test('second-order meta-gradient (fd-hvp and exact) matches a full numerical derivative; first order does not', async () => {
  // Smooth network (softplus, avg-pool): with ReLU/max-pool kinks FD of gradients is meaningless (MEASURED §2).
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 2, depth: 2, activation: 'softplus', pooling: 'avg' });
  const w = net.init(5);
  const { inp, dispose } = inputs(8, 2, 3);
  const base: MetaStepOptions = { mode: 'elcfs', beta: 5, gamma: 0.1, tau: 0.5 };
  const rng = createRng(21);
  await assertNoLeaks(async () => {
    const first = computeStepGradients(net, w, inp, { ...base, secondOrder: 'none' }).grads;
    const fdHvp = computeStepGradients(net, w, inp, { ...base, secondOrder: 'fd-hvp' }).grads;
    const exact = computeStepGradients(net, w, inp, { ...base, secondOrder: 'exact' }).grads;
    for (let k = 0; k < 2; k++) {
      const d = randomDirection(w, rng);
      const num = await directionalFD((m) => metaObjective(net, m, inp, base), w, d, 1e-2);
      const [a1, a2, a3] = await Promise.all([dotMaps(first, d), dotMaps(fdHvp, d), dotMaps(exact, d)]);
      disposeMap(d);
      const tol = 1e-2 * Math.abs(num) + 1e-5;
      if (process.env.DEBUG_META) console.log({ num, a1, a2, a3 });
      assert.ok(Math.abs(a3 - num) < tol, `exact ${a3} vs numerical ${num}`);
      assert.ok(Math.abs(a2 - num) < tol, `fd-hvp ${a2} vs numerical ${num}`);
      assert.ok(Math.abs(a1 - num) > 5 * Math.abs(a3 - num), `first order ${a1} should differ from numerical ${num}`);
    }
    [first, fdHvp, exact].forEach(disposeMap);
  });
  dispose();
  disposeMap(w);
});

test('K-1 meta views average their losses; bad inputs are clear errors', () => {
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 2, depth: 2 });
  const w = net.init(3);
  const { inp, dispose } = inputs(8, 3);
  const r = computeStepGradients(net, w, inp, { mode: 'elcfs' });
  disposeMap(r.grads);
  assert.ok(r.losses.metaDice > 0 && r.losses.boundary > 0);
  assert.ok(Math.abs(r.losses.total - (r.losses.inner + r.losses.metaDice + 0.1 * r.losses.boundary)) < 1e-5);
  // A batch without any structure (e.g. prostate slices without prostate): every region is empty and dropped.
  const empty = boundaryRegions(masks(8, [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]));
  const y0 = tf.zerosLike(inp.y);
  const e = computeStepGradients(net, w, { ...inp, y: y0, regions: empty }, { mode: 'elcfs' });
  assert.equal(e.losses.boundary, 0);
  assert.ok(Object.values(e.grads).every((g) => (g.dataSync() as Float32Array).every(Number.isFinite)));
  disposeMap(e.grads);
  y0.dispose();
  assert.throws(() => computeStepGradients(net, w, { x: inp.x, y: inp.y }, { mode: 'elcfs' }), /meta-test/);
  assert.throws(() => computeStepGradients(net, w, { ...inp, regions: undefined }, { mode: 'elcfs' }), /boundary regions/);
  assert.throws(() => computeStepGradients(net, w, inp, { mode: 'maml' as 'elcfs' }), /mode must be/);
  dispose();
  disposeMap(w);
});

test('the async step (one awaited readback) equals the sync one bit for bit, in every mode', async () => {
  const net = createUNet({ inChannels: 3, classes: 2, baseWidth: 2, depth: 2 });
  const w = net.init(4);
  const { inp, dispose } = inputs(8, 2);
  for (const o of [{ mode: 'fedavg' }, { mode: 'elcfs' }, { mode: 'elcfs', secondOrder: 'fd-hvp' }, { mode: 'elcfs', secondOrder: 'exact' }] as MetaStepOptions[]) {
    await assertNoLeaks(async () => {
      const s = computeStepGradients(net, w, inp, o);
      const a = await computeStepGradientsAsync(net, w, inp, o);
      assert.deepEqual(a.losses, s.losses, JSON.stringify(o));
      assert.ok(Number.isFinite(s.losses.total) && s.losses.total > 0);
      for (const n of Object.keys(w)) assert.deepEqual(await a.grads[n]!.data(), await s.grads[n]!.data(), `${JSON.stringify(o)} ${n}`);
      disposeMap(s.grads);
      disposeMap(a.grads);
    }, JSON.stringify(o));
  }
  dispose();
  disposeMap(w);
});

test('Adam matches torch.optim.Adam by hand and its state round-trips through NamedArray[]', async () => {
  const adam = new Adam({ lr: 0.1 });
  const w: WeightMap = { a: tf.tensor1d([1, -2]) };
  const gs = [
    [0.5, -1],
    [0.2, 0.3],
    [-0.4, 2],
  ];
  // Hand reference in double precision.
  const th = [1, -2];
  const m = [0, 0];
  const v = [0, 0];
  gs.forEach((g, t) => {
    const grads: WeightMap = { a: tf.tensor1d(g) };
    adam.apply(w, grads);
    grads.a!.dispose();
    for (let i = 0; i < 2; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
      th[i]! -= (0.1 * (m[i]! / (1 - 0.9 ** (t + 1)))) / (Math.sqrt(v[i]! / (1 - 0.999 ** (t + 1))) + 1e-8);
    }
  });
  assert.ok(relError(w.a!.dataSync(), th) < 1e-6);
  const copy = Adam.fromNamedArrays(adam.toNamedArrays());
  assert.deepEqual(await adam.toNamedArraysAsync(), adam.toNamedArrays());
  assert.equal(copy.step, 3);
  assert.deepEqual(copy.config, adam.config);
  const g: WeightMap = { a: tf.tensor1d([0.1, 0.1]) };
  const w2: WeightMap = { a: w.a!.clone() };
  adam.apply(w, g);
  copy.apply(w2, g);
  assert.deepEqual(w.a!.dataSync(), w2.a!.dataSync());
  assert.throws(() => Adam.fromNamedArrays([]), /adam.step/);
  [w, w2, g].forEach(disposeMap);
  adam.dispose();
  copy.dispose();
});
