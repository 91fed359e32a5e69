import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alphaForHalfWidth,
  CFSI_PRESETS,
  extractAmplitudeWindow,
  interpolateAmplitude,
  interpolateAmplitudeFull,
  presetAlpha,
  sampleLambda,
  windowHalfWidth,
  type AmplitudeWindow,
} from './amplitude-interpolation.js';
import { fft2 } from './fft2d.js';
import { createRng, type Rng } from '../rng.js';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';

const img = (rng: Rng, h: number, w: number, c: number, scale = 255): ImageF32 => ({
  width: w,
  height: h,
  channels: c,
  data: Float32Array.from({ length: h * w * c }, () => rng.next() * scale),
});
const maxRel = (a: Float32Array, b: Float32Array): number => {
  let e = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return e / m;
};

test('windowHalfWidth: floor(min(H,W) * alpha); presets', () => {
  assert.equal(windowHalfWidth(384, 384, 0.003), 1);
  assert.equal(windowHalfWidth(384, 512, 0.01), 3);
  assert.equal(windowHalfWidth(64, 64, 0), 0);
  assert.equal(windowHalfWidth(64, 64, 0.003), 0);
  assert.equal(windowHalfWidth(64, 48, presetAlpha(64, 48, 'default')), 1);
  assert.equal(presetAlpha(384, 384), CFSI_PRESETS.default.alpha);
  assert.equal(presetAlpha(384, 384, 'reference'), 0);
  for (const n of [7, 48, 49, 97, 384]) for (const b of [0, 1, 2]) assert.equal(windowHalfWidth(n, n, alphaForHalfWidth(n, n, b)), b);
});

test('extractAmplitudeWindow equals |fftshift(fft2)| over the centred window', () => {
  const rng = createRng(11);
  for (const [h, w] of [[9, 8], [8, 9], [12, 12]] as const) {
    const im = img(rng, h, w, 2);
    const win = extractAmplitudeWindow(im, 0.25);
    const b = win.halfWidth;
    const s = 2 * b + 1;
    assert.equal(win.data.length, 2 * s * s);
    for (let c = 0; c < 2; c++) {
      const plane = Float64Array.from({ length: h * w }, (_, i) => im.data[i * 2 + c]!);
      const F = fft2(plane, null, h, w);
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          const u = (i - b + h) % h;
          const v = (j - b + w) % w;
          const want = Math.hypot(F.re[u * w + v]!, F.im[u * w + v]!);
          assert.ok(Math.abs(win.data[c * s * s + i * s + j]! - want) <= 1e-6 * want + 1e-3, `${h}x${w} c${c} (${i},${j})`);
        }
      }
    }
  }
});

test('window-only CFSI equals the full-FFT oracle to 1e-6 relative (odd/even sizes, clip, lambda)', () => {
  const rng = createRng(5);
  for (const [h, w, c, alpha] of [[16, 16, 3, 0.1], [15, 17, 1, 0.2], [12, 20, 3, 0], [32, 24, 2, 0.07], [11, 13, 3, 0.45]] as const) {
    const a = img(rng, h, w, c);
    const t = extractAmplitudeWindow(img(rng, h, w, c), alpha);
    for (const lambda of [0, 0.37, 1]) {
      for (const clip of [null, [0, 255]] as const) {
        const opts = { clip: clip ? ([clip[0], clip[1]] as [number, number]) : null };
        const fast = interpolateAmplitude(a, t, lambda, opts);
        const full = interpolateAmplitudeFull(a, t, lambda, opts);
        assert.ok(maxRel(fast.data, full.data) < 1e-6, `${h}x${w}x${c} a=${alpha} l=${lambda}`);
      }
    }
  }
});

test('an asymmetric (not real-image) target still matches real(ifft2) of the oracle', () => {
  const rng = createRng(9);
  const a = img(rng, 10, 12, 1);
  const t: AmplitudeWindow = { channels: 1, halfWidth: 2, data: Float32Array.from({ length: 25 }, () => rng.next() * 500) };
  assert.ok(maxRel(interpolateAmplitude(a, t, 0.8).data, interpolateAmplitudeFull(a, t, 0.8).data) < 1e-6);
});

test('lambda = 1 with alpha = 0 (reference preset) swaps the per-channel mean', () => {
  const rng = createRng(2);
  const a = img(rng, 8, 8, 3);
  const b = img(rng, 8, 8, 3);
  const out = interpolateAmplitude(a, extractAmplitudeWindow(b, 0), 1);
  for (let c = 0; c < 3; c++) {
    let ma = 0;
    let mb = 0;
    let mo = 0;
    for (let i = 0; i < 64; i++) {
      ma += a.data[i * 3 + c]!;
      mb += b.data[i * 3 + c]!;
      mo += out.data[i * 3 + c]!;
    }
    assert.ok(Math.abs(mo - mb) < 1e-3, `mean of channel ${c} becomes the target's`);
    // Only the DC moved: every pixel shifts by the same amount.
    const shift = (mb - ma) / 64;
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(out.data[i * 3 + c]! - a.data[i * 3 + c]! - shift) < 1e-3);
  }
});

test('sampleLambda: U(0,1) by default, fixed value otherwise', () => {
  const rng = createRng(1);
  const xs = Array.from({ length: 200 }, () => sampleLambda(rng));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(Math.min(...xs) < 0.05 && Math.max(...xs) > 0.95);
  assert.equal(sampleLambda(rng, 1), 1);
  assert.throws(() => sampleLambda(rng, 1.5), FedSegError);
});

test('bad input: alpha out of range, NaN pixel, mismatched channels/sizes, bad lambda/clip, negative amplitude', () => {
  const rng = createRng(4);
  const a = img(rng, 8, 8, 3);
  const t = extractAmplitudeWindow(img(rng, 8, 8, 3), 0.2);
  const code = (c: string, re: RegExp) => (e: unknown) => e instanceof FedSegError && e.code === c && re.test(e.message);
  assert.throws(() => extractAmplitudeWindow(a, -0.1), code('INVALID_ARGUMENT', /alpha/));
  assert.throws(() => extractAmplitudeWindow(a, 0.6), code('INVALID_ARGUMENT', /alpha/));
  assert.throws(() => extractAmplitudeWindow(a, Number.NaN), code('INVALID_ARGUMENT', /alpha/));
  assert.throws(() => extractAmplitudeWindow(a, 0.5), code('INVALID_ARGUMENT', /larger than/));
  const nan = { ...a, data: a.data.slice() };
  nan.data[77] = Number.NaN;
  assert.throws(() => extractAmplitudeWindow(nan, 0.1), code('INVALID_INPUT', /index 77/));
  assert.throws(() => interpolateAmplitude(nan, t, 0.5), code('INVALID_INPUT', /NaN/));
  assert.throws(() => interpolateAmplitudeFull(nan, t, 0.5), code('INVALID_INPUT', /NaN/));
  assert.throws(() => interpolateAmplitude(img(rng, 8, 8, 1), t, 0.5), code('SHAPE_MISMATCH', /channels/));
  assert.throws(() => interpolateAmplitude(img(rng, 2, 8, 3), t, 0.5), code('SHAPE_MISMATCH', /half-width/));
  assert.throws(() => interpolateAmplitude({ ...a, data: new Float32Array(5) }, t, 0.5), code('SHAPE_MISMATCH', /values/));
  assert.throws(() => interpolateAmplitude(a, t, 1.2), code('INVALID_ARGUMENT', /lambda/));
  assert.throws(() => interpolateAmplitude(a, t, 0.5, { clip: [255, 0] }), code('INVALID_ARGUMENT', /clip/));
  const neg = { ...t, data: t.data.slice() };
  neg.data[0] = -1;
  assert.throws(() => interpolateAmplitude(a, neg, 0.5), code('INVALID_INPUT', /amplitude/));
});

test('opts.out reuses a buffer with an identical result; a wrong buffer is rejected', () => {
  const rng = createRng(8);
  const a = img(rng, 9, 10, 3);
  const t = extractAmplitudeWindow(img(rng, 9, 10, 3), 0.2);
  const fresh = interpolateAmplitude(a, t, 0.6, { clip: [0, 255] });
  const buf = new Float32Array(a.data.length);
  const reused = interpolateAmplitude(a, t, 0.6, { clip: [0, 255], out: buf });
  assert.equal(reused.data, buf);
  assert.deepEqual(Array.from(buf), Array.from(fresh.data));
  assert.throws(() => interpolateAmplitude(a, t, 0.6, { out: new Float32Array(3) }), (e: unknown) => e instanceof FedSegError && e.code === 'SHAPE_MISMATCH');
  assert.throws(() => interpolateAmplitude(a, t, 0.6, { out: a.data }), /must not share/);
});

test('SIMD row kernels (default) and the plain f64 loops both match the oracle; f32 overflow falls back', async () => {
  const { simdAvailable, simdEligible } = await import('./simd-kernels.js');
  assert.ok(simdAvailable(), 'WebAssembly SIMD is expected on Node 20');
  const rng = createRng(21);
  for (const [h, w, c, alpha] of [[24, 36, 3, 0.05], [20, 24, 1, 0.05], [18, 12, 2, 0], [16, 12, 4, 0.07]] as const) {
    assert.ok(simdEligible(w, c), `${w}x${c} eligible`);
    const a = img(rng, h, w, c);
    const src = img(rng, h, w, c);
    const tSimd = extractAmplitudeWindow(src, alpha);
    const tJs = extractAmplitudeWindow(src, alpha, { simd: false });
    assert.ok(maxRel(tSimd.data, tJs.data) < 1e-6, 'windows agree');
    const full = interpolateAmplitudeFull(a, tJs, 0.7, { clip: [0, 255] });
    for (const simd of [true, false]) {
      assert.ok(maxRel(interpolateAmplitude(a, tJs, 0.7, { clip: [0, 255], simd }).data, full.data) < 1e-6, `${h}x${w}x${c} simd=${simd}`);
    }
  }
  // Pixels near the float32 maximum overflow f32 row sums: the f64 path takes over, no false NaN error.
  const big: ImageF32 = { width: 48, height: 6, channels: 1, data: new Float32Array(288).fill(3e38) };
  const win = extractAmplitudeWindow(big, 0.2);
  // The DC amplitude 288 * 3e38 exceeds the float32 range of the shared window: Infinity, not NaN/throw.
  assert.equal(win.data[4], Infinity);
  // lambda = 0 must still be the identity (f64 sums are finite; f32 ones would give NaN).
  const t1: AmplitudeWindow = { channels: 1, halfWidth: 1, data: new Float32Array(9).fill(1) };
  assert.deepEqual(Array.from(interpolateAmplitude(big, t1, 0).data), Array.from(big.data));
  assert.equal(simdEligible(16, 4), false); // 64 floats per row: not a multiple of 12 -> f64 loops
});

test('randomInterpolation: seeded target choice and lambda, equal to the explicit call', async () => {
  const { randomInterpolation } = await import('./amplitude-interpolation.js');
  const rng = createRng(30);
  const a = img(rng, 12, 12, 3);
  const targets = [0, 1, 2].map(() => extractAmplitudeWindow(img(rng, 12, 12, 3), 0.1));
  const r1 = randomInterpolation(a, targets, createRng(99), { clip: [0, 255] });
  const r2 = randomInterpolation(a, targets, createRng(99), { clip: [0, 255] });
  assert.equal(r1.targetIndex, r2.targetIndex);
  assert.equal(r1.lambda, r2.lambda);
  assert.deepEqual(Array.from(r1.image.data), Array.from(interpolateAmplitude(a, targets[r1.targetIndex]!, r1.lambda, { clip: [0, 255] }).data));
  assert.equal(randomInterpolation(a, targets, createRng(1), { lambda: 1 }).lambda, 1);
  assert.throws(() => randomInterpolation(a, [], createRng(1)), /no target/);
});
