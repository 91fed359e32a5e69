// ASCNet-N, baselines, rate field (BN state, calibration, rescaling), rate statistics, cell data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { assertNoLeaks, relError, useBackend } from '../../test/helpers/leaks.js';
import { createRng } from '../rng.js';
import { ASCNET_KINDS, createAscNet } from './ascnet.js';
import { softmaxCrossEntropy } from '../losses/cross-entropy.js';
import { createSoftmaxTrainer } from '../train/softmax-step.js';
import { calibrateBatchNorm, isTrainableWeight, rateFieldForward, rescaleRate, trainableWeights } from './rate-field.js';
import { inferWithRate, rateStats } from './rate-stats.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { nestedMaskToClasses } from '../masks/convert.js';
import type { WeightMap } from './seg-model.js';
import { Adam } from '../train/adam.js';
import { labelComponents4 } from '../morphology/components.js';

const disposeMap = (w: WeightMap) => tf.dispose(Object.values(w));

test('model structure: layers, widths, rates, parameter names and counts', async () => {
  await useBackend('wasm');
  const n7 = createAscNet({ kind: 'ascnet-7', inChannels: 1, classes: 3 });
  assert.equal(n7.layers.length, 7);
  assert.deepEqual(n7.layers.map((l) => l.cout), [8, 8, 8, 8, 8, 8, 3]);
  assert.ok(n7.hasRate && n7.shapes.some((s) => s.name === 'rate.conv3.weight' && s.shape.join() === '3,3,4,1'));
  const n14 = createAscNet({ kind: 'ascnet-14', inChannels: 3, classes: 2 });
  assert.deepEqual(n14.layers.map((l) => l.cout), [...Array(13).fill(32), 2]);
  const dil = createAscNet({ kind: 'dilated-7', inChannels: 1, classes: 2 });
  assert.deepEqual(dil.layers.map((l) => l.rate), [1, 1, 2, 4, 8, 16, 1]);
  const cnn = createAscNet({ kind: 'cnn-7', inChannels: 1, classes: 2 });
  assert.ok(!cnn.hasRate && !cnn.shapes.some((s) => s.name.startsWith('rate.')));
  // Classic CNN, 1 -> 8x6 -> 2: convs 9*(1*8 + 5*64 + 8*2) + biases (6*8 + 2) + BN gamma/beta 2*6*8.
  assert.equal(cnn.paramCount, 9 * (8 + 320 + 16) + 50 + 96);
  // Rate field 1 -> 8 -> 4 -> 1 (conv + bias + gamma/beta) on top of the same body.
  const n7b = createAscNet({ kind: 'ascnet-7', inChannels: 1, classes: 2 });
  assert.equal(n7b.paramCount - cnn.paramCount, 9 * 8 + 8 + 16 + 9 * 32 + 4 + 8 + 9 * 4 + 1 + 2);
  assert.ok(!isTrainableWeight('layer1.bn.running_mean') && isTrainableWeight('layer1.bn.gamma'));
  assert.throws(() => createAscNet({ kind: 'ascnet-9' as never, inChannels: 1, classes: 2 }), /kind must be one of/);
  assert.throws(() => createAscNet({ kind: 'cnn-7', inChannels: 1, classes: 1 }), /classes must be an integer in \[2, 64\]/);
  // The authors' head: BN + ReLU on the class layer too (gamma/beta of 2 classes more), logits >= 0.
  const ref = createAscNet({ kind: 'cnn-7', inChannels: 1, classes: 2, head: 'bn-relu' });
  assert.equal(ref.paramCount - cnn.paramCount, 2 * 2);
  assert.ok(ref.shapes.some((s) => s.name === 'layer7.bn.running_var'));
  const w = ref.init(3);
  const x = tf.randomUniform([2, 8, 8, 1], 0, 255, 'float32', 1) as tf.Tensor4D;
  const o = ref.forward(w, x, { training: true });
  assert.ok((await o.logits!.min().data())[0]! >= 0, 'ReLU logits');
  tf.dispose([x, o.probs, o.logits!]);
  disposeMap(w);
  assert.throws(() => createAscNet({ kind: 'cnn-7', inChannels: 1, classes: 2, head: 'softplus' as never }), /head must be linear or bn-relu/);
});

test('forward: softmax probs, rate only for ASC models, seeded init, no leaks, clear errors', async () => {
  await useBackend('wasm');
  const x = tf.randomUniform([2, 16, 16, 1], 0, 255, 'float32', 7) as tf.Tensor4D;
  for (const kind of ASCNET_KINDS) {
    const m = createAscNet({ kind, inChannels: 1, classes: 3 });
    const w = m.init(5);
    const w2 = m.init(5);
    assert.equal(relError(w['layer2.weight']!.dataSync(), w2['layer2.weight']!.dataSync()), 0, 'same seed, same weights');
    await assertNoLeaks(() => {
      for (const training of [true, false]) {
        const o = m.forward(w, x, { training });
        assert.deepEqual(o.probs.shape, [2, 16, 16, 3]);
        const s = tf.tidy(() => tf.sum(o.probs, -1).dataSync());
        assert.ok(s.every((v) => Math.abs(v - 1) < 1e-4));
        assert.equal(!!o.rate, m.hasRate, `${kind} rate output`);
        if (o.rate) {
          assert.deepEqual(o.rate.shape, [2, 16, 16, 1]);
          assert.ok(o.rate.dataSync().every((v) => v >= 0 && Number.isFinite(v)));
        }
        tf.dispose([o.probs, o.logits!, ...(o.rate ? [o.rate] : [])]);
      }
    }, kind);
    const { 'layer3.weight': _drop, ...missing } = w;
    assert.throws(() => m.forward(missing, x), /'layer3.weight' is missing/);
    assert.throws(() => m.forward(w, tf.zeros([1, 8, 8, 2]) as tf.Tensor4D), /model expects 1/);
    disposeMap(w);
    disposeMap(w2);
  }
  x.dispose();
});

test('calibrated BN: inference on the calibration batch equals the training-mode forward; EMA-free', async () => {
  await useBackend('wasm');
  const m = createAscNet({ kind: 'ascnet-7', inChannels: 1, classes: 2 });
  const w = m.init(1);
  const x = tf.randomUniform([2, 12, 12, 1], 0, 255, 'float32', 3) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const cal = await calibrateBatchNorm(m, w, [x]);
  assert.equal(tf.memory().numTensors - before, 2 * (3 + 6), 'only the new running tensors are allocated');
  const fresh = Object.keys(cal).filter((k) => cal[k] !== w[k]);
  assert.equal(fresh.length, 2 * (3 + 6));
  const a = tf.tidy(() => m.forward(cal, x, { training: true }).probs.dataSync());
  const b = tf.tidy(() => m.forward(cal, x, { training: false }).probs.dataSync());
  const c = tf.tidy(() => m.forward(w, x, { training: false }).probs.dataSync());
  assert.ok(relError(b, a) < 1e-3, `calibrated inference vs batch stats: ${relError(b, a)}`);
  // Never-calibrated running stats fall back to each input image's own statistics (independent of the batch).
  const own = tf.tidy(() => tf.concat([0, 1].map((i) => m.forward(w, tf.slice(x, [i, 0, 0, 0], [1, 12, 12, 1]), { training: true }).probs)).dataSync());
  assert.ok(relError(c, own) < 1e-3, `uncalibrated inference falls back to per-image stats: ${relError(c, own)}`);
  // Calibrated on another batch: inference on x must now differ from x's batch statistics.
  const x2 = tf.randomUniform([2, 12, 12, 1], 100, 120, 'float32', 4) as tf.Tensor4D;
  const cal2 = await calibrateBatchNorm(m, w, [x2]);
  const d = tf.tidy(() => m.forward(cal2, x, { training: false }).probs.dataSync());
  assert.ok(relError(d, a) > 1e-2, `stats calibrated on another batch must change the output (${relError(d, a)})`);
  tf.dispose([x2, ...Object.keys(cal2).filter((k) => cal2[k] !== w[k]).map((k) => cal2[k]!)]);
  tf.dispose(fresh.map((k) => cal[k]!));
  disposeMap(w);
  x.dispose();
});

test('rescaleRate halves distances per level; rate-field gradient reaches its weights (directional FD, cpu)', async () => {
  await useBackend('cpu');
  const r = tf.tensor4d([1, 3, 5, 7, 2, 2, 2, 2, 0, 0, 4, 4, 0, 0, 4, 4], [1, 4, 4, 1]);
  const r1 = rescaleRate(r, 1);
  assert.deepEqual(Array.from(r1.dataSync()), [1, 2, 0, 2]); // 2x2 block means 2, 4, 0, 4, halved
  tf.dispose([r, r1]);

  const m = createAscNet({ kind: 'ascnet-7', inChannels: 1, classes: 2 });
  const w = m.init(2);
  const x = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
  const labels = tf.tensor3d(Int32Array.from({ length: 64 }, (_, i) => (i % 8 > 3 ? 1 : 0)), [1, 8, 8], 'int32');
  const names = Object.keys(w).filter((k) => k.startsWith('rate.') && isTrainableWeight(k));
  const lossAt = (ww: WeightMap) => tf.tidy(() => softmaxCrossEntropy(m.forward(ww, x, { training: true }).logits!, labels).dataSync()[0]!);
  const rng = createRng(9);
  const dirs: WeightMap = {};
  for (const k of names) dirs[k] = tf.tensor(Float32Array.from({ length: w[k]!.size }, () => rng.normal()), w[k]!.shape);
  const vars = Object.fromEntries(names.map((k) => [k, tf.variable(w[k]!.clone())]));
  const analytic = await assertNoLeaks(() => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => softmaxCrossEntropy(m.forward({ ...w, ...vars }, x, { training: true }).logits!, labels), Object.values(vars));
    let s = 0;
    for (const k of names) {
      const g = grads[vars[k]!.name];
      assert.ok(g, `gradient for ${k}`);
      s += tf.sum(tf.mul(g!, dirs[k]!)).dataSync()[0]!;
    }
    return s;
  }), 'rate grads');
  const h = 2e-5; // BN over one 8x8 map makes the loss strongly curved: FD converges only for small h
  const shifted = (sign: number) => Object.fromEntries(names.map((k) => [k, tf.add(w[k]!, tf.mul(dirs[k]!, sign * h))]));
  const wp = { ...w, ...shifted(1) };
  const wm = { ...w, ...shifted(-1) };
  const fdv = (lossAt(wp) - lossAt(wm)) / (2 * h);
  assert.ok(Math.abs(analytic) > 1e-4, `rate-field gradient should be non-zero (${analytic})`);
  assert.ok(Math.abs(fdv - analytic) < 0.03 * Math.abs(analytic) + 1e-4, `directional derivative ${analytic} vs FD ${fdv}`);
  tf.dispose([...names.map((k) => wp[k]!), ...names.map((k) => wm[k]!), ...Object.values(dirs), ...Object.values(vars), x, labels]);
  disposeMap(w);
});

test('ASCNet-7, dilated and classic CNN learn the cell task a little on wasm (loss drops), no leaks', async () => {
  await useBackend('wasm');
  const [site] = generateCellSites({ size: 24, perSite: 2, seed: 1, sites: [{ name: 'large', radius: [0.2, 0.3], count: [1, 2], nucleus: [0.25, 0.35], membrane: 2 }] });
  const xs = tf.tensor4d(Float32Array.from(site!.samples.flatMap((s) => Array.from(s.image.data))), [2, 24, 24, 1]);
  const ys = tf.tensor3d(Int32Array.from(site!.samples.flatMap((s) => Array.from(nestedMaskToClasses(s.mask)))), [2, 24, 24], 'int32');
  for (const kind of ['ascnet-7', 'dilated-7', 'cnn-7'] as const) {
    const m = createAscNet({ kind, inChannels: 1, classes: 3 });
    const init = m.init(3);
    const tr = createSoftmaxTrainer(m, init, { lr: 1e-2 });
    disposeMap(init);
    const first = await tr.step(xs, ys); // also creates Adam's slots
    let last = first;
    await assertNoLeaks(async () => {
      for (let i = 0; i < 25; i++) last = await tr.step(xs, ys);
    }, `${kind} steps`);
    assert.ok(last < first * 0.7, `${kind}: loss ${first} -> ${last}`);
    if (m.hasRate) {
      const ws = tr.weights();
      const trainable = Object.keys(trainableWeights(ws));
      const state = await tr.adam.toNamedArraysAsync();
      assert.deepEqual(state.filter((a) => a.name.startsWith('adam.m/')).map((a) => a.name.slice(7)).sort(), [...trainable].sort(), 'Adam keeps a moment for every trainable weight');
      assert.equal(state.find((a) => a.name === 'adam.step')!.data[0], 26);
      const r = tf.tidy(() => rateFieldForward(ws, xs, { training: true }).dataSync());
      assert.ok(r.some((v) => v > 0), 'rates stay alive');
    }
    tr.dispose();
  }
  tf.dispose([xs, ys]);
});

test('softmax trainer: Adam update matches tf.train.adam (beta2 0.9) and resumes exactly from a saved optimiser state', async () => {
  await useBackend('wasm');
  const [site] = generateCellSites({ size: 16, perSite: 2, seed: 4 });
  const xs = tf.tensor4d(Float32Array.from(site!.samples.flatMap((s) => Array.from(s.image.data))), [2, 16, 16, 1]);
  const ys = tf.tensor3d(Int32Array.from(site!.samples.flatMap((s) => Array.from(nestedMaskToClasses(s.mask)))), [2, 16, 16], 'int32');
  const m = createAscNet({ kind: 'ascnet-7', inChannels: 1, classes: 3 });
  const init = m.init(5);
  // Reference: tfjs's own Adam on variables, 3 steps.
  const vars = Object.fromEntries(Object.entries(init).filter(([k]) => isTrainableWeight(k)).map(([k, t]) => [k, tf.variable(t.clone())]));
  const ref = tf.train.adam(1e-2, 0.9, 0.9);
  for (let i = 0; i < 3; i++) tf.dispose(ref.minimize(() => softmaxCrossEntropy(m.forward({ ...init, ...vars }, xs, { training: true }).logits!, ys), true, Object.values(vars)) ?? []);
  // Ours: 2 steps, checkpoint weights + optimiser state, a fresh trainer from the checkpoint, 1 more step.
  const a = createSoftmaxTrainer(m, init, { lr: 1e-2 });
  await a.step(xs, ys);
  await a.step(xs, ys);
  const saved = Object.fromEntries(Object.entries(a.weights()).map(([k, t]) => [k, t.clone()]));
  const state = await a.adam.toNamedArraysAsync();
  a.dispose();
  const b = createSoftmaxTrainer(m, saved, { adam: Adam.fromNamedArrays(state) });
  disposeMap(saved);
  assert.equal(b.adam.config.beta2, 0.9);
  assert.equal(b.adam.config.eps, 1e-7);
  await b.step(xs, ys);
  const got = b.weights();
  // Conv biases in front of a BN get only rounding-noise gradients (BN removes the mean), which Adam
  // normalises to arbitrary steps: compare every other weight.
  const feedsBn = (k: string) => k.endsWith('.bias') && [k.replace(/\.bias$/, '.bn.gamma'), k.replace(/^rate\.conv(\d)\.bias$/, 'rate.bn$1.gamma')].some((g) => g !== k && g in vars);
  const compared = Object.keys(vars).filter((k) => !feedsBn(k));
  assert.ok(compared.length >= 20 && compared.includes('layer7.bias'), compared.join());
  for (const k of compared) {
    const e = relError(got[k]!.dataSync(), vars[k]!.dataSync(), 1e-3);
    assert.ok(e < 1e-4, `${k}: rel error ${e} vs tf.train.adam`);
  }
  b.dispose();
  ref.dispose();
  tf.dispose([...Object.values(vars), xs, ys]);
  disposeMap(init);
});

test('inferWithRate returns probs, the rate map and consistent statistics; rateStats edge cases', async () => {
  await useBackend('wasm');
  const m = createAscNet({ kind: 'ascnet-7', inChannels: 1, classes: 3 });
  const w = m.init(4);
  const [site] = generateCellSites({ size: 20, perSite: 1, seed: 2 });
  const cal = await calibrateBatchNorm(m, w, [tf.tensor4d(site!.samples[0]!.image.data, [1, 20, 20, 1])].map((t) => { tf.keep(t); return t; }));
  const res = await assertNoLeaks(() => inferWithRate(m, cal, site!.samples[0]!.image, 10), 'inferWithRate');
  assert.equal(res.probs.channels, 3);
  assert.equal(res.probs.data.length, 20 * 20 * 3);
  assert.equal(res.rate.data.length, 400);
  const d = Array.from(res.rate.data);
  const sorted = [...d].sort((p, q) => p - q);
  assert.equal(res.stats.min, sorted[0]);
  assert.equal(res.stats.max, sorted[399]);
  assert.ok(Math.abs(res.stats.median - (sorted[199]! + sorted[200]!) / 2) < 1e-6);
  assert.equal(res.stats.histogram.counts.reduce((a, b) => a + b, 0), 400);
  assert.equal(res.stats.histogram.edges.length, 11);
  assert.equal(res.stats.fractionZero, d.filter((v) => v === 0).length / 400);
  const cnn = createAscNet({ kind: 'cnn-7', inChannels: 1, classes: 3 });
  const wc = cnn.init(0);
  await assert.rejects(inferWithRate(cnn, wc, site!.samples[0]!.image), /has no rate field/);
  await assert.rejects(inferWithRate(m, cal, { width: 4, height: 4, channels: 3, data: new Float32Array(48) }), /expects 1/);
  const s = rateStats(Float32Array.from([0, 0, 1, 3]), 3);
  assert.deepEqual(s, { min: 0, median: 0.5, max: 3, mean: 1, fractionZero: 0.5, histogram: { edges: [0, 1, 2, 3], counts: [2, 1, 1] } });
  assert.deepEqual(rateStats(new Float32Array(3), 2).histogram, { edges: [0, 0.5, 1], counts: [3, 0] });
  assert.throws(() => rateStats(Float32Array.from([NaN])), /NaN/);
  tf.dispose(Object.keys(cal).filter((k) => cal[k] !== w[k]).map((k) => cal[k]!));
  disposeMap(w);
  disposeMap(wc);
  tf.disposeVariables();
});

test('cell generator: deterministic, nested masks, large cells on the large site', () => {
  const a = generateCellSites({ size: 48, perSite: 3, seed: 5 });
  const b = generateCellSites({ size: 48, perSite: 3, seed: 5 });
  assert.deepEqual(a.map((s) => s.site), ['large', 'small']);
  assert.deepEqual(a[0]!.samples[1]!.image.data, b[0]!.samples[1]!.image.data);
  assert.notDeepEqual(a[0]!.samples[0]!.image.data, a[0]!.samples[1]!.image.data);
  const meanCellArea = (k: number) => {
    let area = 0;
    let cells = 0;
    for (const smp of a[k]!.samples) {
      const m = smp.mask;
      assert.equal(m.classes, 2);
      const cell = new Uint8Array(48 * 48);
      for (let i = 0; i < 48 * 48; i++) {
        assert.ok(m.data[i * 2 + 1]! <= m.data[i * 2]!, 'nucleus inside the cell');
        cell[i] = m.data[i * 2]!;
        area += cell[i]!;
      }
      cells += labelComponents4(cell, 48, 48).count;
      assert.ok(smp.image.data.every((v) => v >= 0 && v <= 255));
    }
    return area / cells;
  };
  const large = meanCellArea(0);
  const small = meanCellArea(1);
  assert.ok(large > 4 * small && small > 3, `mean cell area large ${large} vs small ${small}`);
  const cls = nestedMaskToClasses(a[0]!.samples[0]!.mask);
  assert.ok(cls.includes(0) && cls.includes(1) && cls.includes(2));
  assert.throws(() => generateCellSites({ size: 8, perSite: 1, seed: 0 }), /size must be an integer in \[16, 1024\]/);
  assert.throws(() => generateCellSites({ size: 32, perSite: 0, seed: 0 }), /perSite/);
});
