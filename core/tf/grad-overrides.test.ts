// Gradient overrides and wasm kernels other than conv/maxpool (core/tf/grad-overrides.ts,
// wasm-kernels.ts): gather/scatter, upsampling, instance norm, and second-order correctness.
// References: the cpu backend's stock result where one exists (rel < 1e-4), else central finite
// differences (GatherNd has no gradient in stock tfjs) or closed-form derivatives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { assertNoLeaks } from '../../test/helpers/leaks.js';
import { assertClose, randn, runOn, sizeOf } from '../../test/helpers/compare-backends.js';
import { logSoftmax } from './safe-ops.js';

const BACKENDS = ['cpu', 'wasm'] as const;
const t4 = (shape: [number, number, number, number], seed: number) => tf.tensor4d(randn(sizeOf(shape), seed), shape);

/** Central finite difference of scalar f along v, vs <∇f(x), v>. Returns [fd, analytic]. */
function directional(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, v: tf.Tensor, h: number): [tf.Tensor, tf.Tensor] {
  const fd = tf.div(tf.sub(f(tf.add(x, tf.mul(v, h))), f(tf.sub(x, tf.mul(v, h)))), 2 * h);
  const an = tf.sum(tf.mul(tf.grad(f)(x), v));
  return [fd, an];
}

function assertRel(a: number, b: number, tol: number, label: string): void {
  const e = Math.abs(a - b) / Math.max(Math.abs(b), 1e-3);
  assert.ok(e < tol, `${label}: ${a} vs ${b} (rel ${e.toExponential(2)} >= ${tol})`);
}

test('gatherND gradient = scatterND (duplicates summed), matches finite differences on cpu and wasm', async () => {
  const idx = [[0, 1], [0, 1], [2, 0], [1, 2], [2, 0], [0, 0]];
  const mk = () => ({
    p: tf.tensor3d(randn(3 * 3 * 4, 1), [3, 3, 4]),
    ind: tf.tensor2d(idx, [6, 2], 'int32'),
    r: tf.tensor2d(randn(6 * 4, 2), [6, 4]),
    v: tf.tensor3d(randn(3 * 3 * 4, 3), [3, 3, 4]),
  });
  const results: Float32Array[][] = [];
  for (const b of BACKENDS) {
    const out = await runOn(b, () => {
      const { p, ind, r, v } = mk();
      // smooth nonlinear function of the gathered values, so FD tests more than linearity
      const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.sin(tf.gatherND(x, ind)), r)) as tf.Scalar;
      const [fd, an] = directional(f, p, v, 1e-2);
      return [tf.grad(f)(p), fd, an];
    });
    assertRel(out[2]![0]!, out[1]![0]!, 2e-3, `${b} gatherND directional derivative vs FD`);
    results.push(out);
  }
  assertClose([results[1]![0]!], [results[0]![0]!], 1e-4, 'gatherND grad wasm vs cpu');
  // entry [0,1,:] is gathered twice: its gradient is the sum of both rows' contributions
  const g = results[0]![0]!;
  const r = randn(24, 2), pv = randn(36, 1);
  for (let c = 0; c < 4; c++) {
    const want = Math.cos(pv[4 + c]!) * (r[c]! + r[4 + c]!);
    assert.ok(Math.abs(g[4 + c]! - want) < 1e-5, `duplicate index summed (channel ${c})`);
  }
});

test('bilinear sampling via gatherND trains: gradients wrt image and sampling offsets match FD, wasm == cpu', async () => {
  // ASCNet-style sampling (Zhang et al. 2020; docs/measured.md §3): value at (i + r, j + r) with a float
  // offset r per pixel, bilinear weights differentiable wrt r, corners fetched with gatherND.
  const H = 5, W = 5, C = 2;
  const sample = (img: tf.Tensor, rate: tf.Tensor) => {
    const ii = tf.reshape(tf.tile(tf.reshape(tf.range(0, H), [H, 1]), [1, W]), [H * W]);
    const jj = tf.reshape(tf.tile(tf.reshape(tf.range(0, W), [1, W]), [H, 1]), [H * W]);
    const r = tf.reshape(rate, [H * W]);
    const py = tf.add(ii, r), px = tf.add(jj, r);
    const y0f = tf.floor(py), x0f = tf.floor(px);
    const wy = tf.sub(py, y0f), wx = tf.sub(px, x0f);
    const cl = (t: tf.Tensor, hi: number) => tf.cast(tf.clipByValue(t, 0, hi - 1), 'int32');
    const y0 = cl(y0f, H), y1 = cl(tf.add(y0f, 1), H), x0 = cl(x0f, W), x1 = cl(tf.add(x0f, 1), W);
    const g = (a: tf.Tensor, b: tf.Tensor) => tf.gatherND(img, tf.stack([a, b], 1));
    const top = tf.add(g(y0, x0), tf.mul(tf.expandDims(wx, 1), tf.sub(g(y0, x1), g(y0, x0))));
    const bot = tf.add(g(y1, x0), tf.mul(tf.expandDims(wx, 1), tf.sub(g(y1, x1), g(y1, x0))));
    return tf.add(top, tf.mul(tf.expandDims(wy, 1), tf.sub(bot, top)));
  };
  const outs: Float32Array[][] = [];
  for (const b of BACKENDS) {
    const out = await runOn(b, () => {
      const img = tf.tensor3d(randn(H * W * C, 4), [H, W, C]);
      const rate = tf.tensor2d(Array.from(randn(H * W, 5), (v) => 0.6 + 0.4 * Math.abs(v) + 0.05), [H, W]);
      const wts = tf.tensor2d(randn(H * W * C, 6), [H * W, C]);
      const loss = (im: tf.Tensor, rt: tf.Tensor) => tf.sum(tf.mul(tf.tanh(sample(im, rt)), wts)) as tf.Scalar;
      const [fdI, anI] = directional((x) => loss(x, rate), img, tf.tensor3d(randn(H * W * C, 7), [H, W, C]), 1e-2);
      const [fdR, anR] = directional((x) => loss(img, x), rate, tf.tensor2d(randn(H * W, 8), [H, W]), 1e-3);
      const [gI, gR] = tf.grads(loss)([img, rate]);
      return [fdI, anI, fdR, anR, gI!, gR!];
    });
    assertRel(out[1]![0]!, out[0]![0]!, 2e-3, `${b} d/d image`);
    assertRel(out[3]![0]!, out[2]![0]!, 2e-2, `${b} d/d rate`);
    assert.ok(out[4]!.some((v) => v !== 0) && out[5]!.some((v) => v !== 0), 'non-trivial gradients');
    outs.push(out);
  }
  assertClose(outs[1]!.slice(4), outs[0]!.slice(4), 1e-4, 'bilinear grads wasm vs cpu');
});

test('UnsortedSegmentSum wasm kernel and tf.gather gradient on wasm match cpu stock', async () => {
  const f = () => {
    const x = tf.tensor3d(randn(6 * 3 * 2, 1), [6, 3, 2]);
    const ids = tf.tensor1d([3, 0, 3, 1, 0, 3], 'int32');
    const p = tf.tensor2d(randn(5 * 3, 2), [5, 3]);
    const gi = tf.tensor1d([4, 0, 4, 2, 4], 'int32');
    const r = tf.tensor2d(randn(5 * 3, 3), [5, 3]);
    return [tf.unsortedSegmentSum(x, ids, 5), tf.grad((q: tf.Tensor) => tf.sum(tf.mul(tf.gather(q, gi), r)))(p)];
  };
  assertClose(await runOn('wasm', f), await runOn('cpu', f), 1e-4, 'segment sum / gather grad');
});

test('nearest/bilinear resize gradients are the exact adjoint of the forward op on cpu and wasm (stock tfjs is not)', async () => {
  // <resize(x), r> == <x, ∇x <resize(x), r>> for every mode; the stock tfjs 4.22 gradients fail this.
  const cases: { x: [number, number, number, number]; size: [number, number]; align: boolean; half: boolean }[] = [
    { x: [2, 4, 5, 3], size: [8, 10], align: false, half: false }, // 2x (integer fast path for nearest)
    { x: [1, 4, 5, 2], size: [8, 15], align: false, half: true }, // 2x / 3x with half-pixel centres
    { x: [2, 5, 6, 3], size: [9, 11], align: false, half: false },
    { x: [2, 5, 6, 3], size: [7, 9], align: false, half: true },
    { x: [1, 5, 6, 2], size: [9, 11], align: true, half: false },
    { x: [1, 8, 9, 2], size: [5, 4], align: false, half: true }, // downsampling
  ];
  for (const [i, c] of cases.entries()) {
    const per: Float32Array[][] = [];
    for (const b of BACKENDS) {
      const out = await runOn(b, () => {
        const x = t4(c.x, 60 + i);
        const r = t4([c.x[0], c.size[0], c.size[1], c.x[3]], 70 + i);
        const res = [];
        for (const f of [tf.image.resizeNearestNeighbor, tf.image.resizeBilinear]) {
          const y = (a: tf.Tensor) => f(a as tf.Tensor4D, c.size, c.align, c.half);
          const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(y(a), r)))(x);
          res.push(tf.sum(tf.mul(y(x), r)), tf.sum(tf.mul(x, g)), g);
        }
        return res;
      });
      for (const k of [0, 3]) {
        assertRel(out[k + 1]![0]!, out[k]![0]!, 1e-4, `${b} case ${i} ${k ? 'bilinear' : 'nearest'} adjoint`);
      }
      per.push([out[2]!, out[5]!]);
    }
    assertClose(per[1]!, per[0]!, 1e-4, `case ${i} wasm vs cpu`);
  }
  for (const b of BACKENDS) {
    const [l1, r1, l2, r2, l3, r3] = await runOn(b, () => {
      const x = t4([1, 4, 5, 2], 4);
      const u = t4([1, 8, 10, 2], 5);
      const g = t4([1, 4, 5, 2], 6);
      // back(d) = ∂/∂x <resize(x), d>; its own gradient must be the adjoint: <back(u), g> = <u, ∂/∂d <back(d), g>>
      const adj = (f: (a: tf.Tensor4D) => tf.Tensor) => {
        const back = (d: tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D), d)))(x);
        const gg = tf.grad((d: tf.Tensor) => tf.sum(tf.mul(back(d), g)))(u);
        return [tf.sum(tf.mul(back(u), g)), tf.sum(tf.mul(u, gg))];
      };
      return [
        ...adj((a) => tf.image.resizeNearestNeighbor(a, [8, 10])),
        ...adj((a) => tf.image.resizeBilinear(a, [8, 10], false, true)),
        ...adj((a) => tf.image.resizeBilinear(tf.avgPool(a, 2, 2, 'same'), [8, 10])),
      ];
    });
    assertRel(r1![0]!, l1![0]!, 1e-4, `${b} nearest-upsample 2nd order`);
    assertRel(r2![0]!, l2![0]!, 1e-4, `${b} bilinear-upsample 2nd order`);
    assertRel(r3![0]!, l3![0]!, 1e-4, `${b} avgPool 2nd order`);
  }
});

test('instance norm (moments over H,W) with affine params: wasm gradients match cpu', async () => {
  const f = () => {
    const x = t4([2, 6, 5, 3], 1);
    const gamma = tf.tensor1d(randn(3, 2)), beta = tf.tensor1d(randn(3, 3));
    const r = t4([2, 6, 5, 3], 4);
    const norm = (a: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => {
      const m = tf.moments(a, [1, 2], true);
      return tf.add(tf.mul(tf.div(tf.sub(a, m.mean), tf.sqrt(tf.add(m.variance, 1e-5))), g), bt);
    };
    return tf.grads((a: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(tf.relu(norm(a, g, bt)), r)))([x, gamma, beta]);
  };
  assertClose(await runOn('wasm', f), await runOn('cpu', f), 1e-4, 'instance norm grads');
});

test('second derivatives of sigmoid, tanh, exp, elu are exact (stock tfjs is silently wrong)', async () => {
  const xs = randn(12, 9).map((v) => 2 * v);
  for (const b of BACKENDS) {
    const [s2, t2, e2, el2] = await runOn(b, () => {
      const x = tf.tensor1d(xs);
      const second = (f: (t: tf.Tensor) => tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.grad((z: tf.Tensor) => tf.sum(f(z)))(a)))(x);
      return [second(tf.sigmoid), second(tf.tanh), second(tf.exp), second(tf.elu)];
    });
    xs.forEach((x, i) => {
      const s = 1 / (1 + Math.exp(-x)), t = Math.tanh(x);
      assertRel(s2![i]!, s * (1 - s) * (1 - 2 * s), 1e-4, `${b} sigmoid'' at ${x}`);
      assertRel(t2![i]!, -2 * t * (1 - t * t), 1e-4, `${b} tanh'' at ${x}`);
      assertRel(e2![i]!, Math.exp(x), 1e-4, `${b} exp'' at ${x}`);
      assertRel(el2![i]!, x > 0 ? 0 : Math.exp(x), 1e-4, `${b} elu'' at ${x}`);
    });
  }
});

test('softmax Hessian-vector product matches finite differences of its gradient', async () => {
  for (const b of BACKENDS) {
    const [fd, an] = await runOn(b, () => {
      const x = tf.tensor2d(randn(4 * 5, 1), [4, 5]);
      const r = tf.tensor2d(randn(4 * 5, 2), [4, 5]);
      const v = tf.tensor2d(randn(4 * 5, 3), [4, 5]);
      const u = tf.tensor2d(randn(4 * 5, 4), [4, 5]);
      const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.square(tf.softmax(a)), r)) as tf.Scalar;
      const gv = (a: tf.Tensor) => tf.sum(tf.mul(tf.grad(f)(a), v)) as tf.Scalar; // <∇f, v>
      return directional(gv, x, u, 1e-2);
    });
    assertRel(an![0]!, fd![0]!, 5e-3, `${b} softmax HVP`);
  }
});

test('second-order meta-gradient through conv(stride 2)+maxPool+upsample+conv matches FD; wasm == cpu', async () => {
  // d/dθ L2(θ − β ∇θ L1(θ)) with θ = first conv filter (ELCFS episodic step, docs/algorithms.md; MAML).
  const outs: Float32Array[][] = [];
  for (const b of BACKENDS) {
    const out = await runOn(b, () => {
      const x1 = t4([2, 8, 8, 2], 1), x2 = t4([2, 8, 8, 2], 2);
      const w2 = tf.mul(t4([3, 3, 3, 1], 3), 0.5);
      const w1 = tf.mul(t4([3, 3, 2, 3], 4), 0.5);
      const net = (w: tf.Tensor, x: tf.Tensor) => {
        const h = tf.softplus(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'));
        const p = tf.maxPool(h as tf.Tensor4D, 2, 2, 'same');
        const u = tf.image.resizeNearestNeighbor(p, [4, 4]);
        return tf.sigmoid(tf.conv2d(u, w2 as tf.Tensor4D, 1, 'same'));
      };
      const l1 = (w: tf.Tensor) => tf.mean(tf.square(tf.sub(net(w, x1), 0.3))) as tf.Scalar;
      const meta = (w: tf.Tensor) => {
        const inner = tf.sub(w, tf.mul(tf.grad(l1)(w), 0.5));
        return tf.mean(tf.square(tf.sub(net(inner, x2), 0.7))) as tf.Scalar;
      };
      const [fd, an] = directional(meta, w1, t4([3, 3, 2, 3], 5), 1e-2);
      return [fd, an, tf.grad(meta)(w1)];
    });
    assertRel(out[1]![0]!, out[0]![0]!, 1e-2, `${b} meta-gradient vs FD`);
    outs.push(out);
  }
  assertClose([outs[1]![2]!], [outs[0]![2]!], 1e-4, 'meta-gradient wasm vs cpu');
  await assertNoLeaks(() => runOn('wasm', () => tf.zeros([1])), 'runOn');
});

test('Hessian-vector products of common loss/norm ops match FD of the gradient (logSoftmax via safe-ops)', async () => {
  const fns: Record<string, (x: tf.Tensor) => tf.Tensor> = {
    logSoftmax: (x) => logSoftmax(x, 1),
    softplus: tf.softplus,
    pow3: (x) => tf.pow(x, 3),
    sqrt: (x) => tf.sqrt(tf.add(tf.square(x), 0.5)),
    rsqrt: (x) => tf.rsqrt(tf.add(tf.square(x), 0.5)),
    maxReduce: (x) => tf.square(tf.max(x, 1)),
    clipTimesX: (x) => tf.mul(tf.clipByValue(x, -0.5, 0.5), x),
    leakyReluTimesX: (x) => tf.mul(tf.leakyRelu(x, 0.2), x),
    logSigmoid: tf.logSigmoid,
    moments: (x) => tf.div(tf.sub(x, tf.moments(x, 1, true).mean), tf.sqrt(tf.add(tf.moments(x, 1, true).variance, 1e-3))),
  };
  for (const b of BACKENDS) {
    await runOn(b, () => tf.zeros([1]));
    for (const [name, fn] of Object.entries(fns)) {
      const [fd, an, same] = (await runOn(b, () => {
        // a shuffled grid with spacing 4/15, so no max/clip/relu kink lies within h of any entry
        const x = tf.tensor2d(Array.from({ length: 15 }, (_, i) => -2 + ((i * 7) % 15) * (4 / 15)), [3, 5]);
        const r = tf.tensor(randn(fn(x).size, 2), fn(x).shape);
        const v = tf.tensor2d(randn(15, 3), [3, 5]);
        const u = tf.tensor2d(randn(15, 4), [3, 5]);
        const f = (a: tf.Tensor) => tf.sum(tf.mul(fn(a), r)) as tf.Scalar;
        const gv = (a: tf.Tensor) => tf.sum(tf.mul(tf.grad(f)(a), v)) as tf.Scalar;
        const [fdv, anv] = directional(gv, x, u, 1e-3); // h small: piecewise ops have kinks
        const ref = name === 'logSoftmax' ? tf.max(tf.abs(tf.sub(logSoftmax(x, 1), tf.logSoftmax(x, 1)))) : tf.scalar(0);
        return [fdv, anv, ref];
      })).map((a) => a[0]!);
      assertRel(an!, fd!, 1e-2, `${b} ${name} HVP`);
      assert.ok(same! < 1e-5, `${b} logSoftmax values equal tf.logSoftmax`);
    }
  }
});
