// ASC conv (docs/algorithms.md §7): equals a dilated conv for constant integer rates, gradients wrt x, W, b
// and r match central finite differences of an independent float64 reference, no leaks, trains on wasm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { assertNoLeaks, relError, useBackend } from '../../test/helpers/leaks.js';
import { createRng, type Rng } from '../rng.js';
import { ascConv2d, dilatedConv2d, setAscCornerCacheLimit, type AscImpl } from './asc-conv.js';

/** Plain float64 reference of Eq. 3-5 with zero padding (independent of both implementations). */
function refAsc(x: Float64Array, r: Float64Array, w: Float64Array, b: Float64Array, B: number, H: number, W: number, C: number, Co: number): Float64Array {
  const y = new Float64Array(B * H * W * Co);
  const at = (bb: number, yy: number, xx: number, c: number) => (yy < 0 || yy >= H || xx < 0 || xx >= W ? 0 : x[((bb * H + yy) * W + xx) * C + c]!);
  for (let bb = 0; bb < B; bb++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        const p = (bb * H + i) * W + j;
        for (let o = 0; o < Co; o++) {
          let acc = b[o]!;
          for (let ky = -1; ky <= 1; ky++)
            for (let kx = -1; kx <= 1; kx++) {
              const py = i + ky * r[p]!;
              const px = j + kx * r[p]!;
              const y0 = Math.floor(py);
              const x0 = Math.floor(px);
              const fy = py - y0;
              const fx = px - x0;
              for (let c = 0; c < C; c++) {
                const v = (1 - fy) * ((1 - fx) * at(bb, y0, x0, c) + fx * at(bb, y0, x0 + 1, c)) + fy * ((1 - fx) * at(bb, y0 + 1, x0, c) + fx * at(bb, y0 + 1, x0 + 1, c));
                acc += w[(((ky + 1) * 3 + (kx + 1)) * C + c) * Co + o]! * v;
              }
            }
          y[p * Co + o] = acc;
        }
      }
  return y;
}

function randArr(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

/** Rates in [0.15, 2.6] whose fractional part stays away from 0 (floor is not differentiable there). */
function randRates(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = rng.int(3);
    a[i] = k + rng.uniform(0.15, 0.85);
  }
  return a;
}

const IMPLS: AscImpl[] = ['fused', 'ops'];

test('ASC conv with constant integer rate equals tf.conv2d with that dilation (cpu, forward)', async () => {
  await useBackend('cpu');
  const rng = createRng(1);
  const [B, H, W, C, Co] = [2, 9, 11, 3, 4];
  const x = tf.tensor4d(Float32Array.from(randArr(rng, B * H * W * C)), [B, H, W, C]);
  const f = tf.tensor4d(Float32Array.from(randArr(rng, 9 * C * Co)), [3, 3, C, Co]);
  const bias = tf.tensor1d(Float32Array.from(randArr(rng, Co)));
  for (const impl of IMPLS) {
    for (const d of [1, 2, 3]) {
      await assertNoLeaks(() => {
        const r = tf.fill([B, H, W, 1], d) as tf.Tensor4D;
        const got = ascConv2d(x, r, f, bias, { impl });
        const dil = dilatedConv2d(x, f, bias, d, { impl });
        const want = tf.tidy(() => tf.add(tf.conv2d(x, f, 1, 'same', 'NHWC', d), bias));
        const e1 = relError(got.dataSync(), want.dataSync());
        const e2 = relError(dil.dataSync(), want.dataSync());
        tf.dispose([r, got, dil, want]);
        assert.ok(e1 < 1e-5, `${impl} rate ${d}: rel error ${e1}`);
        assert.ok(e2 < 1e-5, `${impl} dilatedConv2d ${d}: rel error ${e2}`);
      }, `${impl} d=${d}`);
    }
  }
  // r = 0 collapses every tap onto the centre pixel: a 1x1 conv with the summed filter.
  const r0 = tf.zeros([B, H, W, 1]) as tf.Tensor4D;
  const want0 = tf.tidy(() => tf.add(tf.conv2d(x, tf.reshape(tf.sum(f, [0, 1]), [1, 1, C, Co]) as tf.Tensor4D, 1, 'same'), bias));
  for (const impl of IMPLS) {
    const got = ascConv2d(x, r0, f, bias, { impl });
    assert.ok(relError(got.dataSync(), want0.dataSync()) < 1e-5, `${impl} r=0`);
    got.dispose();
  }
  tf.dispose([x, f, bias, r0, want0]);
});

test('ASC conv forward matches the float64 reference for fractional rates (both impls)', async () => {
  await useBackend('cpu');
  const rng = createRng(2);
  const [B, H, W, C, Co] = [2, 6, 7, 2, 3];
  const xa = randArr(rng, B * H * W * C);
  const ra = randRates(rng, B * H * W);
  const wa = randArr(rng, 9 * C * Co);
  const ba = randArr(rng, Co);
  const want = refAsc(xa, ra, wa, ba, B, H, W, C, Co);
  for (const impl of IMPLS) {
    await assertNoLeaks(() => {
      const y = tf.tidy(() =>
        ascConv2d(tf.tensor4d(Float32Array.from(xa), [B, H, W, C]), tf.tensor4d(Float32Array.from(ra), [B, H, W, 1]),
          tf.tensor4d(Float32Array.from(wa), [3, 3, C, Co]), tf.tensor1d(Float32Array.from(ba)), { impl }));
      const e = relError(y.dataSync(), want);
      y.dispose();
      assert.ok(e < 1e-5, `${impl}: rel error ${e}`);
    }, impl);
  }
});

for (const impl of IMPLS) {
  test(`ASC conv gradients wrt x, W, b and r match finite differences (${impl}, cpu)`, async () => {
    await useBackend('cpu');
    const rng = createRng(3);
    const [B, H, W, C, Co] = [1, 5, 6, 2, 2];
    const xa = randArr(rng, B * H * W * C);
    const ra = randRates(rng, B * H * W);
    const wa = randArr(rng, 9 * C * Co);
    const ba = randArr(rng, Co);
    const ga = randArr(rng, B * H * W * Co); // L = sum(y * G)
    const loss = (xx: Float64Array, rr: Float64Array, ww: Float64Array, bb: Float64Array) => {
      const y = refAsc(xx, rr, ww, bb, B, H, W, C, Co);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * ga[i]!;
      return s;
    };
    const fd = (which: 0 | 1 | 2 | 3): Float64Array => {
      const args = [xa, ra, wa, ba].map((a) => Float64Array.from(a));
      const v = args[which]!;
      const out = new Float64Array(v.length);
      const h = 1e-6;
      for (let i = 0; i < v.length; i++) {
        const o = v[i]!;
        v[i] = o + h;
        const lp = loss(args[0]!, args[1]!, args[2]!, args[3]!);
        v[i] = o - h;
        const lm = loss(args[0]!, args[1]!, args[2]!, args[3]!);
        v[i] = o;
        out[i] = (lp - lm) / (2 * h);
      }
      return out;
    };
    const grads = await assertNoLeaks(() => {
      const x = tf.tensor4d(Float32Array.from(xa), [B, H, W, C]);
      const r = tf.tensor4d(Float32Array.from(ra), [B, H, W, 1]);
      const w = tf.tensor4d(Float32Array.from(wa), [3, 3, C, Co]);
      const b = tf.tensor1d(Float32Array.from(ba));
      const g = tf.tensor4d(Float32Array.from(ga), [B, H, W, Co]);
      const gs = tf.grads((a: tf.Tensor, rr: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(ascConv2d(a as tf.Tensor4D, rr as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, { impl }), g)))([x, r, w, b]);
      const out = gs.map((t) => Array.from(t.dataSync()));
      tf.dispose([x, r, w, b, g, ...gs]);
      return out;
    }, `${impl} grads`);
    const names = ['x', 'r', 'W', 'b'];
    for (let k = 0; k < 4; k++) {
      const want = fd(k as 0 | 1 | 2 | 3);
      const got = grads[k]!;
      const e = relError(got, want);
      assert.ok(e < 1e-4, `${impl} d/d${names[k]}: rel error ${e}`);
      if (k < 2) assert.ok(got.filter((v) => v !== 0).length >= got.length * 0.9, `${impl} d/d${names[k]} should be dense`);
    }
  });
}

test('fused and ops implementations give the same gradients on wasm, and an ASC layer trains on wasm', async () => {
  await useBackend('wasm');
  const rng = createRng(4);
  const [B, H, W, C, Co] = [2, 8, 8, 3, 2];
  const x = tf.tensor4d(Float32Array.from(randArr(rng, B * H * W * C)), [B, H, W, C]);
  const r = tf.tensor4d(Float32Array.from(randRates(rng, B * H * W)), [B, H, W, 1]);
  const w0 = Float32Array.from(randArr(rng, 9 * C * Co, -0.3, 0.3));
  const gOf = (impl: AscImpl) => tf.tidy(() => {
    const w = tf.tensor4d(w0, [3, 3, C, Co]);
    const gs = tf.grads((a: tf.Tensor, rr: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.square(ascConv2d(a as tf.Tensor4D, rr as tf.Tensor4D, ww as tf.Tensor4D, undefined, { impl }))))([x, r, w]);
    return gs.map((t) => Array.from(t.dataSync()));
  });
  const gf = await assertNoLeaks(() => gOf('fused'), 'fused grads');
  const go = await assertNoLeaks(() => gOf('ops'), 'ops grads');
  for (let k = 0; k < 3; k++) assert.ok(relError(gf[k]!, go[k]!) < 1e-4, `grad ${k}: fused vs ops ${relError(gf[k]!, go[k]!)}`);

  // Train W and the rate (through a softplus) to fit a target made with a dilation-2 conv.
  const target = tf.tidy(() => dilatedConv2d(x, tf.tensor4d(Float32Array.from(randArr(rng, 9 * C * Co)), [3, 3, C, Co]), undefined, 2));
  const w = tf.variable(tf.tensor4d(w0, [3, 3, C, Co]));
  const rawRate = tf.variable(tf.zeros([B, H, W, 1]));
  const opt = tf.train.adam(0.05, 0.9, 0.9);
  const lossFn = () => tf.mean(tf.square(tf.sub(ascConv2d(x, tf.softplus(rawRate) as tf.Tensor4D, w as unknown as tf.Tensor4D), target))) as tf.Scalar;
  const first = tf.tidy(() => lossFn().dataSync()[0]!);
  tf.tidy(() => { opt.minimize(lossFn); }); // creates Adam's moment slots (owned by the optimizer)
  await assertNoLeaks(() => {
    for (let i = 0; i < 60; i++) tf.tidy(() => { opt.minimize(lossFn); });
  }, 'training');
  const last = tf.tidy(() => lossFn().dataSync()[0]!);
  assert.ok(last < first * 0.3, `loss should drop: ${first} -> ${last}`);
  opt.dispose();
  tf.dispose([x, r, target, w, rawRate]);
});

test('bad shapes raise FedSegError', async () => {
  await useBackend('cpu');
  const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
  const r = tf.zeros([1, 4, 5, 1]) as tf.Tensor4D;
  const f = tf.zeros([3, 3, 2, 2]) as tf.Tensor4D;
  assert.throws(() => ascConv2d(x, r, f), /rate must be \[1,4,4,1\]/);
  assert.throws(() => ascConv2d(x, tf.zeros([1, 4, 4, 1]) as tf.Tensor4D, tf.zeros([3, 3, 3, 2]) as tf.Tensor4D), /filter must be \[3,3,2,Cout\]/);
  assert.throws(() => dilatedConv2d(x, f, undefined, -1), /dilation must be/);
  tf.disposeVariables();
  tf.dispose([x, r, f]);
});

test('fused op: the uncached (large-map) path gives the same values and gradients as the cached one', async () => {
  await useBackend('cpu');
  const rng = createRng(6);
  const [B, H, W, C, Co] = [2, 7, 6, 3, 2];
  const x = tf.tensor4d(Float32Array.from(randArr(rng, B * H * W * C)), [B, H, W, C]);
  const r = tf.tensor4d(Float32Array.from(randRates(rng, B * H * W)), [B, H, W, 1]);
  const w = tf.tensor4d(Float32Array.from(randArr(rng, 9 * C * Co)), [3, 3, C, Co]);
  const run = () => tf.tidy(() => {
    const rr = tf.add(r, 0); // a fresh buffer, so no corners cached from an earlier call
    const y = ascConv2d(x, rr as tf.Tensor4D, w, undefined, { impl: 'fused' });
    const gs = tf.grads((a: tf.Tensor, q: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(ascConv2d(a as tf.Tensor4D, q as tf.Tensor4D, b as tf.Tensor4D, undefined, { impl: 'fused' }))))([x, rr, w]);
    return [y, ...gs].map((t) => Array.from(t.dataSync()));
  });
  const cached = run();
  const prev = setAscCornerCacheLimit(0);
  try {
    const uncached = await assertNoLeaks(run, 'uncached');
    for (let k = 0; k < 4; k++) assert.deepEqual(uncached[k], cached[k], `output ${k}`);
  } finally {
    setAscCornerCacheLimit(prev);
  }
  tf.dispose([x, r, w]);
});

test('higher-order gradients through the ops impl match finite differences of first-order (fused) gradients', async () => {
  await useBackend('cpu');
  const rng = createRng(8);
  const [B, H, W, C] = [1, 5, 5, 2];
  const x = tf.tensor4d(Float32Array.from(randArr(rng, B * H * W * C)), [B, H, W, C]);
  const r = tf.tensor4d(Float32Array.from(randRates(rng, B * H * W)), [B, H, W, 1]);
  const w = tf.tensor4d(Float32Array.from(randArr(rng, 9 * C * C)), [3, 3, C, C]);
  // d/dW of || dL/dx ||^2 with L = sum(y^2): needs the gradient of the gradient.
  const second = (impl: AscImpl) => tf.tidy(() => tf.grad((ww: tf.Tensor) => {
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(ascConv2d(xx as tf.Tensor4D, r, ww as tf.Tensor4D, undefined, { impl }))))(x);
    return tf.sum(tf.square(gx));
  })(w).dataSync());
  const g = second('ops');
  assert.ok(g.some((v) => v !== 0) && g.every(Number.isFinite));
  // Cross-check one direction against central differences of the first-order gradient norm.
  const dir = tf.tensor4d(Float32Array.from(randArr(rng, 9 * C * C)), [3, 3, C, C]);
  const f = (ww: tf.Tensor) => tf.tidy(() => {
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(ascConv2d(xx as tf.Tensor4D, r, ww as tf.Tensor4D, undefined, { impl: 'fused' }))))(x);
    return tf.sum(tf.square(gx)).dataSync()[0]!;
  });
  const h = 1e-2; // the objective is quartic in W: central differences are exact up to O(h^2) terms
  const fd = tf.tidy(() => (f(tf.add(w, tf.mul(dir, h))) - f(tf.sub(w, tf.mul(dir, h)))) / (2 * h));
  const an = Array.from(g).reduce((a, v, i) => a + v * dir.dataSync()[i]!, 0);
  assert.ok(Math.abs(fd - an) < 1e-3 * Math.abs(an) + 1e-3, `second-order directional derivative ${an} vs FD ${fd}`);
  tf.dispose([x, r, w, dir]);
});
