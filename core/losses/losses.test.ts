import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { diceLoss } from './dice-loss.js';
import { ntXentLoss, boundaryRegions, boundaryLoss, maskedAveragePool } from './boundary-loss.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { createRng } from '../rng.js';
import type { MaskU8 } from '../contract/image.js';

before(async () => {
  await useBackend();
});

/** Plain double-precision NT-Xent straight from the pytorch-metric-learning formula. */
function ntXentRef(emb: number[][], labels: number[], tau: number): number {
  const nrm = emb.map((v) => {
    const n = Math.max(Math.hypot(...v), 1e-12);
    return v.map((x) => x / n);
  });
  const s = (a: number, b: number) => nrm[a]!.reduce((acc, x, i) => acc + x * nrm[b]![i]!, 0) / tau;
  let sum = 0;
  let count = 0;
  let anyNeg = false;
  for (let a = 0; a < emb.length; a++) for (let b = 0; b < emb.length; b++) if (labels[a] !== labels[b]) anyNeg = true;
  for (let a = 0; a < emb.length; a++)
    for (let p = 0; p < emb.length; p++) {
      if (a === p || labels[a] !== labels[p]) continue;
      let den = Math.exp(s(a, p));
      for (let n = 0; n < emb.length; n++) if (labels[n] !== labels[a]) den += Math.exp(s(a, n));
      sum += -Math.log(Math.exp(s(a, p)) / den);
      count++;
    }
  return count === 0 || !anyNeg ? 0 : sum / count;
}

const scalar = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

test('dice loss matches the hand-computed batch formula', async () => {
  // B=2, 1x2 pixels, 2 channels.
  const p = [0.9, 0.1, 0.2, 0.8, 0.5, 0.5, 0.0, 1.0];
  const y = [1, 0, 0, 1, 1, 1, 0, 0];
  let d = 0;
  for (let c = 0; c < 2; c++) {
    let inter = 0;
    let sp = 0;
    let sy = 0;
    for (let i = c; i < 8; i += 2) {
      inter += p[i]! * y[i]!;
      sp += p[i]!;
      sy += y[i]!;
    }
    d += (2 * inter + 1e-5) / (sp + sy + 1e-5);
  }
  const want = 1 - d / 2;
  const pt = tf.tensor4d(p, [2, 1, 2, 2]);
  const yt = tf.tensor4d(y, [2, 1, 2, 2]);
  const z = tf.zeros([1, 2, 2, 1]);
  await assertNoLeaks(() => {
    const got = scalar(diceLoss(pt, yt));
    assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
    // Both empty -> dice 1 -> loss 0 (the smoothing term).
    assert.ok(Math.abs(scalar(diceLoss(z, z))) < 1e-6);
  });
  tf.dispose([pt, yt, z]);
  assert.throws(() => tf.tidy(() => diceLoss(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 2, 2, 2]))), /must be equal/);
});

test('NT-Xent: hand-computed cases', async () => {
  const t = (v: number[][]) => tf.tensor2d(v);
  // a, b positives (cos 1), c negative to both (cos 0); tau = 1: l_ab = l_ba = log(1 + e^-1).
  assert.ok(Math.abs(scalar(ntXentLoss(t([[1, 0], [2, 0], [0, 3]]), [1, 1, 0], 1)) - Math.log(1 + Math.exp(-1))) < 1e-6);
  // 60 degrees between positives, 90 to the negative, tau = 0.5: l = log(1 + e^{(0 - 0.5)/0.5}).
  const c60 = [Math.cos(Math.PI / 3), Math.sin(Math.PI / 3), 0];
  assert.ok(Math.abs(scalar(ntXentLoss(t([[1, 0, 0], c60, [0, 0, 1]]), [1, 1, 0], 0.5)) - Math.log(1 + Math.exp(-1))) < 1e-6);
  // No negatives, or no positives -> 0.
  assert.equal(scalar(ntXentLoss(t([[1, 0], [0, 1]]), [1, 1])), 0);
  assert.equal(scalar(ntXentLoss(t([[1, 0], [0, 1]]), [1, 0])), 0);
  // Random case vs the double-precision reference, tau 0.05 (large logits: needs the max-shift).
  const rng = createRng(4);
  const emb = Array.from({ length: 8 }, () => Array.from({ length: 5 }, () => rng.normal()));
  const labels = [1, 1, 1, 0, 0, 0, 0, 1];
  await assertNoLeaks(() => {
    const x = tf.tensor2d(emb);
    const got = scalar(ntXentLoss(x, labels, 0.05));
    x.dispose();
    const want = ntXentRef(emb, labels, 0.05);
    assert.ok(Math.abs(got - want) < 1e-4 * Math.max(1, want), `${got} vs ${want}`);
  });
  assert.throws(() => ntXentLoss(t([[1, 0]]), [1, 0]), /2 labels for 1/);
});

test('NT-Xent gradient matches central finite differences (double-precision reference)', () => {
  const rng = createRng(9);
  const emb = Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => rng.normal()));
  const labels = [1, 0, 1, 0, 1, 0];
  const tau = 0.5;
  const g = tf.tidy(() => tf.grad((e: tf.Tensor) => ntXentLoss(e as tf.Tensor2D, labels, tau))(tf.tensor2d(emb)).arraySync() as number[][]);
  const h = 1e-5;
  for (let i = 0; i < 6; i++)
    for (let j = 0; j < 4; j++) {
      const p = emb.map((r) => [...r]);
      const m = emb.map((r) => [...r]);
      p[i]![j]! += h;
      m[i]![j]! -= h;
      const fd = (ntXentRef(p, labels, tau) - ntXentRef(m, labels, tau)) / (2 * h);
      assert.ok(Math.abs(g[i]![j]! - fd) < 2e-3 * Math.max(1, Math.abs(fd)), `d/de[${i}][${j}]: ${g[i]![j]} vs ${fd}`);
    }
});

function square(h: number, w: number, y0: number, x0: number, y1: number, x1: number, classes = 1, inner?: [number, number, number, number]): MaskU8 {
  const data = new Uint8Array(h * w * classes);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (y >= y0 && y < y1 && x >= x0 && x < x1) data[(y * w + x) * classes] = 1;
      if (inner && classes > 1 && y >= inner[0] && y < inner[2] && x >= inner[1] && x < inner[3]) data[(y * w + x) * classes + 1] = 1;
    }
  return { width: w, height: h, classes, data };
}

test('region masks: boundary = M - erode(M), background = dilate^5(M) - M, empty regions dropped', () => {
  // 4x4 square in a 16x16 image: boundary ring 12 px; background ring: cross-dilation x5 of a 4x4 square.
  const r = boundaryRegions([square(16, 16, 6, 6, 10, 10), square(16, 16, 0, 0, 0, 0)]);
  assert.equal(r.structures, 1);
  assert.deepEqual(r.present, [true, true, false, false]);
  const row = (k: number) => r.weights.subarray(k * 256, (k + 1) * 256);
  const nz = (a: Float32Array) => a.filter((v) => v > 0).length;
  assert.equal(nz(row(0)), 12);
  assert.ok(Math.abs(row(0).reduce((s, v) => s + v, 0) - 1) < 1e-6);
  // Dilating a 4x4 square 5 times with the cross gives an L1-ball "rounded square": 16 + 4*4*5 + 4*(5*4/2) = 136 px.
  assert.equal(nz(row(1)), 136 - 16);
  assert.equal(nz(row(2)) + nz(row(3)), 0);
});

test('boundary loss: masked average pooling and the set, vs a hand-built reference; gradient vs FD', async () => {
  const h = 16;
  const masks = [square(h, h, 4, 4, 12, 12, 2, [6, 6, 10, 10]), square(h, h, 3, 5, 11, 13, 2, [6, 7, 9, 10])];
  const regions = boundaryRegions(masks);
  assert.equal(regions.structures, 2);
  const rng = createRng(2);
  const zx = Array.from({ length: 2 * h * h * 3 }, () => rng.normal());
  const zt = Array.from({ length: 2 * h * h * 3 }, () => rng.normal());
  const tau = 0.5;
  // Reference: pooled vectors by explicit loops, then ntXentRef per structure.
  const pool = (z: number[], b: number, rr: number) => {
    const out = [0, 0, 0];
    for (let i = 0; i < h * h; i++) {
      const wgt = regions.weights[(b * 4 + rr) * h * h + i]!;
      for (let f = 0; f < 3; f++) out[f]! += wgt * z[(b * h * h + i) * 3 + f]!;
    }
    return out;
  };
  const ref = (zxv: number[], ztv: number[]) => {
    let total = 0;
    for (let s = 0; s < 2; s++) {
      const emb: number[][] = [];
      const lab: number[] = [];
      for (const z of [zxv, ztv])
        for (const k of [0, 1])
          for (let b = 0; b < 2; b++) {
            emb.push(pool(z, b, 2 * s + k));
            lab.push(k === 0 ? 1 : 0);
          }
      total += ntXentRef(emb, lab, tau);
    }
    return total;
  };
  await assertNoLeaks(() => {
    const x = tf.tensor4d(zx, [2, h, h, 3]);
    const t = tf.tensor4d(zt, [2, h, h, 3]);
    const got = scalar(boundaryLoss(x, t, regions, tau));
    const pooled = maskedAveragePool(x, regions);
    assert.deepEqual(pooled.shape, [2, 4, 3]);
    pooled.dispose();
    const want = ref(zx, zt);
    assert.ok(Math.abs(got - want) < 1e-4 * Math.max(1, want), `${got} vs ${want}`);
    // Gradient wrt Z_t along a random direction vs FD of the double-precision reference.
    const d = Array.from({ length: zt.length }, () => rng.normal());
    const g = tf.tidy(() => tf.grad((tt: tf.Tensor) => boundaryLoss(x, tt as tf.Tensor4D, regions, tau))(t).dataSync() as Float32Array);
    const analytic = g.reduce((s, v, i) => s + v * d[i]!, 0);
    const e = 1e-4;
    const fd = (ref(zx, zt.map((v, i) => v + e * d[i]!)) - ref(zx, zt.map((v, i) => v - e * d[i]!))) / (2 * e);
    assert.ok(Math.abs(analytic - fd) < 1e-3 * Math.max(1, Math.abs(fd)), `${analytic} vs ${fd}`);
    x.dispose();
    t.dispose();
  });
});
