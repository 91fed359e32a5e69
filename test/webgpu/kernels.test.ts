// WebGPU correctness suite: every op U-Net / ELCFS / ASC training uses, run on tfjs's
// webgpu backend through Dawn and compared with the cpu backend (or a closed-form JS reference), at
// small shapes. Without a GPU this runs on SwiftShader (software Vulkan from Debian's chromium package,
// installed by .ci/run): useSwiftShader() points the Vulkan loader at it before Dawn loads.
// In CI (env CI set) a missing SwiftShader is a failure; on a dev machine without chromium we skip.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tf } from '../../core/tf/tf.js';
import { initBackend, describeBackend } from '../../core/backend.js';
import { SWIFTSHADER_ICD, initWebGpu, isSoftwareAdapter, useSwiftShader, webGpuAdapter, webGpuDeviceErrors } from '../../core/tf/webgpu-backend.js';
import { fedSegWebGpuKernelsEnabled, setFedSegWebGpuKernels } from '../../core/tf/webgpu-kernels.js';
import { fusedAdamStep } from '../../core/tf/webgpu-fused.js';
import { createRng } from '../../core/rng.js';
import { createUNet } from '../../core/models/unet.js';
import { diceLoss } from '../../core/losses/dice-loss.js';
import { relError } from '../helpers/leaks.js';

const haveSwiftShader = existsSync(SWIFTSHADER_ICD);
const skip = !haveSwiftShader && !process.env.CI ? `SwiftShader ICD ${SWIFTSHADER_ICD} absent (apt-get install chromium)` : false;
if (skip) console.log(`# webgpu suite skipped: ${skip}`);

function randn(n: number, seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const t4 = (s: [number, number, number, number], seed: number) => tf.tensor4d(randn(size(s), seed), s);

/** Runs fn in a tidy on one backend, reads every output with async data(), disposes, checks no leak. */
async function runOn(backend: 'webgpu' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(fn);
  const data: Float32Array[] = [];
  for (const o of outs) data.push(Float32Array.from(await o.data()));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, before, `${backend} computation leaked tensors`);
  return data;
}

/** fn on webgpu vs cpu: max-relative error per output below tol; no WebGPU device errors. */
async function compare(label: string, fn: () => tf.Tensor[], tol = 1e-4): Promise<void> {
  const errs0 = webGpuDeviceErrors().length;
  const got = await runOn('webgpu', fn);
  const want = await runOn('cpu', fn);
  await tf.setBackend('webgpu');
  assert.deepEqual(webGpuDeviceErrors().slice(errs0), [], `${label}: WebGPU device errors`);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.ok(want[i]!.some((v) => v !== 0), `${label} output ${i}: reference is all zeros (test would be vacuous)`);
    const e = relError(g, want[i]!);
    assert.ok(e < tol, `${label} output ${i}: webgpu vs cpu relative error ${e.toExponential(2)} >= ${tol}`);
  });
}

before(async () => {
  if (skip) return;
  assert.ok(haveSwiftShader, `CI must provide SwiftShader (${SWIFTSHADER_ICD}); .ci/run installs chromium`);
  useSwiftShader();
  const r = await initBackend({ backend: 'webgpu' });
  // run every op on the GPU: tfjs-webgpu otherwise computes small ops with CPU-resident inputs on the CPU
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  assert.equal(r.name, 'webgpu');
  assert.match(describeBackend(r), /swiftshader/i);
});

test('adapter report and software-adapter policy', { skip }, async () => {
  const a = webGpuAdapter();
  assert.ok(a && a.software, 'SwiftShader must be reported as software');
  assert.ok(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader' }));
  assert.ok(isSoftwareAdapter({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }));
  assert.ok(!isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' }));
  // auto mode must not train on a software adapter (core/backend.ts passes explicit: false in auto mode)
  await assert.rejects(() => initWebGpu({ explicit: false, allowSoftware: false }), /software WebGPU adapter.*slower than wasm/);
  const again = await initBackend({ backend: 'webgpu' });
  assert.equal(again.name, 'webgpu');
});

test('conv2d forward and both gradients (stride 1/2, same/valid, 1x1, split-K) with FedSeg WGSL kernels', { skip }, async () => {
  assert.ok(fedSegWebGpuKernelsEnabled());
  const cases: { x: [number, number, number, number]; w: [number, number, number, number]; s: number; p: 'same' | 'valid' }[] = [
    { x: [2, 9, 9, 5], w: [3, 3, 5, 6], s: 1, p: 'same' },
    { x: [2, 10, 10, 4], w: [3, 3, 4, 8], s: 2, p: 'same' },
    { x: [1, 9, 11, 3], w: [3, 3, 3, 5], s: 2, p: 'valid' },
    { x: [2, 8, 8, 7], w: [1, 1, 7, 3], s: 1, p: 'same' },
    { x: [1, 32, 32, 4], w: [3, 3, 4, 4], s: 1, p: 'same' }, // K = 1024 -> split-K in dW
  ];
  for (const c of cases) {
    await compare(`conv ${c.x} ${c.w} s${c.s} ${c.p}`, () => {
      const x = t4(c.x, 1), w = t4(c.w, 2);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.p);
      const y = f(x, w);
      const dy = tf.tensor4d(randn(size(y.shape), 3), y.shape);
      // FedSeg's conv gradients (core/tf/conv-grad.ts) are forward convs + pads/transposes
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), dy)))([x, w]);
      // the direct backprop kernels (FedSeg WGSL on webgpu, stock on cpu)
      const attrs = { strides: [c.s, c.s], pad: c.p, dataFormat: 'NHWC' };
      const dW = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.w }) as tf.Tensor;
      const dX = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x }) as tf.Tensor;
      return [y, gx!, gw!, dW, dX];
    });
  }
});

test('stock tfjs webgpu conv kernels give the same results (before/after switch)', { skip }, async () => {
  const fn = () => {
    const x = t4([2, 10, 10, 4], 4), w = t4([3, 3, 4, 6], 5);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([x, w]);
    return [tf.conv2d(x, w, 1, 'same'), gx!, gw!];
  };
  setFedSegWebGpuKernels(false);
  try {
    await compare('stock kernels', fn);
  } finally {
    setFedSegWebGpuKernels(true);
  }
  await compare('fedseg kernels', fn);
});

test('max-pool 2x2 + gradient, nearest x2 upsample (resize and broadcast) + gradients', { skip }, async () => {
  await compare('maxpool', () => {
    const x = t4([2, 8, 8, 3], 6);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), tf.tensor4d(randn(2 * 4 * 4 * 3, 7), [2, 4, 4, 3]))))(x);
    return [tf.maxPool(x, 2, 2, 'valid'), g];
  });
  await compare('upsample broadcast', () => {
    const x = t4([2, 4, 5, 3], 8);
    const up = (a: tf.Tensor) => tf.reshape(tf.mul(tf.reshape(a, [2, 4, 1, 5, 1, 3]), tf.ones([1, 1, 2, 1, 2, 1])), [2, 8, 10, 3]);
    const r = tf.tensor4d(randn(2 * 8 * 10 * 3, 9), [2, 8, 10, 3]);
    return [up(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(up(a), r)))(x)];
  });
  // tf.image.resizeNearestNeighbor on webgpu vs a closed-form reference (cpu's ResizeNearestNeighborGrad
  // is wrong for B, C > 1 in tfjs 4.22, see core/models/unet.ts)
  const xs = randn(2 * 3 * 4 * 2, 10), rs = randn(2 * 6 * 8 * 2, 11);
  const [y, g] = await runOn('webgpu', () => {
    const x = tf.tensor4d(xs, [2, 3, 4, 2]);
    const r = tf.tensor4d(rs, [2, 6, 8, 2]);
    return [tf.image.resizeNearestNeighbor(x, [6, 8]), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [6, 8]), r)))(x)];
  });
  const yRef = new Float32Array(2 * 6 * 8 * 2), gRef = new Float32Array(xs.length);
  for (let b = 0; b < 2; b++) for (let i = 0; i < 6; i++) for (let j = 0; j < 8; j++) for (let c = 0; c < 2; c++) {
    const src = ((b * 3 + (i >> 1)) * 4 + (j >> 1)) * 2 + c, dst = ((b * 6 + i) * 8 + j) * 2 + c;
    yRef[dst] = xs[src]!;
    gRef[src] = gRef[src]! + rs[dst]!;
  }
  assert.ok(relError(y!, yRef) < 1e-6, 'resizeNearestNeighbor x2');
  assert.ok(relError(g!, gRef) < 1e-5, 'resizeNearestNeighbor gradient');
  await tf.setBackend('webgpu');
});

test('instance-norm pieces (moments, rsqrt) with gradient, sigmoid + gradient, matMul + gradient', { skip }, async () => {
  await compare('instance norm', () => {
    const x = t4([2, 6, 6, 4], 12);
    const inorm = (a: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, [1, 2], true);
      return tf.mul(tf.sub(a, mean), tf.rsqrt(tf.add(variance, 1e-5)));
    };
    const { mean, variance } = tf.moments(x, [1, 2], true);
    const r = tf.tensor4d(randn(2 * 6 * 6 * 4, 13), [2, 6, 6, 4]);
    return [mean, variance, inorm(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(inorm(a), r)))(x)];
  }, 5e-4);
  await compare('sigmoid', () => {
    const x = t4([1, 5, 5, 2], 14);
    return [tf.sigmoid(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(a), a)))(x)];
  });
  await compare('matMul', () => {
    const a = tf.tensor2d(randn(7 * 9, 15), [7, 9]), b = tf.tensor2d(randn(9 * 5, 16), [9, 5]);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D))))([a, b]);
    return [tf.matMul(a, b), ga!, gb!];
  });
});

test('gatherND (bilinear sampling in ASC conv) and its scatterND gradient with duplicate indices', { skip }, async () => {
  await compare('gatherND', () => {
    const p = tf.tensor4d(randn(2 * 4 * 4 * 3, 17), [2, 4, 4, 3]);
    const ind = tf.tensor2d([[0, 1, 2], [1, 3, 0], [0, 1, 2], [1, 0, 0], [0, 3, 3]], [5, 3], 'int32');
    const r = tf.tensor2d(randn(5 * 3, 18), [5, 3]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gatherND(a, ind), r)))(p);
    return [tf.gatherND(p, ind), g];
  });
});

test('Adam update (3 steps) matches cpu', { skip }, async () => {
  await compare('adam', () => {
    const w = tf.variable(tf.tensor2d(randn(6 * 4, 19), [6, 4]), true, `w${tf.getBackend()}`);
    const target = tf.tensor2d(randn(6 * 4, 20), [6, 4]);
    const opt = tf.train.adam(0.01);
    for (let i = 0; i < 3; i++) opt.minimize(() => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar);
    const out = tf.clone(w);
    opt.dispose();
    w.dispose();
    return [out];
  });
});

test('fixes for tfjs-backend-webgpu 4.22 bugs: rank-6 pad, cast(bool/int)->float then transpose, int32 transpose', { skip }, async () => {
  await compare('pad rank 6', () => [tf.pad(tf.tensor(randn(2 * 3 * 2 * 3 * 1 * 2, 21), [2, 3, 2, 3, 1, 2]), [[0, 0], [1, 0], [0, 1], [0, 0], [0, 1], [1, 1]], 0.5)]);
  await compare('cast then transpose', () => {
    const m = tf.cast(tf.greater(tf.tensor4d(randn(2 * 6 * 5 * 3, 22), [2, 6, 5, 3]), 0), 'float32');
    const i = tf.cast(tf.tensor4d(randn(2 * 6 * 5 * 3, 23, 50), [2, 6, 5, 3]), 'int32');
    return [tf.transpose(m, [3, 1, 2, 0]), tf.cast(tf.transpose(i, [3, 1, 2, 0]), 'float32'), tf.transpose(tf.cast(i, 'float32'), [1, 2, 0, 3])];
  });
});

test('reference U-Net (small) Dice-loss gradients of every weight match cpu', { skip }, async () => {
  const model = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 2 });
  await compare('unet grads', () => {
    const weights = model.init(3);
    const names = Object.keys(weights);
    const x = tf.tensor4d(randn(16 * 16 * 3, 24), [1, 16, 16, 3]);
    const y = tf.cast(tf.greater(tf.tensor4d(randn(16 * 16 * 2, 25), [1, 16, 16, 2]), 0), 'float32');
    const lossWith = (m: Record<string, tf.Tensor>) => diceLoss(model.forward(m, x, { training: true }).probs, y);
    const { value, grads } = tf.engine().gradients(() => lossWith(weights), names.map((n) => weights[n]!), undefined, true);
    return [value, ...grads.filter((g): g is tf.Tensor => g != null)];
  }, 2e-3);
});

test('fused Adam step (3 WGSL programs) equals the tf-ops Adam on cpu over 3 steps', { skip }, async () => {
  await compare('fused adam', () => {
    let w: tf.Tensor = tf.tensor2d(randn(40 * 30, 26), [40, 30]);
    let m: tf.Tensor | null = null, v: tf.Tensor | null = null;
    for (let t = 1; t <= 3; t++) {
      const g = tf.tensor2d(randn(40 * 30, 27 + t), [40, 30]);
      const r = fusedAdamStep(w, g, m, v, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, t);
      w = r.w; m = r.m; v = r.v;
    }
    return [w, m!, v!];
  });
});

test('sync reads of GPU tensors fail with a clear message; async reads work', { skip }, async () => {
  await tf.setBackend('webgpu');
  const y = tf.tidy(() => tf.add(tf.ones([1000]), 1));
  assert.throws(() => y.dataSync(), /await tensor\.data\(\)/);
  assert.ok((await y.data()).every((v) => v === 2));
  y.dispose();
});
