// Conv2D / conv2dTranspose / MaxPool backward passes (core/tf/conv-grad.ts, grad-overrides.ts,
// wasm-kernels.ts) against the cpu backend's STOCK kernels (Conv2DBackpropInput, Conv2DBackpropFilter,
// MaxPoolGrad run directly on cpu, which FedSeg does not replace): relative error < 1e-4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { assertNoLeaks } from '../../test/helpers/leaks.js';
import { assertClose, randn, runOn, sizeOf } from '../../test/helpers/compare-backends.js';
import { convFilterGrad } from './conv-grad.js';
import { setConvGradMode } from './grad-overrides.js';

type S4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase { x: S4; k: [number, number]; co: number; s: number | [number, number]; pad: Pad }

const convCases: ConvCase[] = [
  { x: [1, 5, 5, 2], k: [3, 3], co: 3, s: 1, pad: 'same' },
  { x: [2, 7, 6, 3], k: [3, 3], co: 4, s: 2, pad: 'same' },
  { x: [2, 7, 7, 3], k: [3, 3], co: 2, s: 2, pad: 'valid' },
  { x: [2, 8, 9, 2], k: [3, 3], co: 2, s: 1, pad: 'valid' },
  { x: [3, 9, 8, 2], k: [2, 2], co: 3, s: 2, pad: 'same' },
  { x: [1, 9, 9, 2], k: [5, 3], co: 2, s: [2, 1], pad: 'same' },
  { x: [2, 6, 6, 4], k: [1, 1], co: 5, s: 1, pad: 'valid' },
  { x: [1, 8, 7, 2], k: [3, 3], co: 2, s: 3, pad: 'valid' },
  { x: [2, 6, 7, 2], k: [3, 3], co: 3, s: 2, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
];

function outShape(c: ConvCase): S4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.co], c.s, 1, c.pad);
  return [c.x[0], info.outHeight, info.outWidth, c.co];
}

test('conv2d dx and dW (grad overrides on cpu and wasm, wasm kernels) match cpu stock kernels', async () => {
  for (const [i, c] of convCases.entries()) {
    const wShape: S4 = [c.k[0], c.k[1], c.x[3], c.co];
    const yShape = outShape(c);
    const xs = randn(sizeOf(c.x), 10 + i), ws = randn(sizeOf(wShape), 20 + i), dys = randn(sizeOf(yShape), 30 + i);
    const mk = () => ({ x: tf.tensor4d(xs, c.x), w: tf.tensor4d(ws, wShape), dy: tf.tensor4d(dys, yShape) });
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const stock = await runOn('cpu', () => {
      const { x, w, dy } = mk();
      return [
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: wShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ];
    });
    const viaGrad = () => {
      const { x, w, dy } = mk();
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), dy)));
      return g([x, w]);
    };
    const label = `case ${i} x=${c.x} k=${c.k} s=${c.s} pad=${JSON.stringify(c.pad)}`;
    assertClose(await runOn('cpu', viaGrad), stock, 1e-4, `${label} cpu grads`);
    assertClose(await runOn('wasm', viaGrad), stock, 1e-4, `${label} wasm grads`);
    const wasmKernels = await runOn('wasm', () => {
      const { x, w, dy } = mk();
      return [
        tf.conv2dTranspose(dy, w, c.x, c.s, c.pad === 'same' || c.pad === 'valid' ? c.pad : 'valid') as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: wShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ];
    });
    if (c.pad === 'same' || c.pad === 'valid') assertClose(wasmKernels.slice(0, 1), stock.slice(0, 1), 1e-4, `${label} wasm conv2dTranspose`);
    assertClose(wasmKernels.slice(1), stock, 1e-4, `${label} wasm kernels`);
  }
});

test('conv gradients are differentiable: conv2dTranspose and filter-grad adjoints hold on both backends', async () => {
  // Linear maps: <A u, g> must equal <u, Aᵀ g> where Aᵀ g is what tf.grad returns through our
  // Conv2DBackpropInput / Conv2DBackpropFilter gradients.
  const x: S4 = [2, 7, 6, 3], wShape: S4 = [3, 3, 3, 4], yShape: S4 = [2, 4, 3, 4];
  for (const backend of ['cpu', 'wasm'] as const) {
    const [lhs1, rhs1, lhs2, rhs2] = await runOn(backend, () => {
      const w = tf.tensor4d(randn(sizeOf(wShape), 1), wShape);
      const u = tf.tensor4d(randn(sizeOf(yShape), 2), yShape);
      const g = tf.tensor4d(randn(sizeOf(x), 3), x);
      const tr = (d: tf.Tensor) => tf.conv2dTranspose(d as tf.Tensor4D, w, x, 2, 'same');
      const gradT = tf.grad((d: tf.Tensor) => tf.sum(tf.mul(tr(d), g)))(u);
      const xs = tf.tensor4d(randn(sizeOf(x), 4), x);
      const gw = tf.tensor4d(randn(sizeOf(wShape), 5), wShape);
      const fg = (d: tf.Tensor) => convFilterGrad(xs, d as tf.Tensor4D, wShape, { strides: 2, pad: 'same' });
      const gradF = tf.grad((d: tf.Tensor) => tf.sum(tf.mul(fg(d), gw)))(u);
      return [tf.sum(tf.mul(tr(u), g)), tf.sum(tf.mul(u, gradT)), tf.sum(tf.mul(fg(u), gw)), tf.sum(tf.mul(u, gradF))];
    });
    assert.ok(Math.abs(lhs1![0]! - rhs1![0]!) < 1e-4 * Math.abs(lhs1![0]!) + 1e-4, `${backend} conv2dTranspose adjoint`);
    assert.ok(Math.abs(lhs2![0]! - rhs2![0]!) < 1e-4 * Math.abs(lhs2![0]!) + 1e-4, `${backend} filter-grad adjoint`);
  }
});

interface PoolCase { x: S4; k: number | [number, number]; s: number | [number, number]; pad: 'same' | 'valid'; ties: boolean }
const poolCases: PoolCase[] = [
  { x: [1, 4, 4, 2], k: 2, s: 2, pad: 'valid', ties: false },
  { x: [2, 8, 8, 3], k: 2, s: 2, pad: 'valid', ties: true },
  { x: [2, 7, 7, 3], k: 2, s: 2, pad: 'same', ties: true },
  { x: [2, 7, 6, 2], k: 3, s: 2, pad: 'same', ties: true },
  { x: [1, 6, 7, 2], k: 3, s: 1, pad: 'valid', ties: true },
  { x: [2, 9, 9, 2], k: [3, 2], s: [2, 3], pad: 'valid', ties: false },
  { x: [1, 9, 8, 2], k: 2, s: 3, pad: 'valid', ties: true }, // kernel < stride: gaps between windows
  { x: [2, 9, 7, 2], k: 2, s: 2, pad: 'valid', ties: true }, // leftover row/col not pooled
];

test('maxPool gradient (override on cpu and wasm, wasm MaxPoolGrad kernel) matches cpu stock MaxPoolGrad, ties included', async () => {
  for (const [i, c] of poolCases.entries()) {
    // ties: relu + quantise, so many windows hold several equal maxima (as after relu in a real net)
    const xs = randn(sizeOf(c.x), 40 + i).map((v) => (c.ties ? Math.round(Math.max(v, 0) * 2) / 2 : v));
    const y = tf.tidy(() => tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.k, c.s, c.pad).shape);
    const dys = randn(sizeOf(y), 50 + i);
    const mk = () => ({ x: tf.tensor4d(xs, c.x), dy: tf.tensor4d(dys, y) });
    const attrs = { filterSize: c.k, strides: c.s, pad: c.pad };
    const direct = () => {
      const { x, dy } = mk();
      return tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: tf.maxPool(x, c.k, c.s, c.pad) }, attrs) as tf.Tensor;
    };
    const stock = await runOn('cpu', direct);
    const viaGrad = () => {
      const { x, dy } = mk();
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), dy)))(x);
    };
    const label = `pool case ${i} x=${c.x} k=${c.k} s=${c.s} ${c.pad}`;
    assertClose(await runOn('cpu', viaGrad), stock, 1e-6, `${label} cpu grad`);
    assertClose(await runOn('wasm', viaGrad), stock, 1e-6, `${label} wasm grad`);
    assertClose(await runOn('wasm', direct), stock, 1e-6, `${label} wasm MaxPoolGrad kernel`);
    // every routed value lands somewhere: sum(dx) == sum(dy)
    const total = dys.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(stock[0]!.reduce((a, b) => a + b, 0) - total) < 1e-3, `${label} stock routes all`);
  }
});

test('maxPool backward is itself differentiable (MaxPoolGrad adjoint) and nothing leaks', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    const [lhs, rhs, lhsK, rhsK] = await runOn(backend, () => {
      const x = tf.tensor4d(randn(2 * 6 * 6 * 2, 7), [2, 6, 6, 2]);
      const g = tf.tensor4d(randn(2 * 6 * 6 * 2, 8), [2, 6, 6, 2]);
      const u = tf.tensor4d(randn(2 * 3 * 3 * 2, 9), [2, 3, 3, 2]);
      const back = (d: tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'same'), d)))(x);
      const gU = tf.grad((d: tf.Tensor) => tf.sum(tf.mul(back(d), g)))(u);
      const kern = (d: tf.Tensor) => tf.engine().runKernel('MaxPoolGrad', { dy: d, input: x, output: tf.maxPool(x, 2, 2, 'same') }, { filterSize: 2, strides: 2, pad: 'same' }) as tf.Tensor;
      const gK = tf.grad((d: tf.Tensor) => tf.sum(tf.mul(kern(d), g)))(u);
      return [tf.sum(tf.mul(back(u), g)), tf.sum(tf.mul(u, gU)), tf.sum(tf.mul(kern(u), g)), tf.sum(tf.mul(u, gK))];
    });
    assert.ok(Math.abs(lhs![0]! - rhs![0]!) < 1e-4 * (1 + Math.abs(lhs![0]!)), `${backend} maxPool backward adjoint`);
    assert.ok(Math.abs(lhsK![0]! - rhsK![0]!) < 1e-4 * (1 + Math.abs(lhsK![0]!)), `${backend} MaxPoolGrad kernel adjoint`);
  }
  await assertNoLeaks(() => tf.tidy(() => {
    const x = tf.tensor4d(randn(2 * 5 * 5 * 3, 1), [2, 5, 5, 3]);
    const w = tf.tensor4d(randn(3 * 3 * 3 * 2, 2), [3, 3, 3, 2]);
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 2, 2, 'same')))([x, w]);
  }), 'conv+maxPool grads');
});

test('avgPool gradient is the exact adjoint of avgPool, also where same-padding windows are partial (stock is not)', async () => {
  const cases: { x: S4; k: number; s: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 4, 5, 2], k: 2, s: 2, pad: 'same' },
    { x: [1, 5, 5, 3], k: 3, s: 2, pad: 'same' },
    { x: [2, 6, 7, 2], k: 3, s: 1, pad: 'same' },
    { x: [2, 6, 6, 2], k: 2, s: 2, pad: 'valid' },
    { x: [1, 9, 8, 2], k: 2, s: 3, pad: 'valid' },
    { x: [2, 7, 9, 2], k: 2, s: 2, pad: 'valid' },
  ];
  for (const [i, c] of cases.entries()) {
    const per: Float32Array[][] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      const out = await runOn(backend, () => {
        const x = tf.tensor4d(randn(sizeOf(c.x), 80 + i), c.x);
        const y = (a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, c.k, c.s, c.pad);
        const r = tf.tensor(randn(y(x).size, 90 + i), y(x).shape);
        const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(y(a), r)))(x);
        return [tf.sum(tf.mul(y(x), r)), tf.sum(tf.mul(x, g)), g];
      });
      const [lhs, rhs] = [out[0]![0]!, out[1]![0]!];
      assert.ok(Math.abs(lhs - rhs) < 1e-4 * (1 + Math.abs(lhs)), `${backend} avgPool case ${i} adjoint: ${lhs} vs ${rhs}`);
      per.push(out.slice(2));
    }
    assertClose(per[1]!, per[0]!, 1e-4, `avgPool case ${i} wasm vs cpu`);
  }
});

test('tf.fused.conv2d (bias + relu) gradients on wasm, which call the composite wasm kernels, match cpu', async () => {
  const f = () => {
    const x = tf.tensor4d(randn(2 * 7 * 6 * 3, 1), [2, 7, 6, 3]);
    const w = tf.tensor4d(randn(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]);
    const b = tf.tensor1d(randn(4, 3));
    const r = tf.tensor4d(randn(2 * 4 * 3 * 4, 4), [2, 4, 3, 4]);
    return tf.grads((a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: k as tf.Tensor4D, bias: c, strides: 2, pad: 'same', activation: 'relu' }), r)))([x, w, b]);
  };
  assertClose(await runOn('wasm', f), await runOn('cpu', f), 1e-4, 'fused conv grads');
});

test('backend-kernel conv backward path (used on webgpu/tfjs-node) gives the same 1st and 2nd-order gradients', async () => {
  // On cpu, 'kernels' runs tfjs's stock Conv2DBackpropInput/Filter kernels, taped with FedSeg's
  // 2nd-order overrides; 'composite' is the forward-conv path. Both must agree.
  const f = () => {
    const x = tf.tensor4d(randn(2 * 6 * 5 * 2, 1), [2, 6, 5, 2]);
    const w = tf.tensor4d(randn(3 * 3 * 2 * 3, 2), [3, 3, 2, 3]);
    const r = tf.tensor4d(randn(2 * 3 * 3 * 3, 3), [2, 3, 3, 3]);
    const loss = (a: tf.Tensor, k: tf.Tensor) => tf.sum(tf.mul(tf.tanh(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 2, 'same')), r)) as tf.Scalar;
    const first = tf.grads(loss)([x, w]);
    const meta = tf.grad((k: tf.Tensor) => loss(x, tf.sub(k, tf.mul(tf.grads(loss)([x, k])[1]!, 0.3))))(w);
    return [...first, meta];
  };
  for (const backend of ['cpu', 'wasm'] as const) {
    const composite = await runOn(backend, f);
    const prev = setConvGradMode('kernels');
    try {
      assertClose(await runOn(backend, f), composite, 1e-4, `${backend} kernels vs composite`);
    } finally {
      setConvGradMode(prev);
    }
  }
});

test('conv with dilation > 1 fails with a clear error, not a wrong gradient', async () => {
  await runOn('wasm', () => tf.zeros([1]));
  assert.throws(() => tf.tidy(() => {
    const x = tf.ones([1, 6, 6, 1]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
    tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w, 1, 'same', 'NHWC', 2)))(x);
  }), /dilation rates > 1 have no gradient/);
});
