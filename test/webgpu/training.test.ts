// The learner's training path on the webgpu backend (docs/gpu.md "Reading tensors"):
// tfjs-webgpu in Node has no synchronous readback, so one real ELCFS trainLocal step (FedDG episodic
// meta step, docs/algorithms.md §5) and one run-API evaluation (§6) must run with async readbacks only.
// Also: Adam.apply uses the fused WGSL update on webgpu (core/tf/webgpu-fused.ts) and must equal the
// torch-order tf-ops update of core/train/adam.ts (run on cpu) step for step.
// Runs on SwiftShader without a GPU (as kernels.test.ts); skipped on a dev machine without chromium.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tf } from '../../core/tf/tf.js';
import { initBackend } from '../../core/backend.js';
import { SWIFTSHADER_ICD, useSwiftShader, webGpuDeviceErrors } from '../../core/tf/webgpu-backend.js';
import { createRng } from '../../core/rng.js';
import { buildNetwork } from '../../core/models/registry.js';
import { Adam } from '../../core/train/adam.js';
import { trainLocal } from '../../core/train/local-training.js';
import { evaluateNetwork } from '../../core/run/evaluation.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { extractAmplitudeWindow } from '../../core/freq/amplitude-interpolation.js';
import { assertNoLeaks, relError } from '../helpers/leaks.js';

const haveSwiftShader = existsSync(SWIFTSHADER_ICD);
const skip = !haveSwiftShader && !process.env.CI ? `SwiftShader ICD ${SWIFTSHADER_ICD} absent (apt-get install chromium)` : false;
if (skip) console.log(`# webgpu training suite skipped: ${skip}`);

before(async () => {
  if (skip) return;
  assert.ok(haveSwiftShader, `CI must provide SwiftShader (${SWIFTSHADER_ICD}); .ci/run installs chromium`);
  useSwiftShader();
  const r = await initBackend({ backend: 'webgpu' });
  assert.equal(r.name, 'webgpu');
  // every op on the GPU, so any synchronous read of a result would throw
  tf.env().set('WEBGPU_CPU_FORWARD', false);
});

function randn(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** 3 Adam.apply steps on two weights on `backend`; returns weights then m/v state as arrays. */
async function adamRun(backend: 'webgpu' | 'cpu'): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const shapes: Record<string, number[]> = { a: [40, 30], b: [7] };
  const weights: Record<string, tf.Tensor> = Object.fromEntries(Object.entries(shapes).map(([n, s], i) => [n, tf.tensor(randn(s.reduce((x, y) => x * y, 1), 40 + i), s)]));
  const adam = new Adam({ lr: 0.01 });
  for (let t = 1; t <= 3; t++) {
    const grads = Object.fromEntries(Object.entries(shapes).map(([n, s], i) => [n, tf.tensor(randn(s.reduce((x, y) => x * y, 1), 50 + 10 * t + i), s)]));
    adam.apply(weights, grads);
    tf.dispose(Object.values(grads));
  }
  const out = [...(await Promise.all(Object.values(weights).map(async (w) => Float32Array.from(await w.data())))), ...(await adam.toNamedArraysAsync()).map((a) => a.data)];
  tf.dispose(Object.values(weights));
  adam.dispose();
  return out;
}

test('Adam.apply on webgpu (fused WGSL) equals the tf-ops Adam on cpu over 3 steps; async snapshot', { skip }, async () => {
  const errs0 = webGpuDeviceErrors().length;
  const before = tf.memory().numTensors;
  const got = await adamRun('webgpu');
  const want = await adamRun('cpu');
  await tf.setBackend('webgpu');
  assert.equal(tf.memory().numTensors, before, 'Adam runs leaked tensors');
  assert.deepEqual(webGpuDeviceErrors().slice(errs0), []);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.ok(want[i]!.some((v) => v !== 0), `output ${i} is all zeros (vacuous)`);
    const e = relError(g, want[i]!);
    assert.ok(e < 1e-5, `output ${i}: fused webgpu Adam vs cpu relative error ${e.toExponential(2)}`);
  });
});

test('one ELCFS trainLocal step and a run-API evaluation run on webgpu (no sync readback), finite, no leaks', { skip }, async () => {
  await tf.setBackend('webgpu');
  const errs0 = webGpuDeviceErrors().length;
  const sites = generateFundusSites({ sites: 2, perSite: 2, size: 32, seed: 3 });
  const [own, other] = [sites[0]!, sites[1]!];
  const bank = [{ site: other.site, windows: other.samples.map((s) => extractAmplitudeWindow(s.image, 0.05)) }];
  const net = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } });
  const model = net.model;
  const weights = model.init(7);
  const w0 = Float32Array.from(await weights['seg1.weight']!.data());
  const adam = new Adam();
  const before = tf.memory().numTensors;
  const r = await trainLocal({ model, weights, samples: own.samples, adam, mode: 'elcfs', seed: 5, batchSize: 2, amplitudeBank: bank, site: own.site });
  // Adam's m/v state is new (2 tensors per weight); nothing else may remain
  assert.equal(tf.memory().numTensors, before + 2 * Object.keys(weights).length, 'trainLocal leaked tensors');
  assert.equal(r.steps, 1);
  for (const [k, v] of Object.entries(r.lastLosses)) assert.ok(Number.isFinite(v), `loss ${k} = ${v}`);
  assert.ok(r.lastLosses.inner > 0 && r.lastLosses.metaDice > 0 && r.lastLosses.boundary > 0, JSON.stringify(r.lastLosses));
  assert.ok(Math.abs(r.lastLosses.total - (r.lastLosses.inner + r.lastLosses.metaDice + 0.1 * r.lastLosses.boundary)) < 1e-4);
  const w1 = await weights['seg1.weight']!.data();
  assert.ok(w1.some((v, i) => v !== w0[i]), 'the step must change the weights');
  const ev = await assertNoLeaks(() => evaluateNetwork(net, weights, sites[1]!.samples, { batchSize: 2 }), 'evaluateNetwork');
  assert.equal(ev.perImage.length, 2);
  for (const d of ev.meanDice) assert.ok(Number.isFinite(d) && d >= 0 && d <= 1, `dice ${d}`);
  assert.deepEqual(webGpuDeviceErrors().slice(errs0), [], 'WebGPU device errors');
  tf.dispose(Object.values(weights));
  adam.dispose();
});
