// Property tests (fast-check) for the FFT and CFSI: round trip, Parseval, lambda = 0 identity,
// window-only = full-FFT path, conjugate symmetry of amplitude windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fft2, ifft2 } from './fft2d.js';
import { extractAmplitudeWindow, interpolateAmplitude, interpolateAmplitudeFull, windowHalfWidth } from './amplitude-interpolation.js';
import type { ImageF32 } from '../contract/image.js';
import { createRng } from '../rng.js';

const RUNS = { numRuns: 40 };
const dims = fc.record({ h: fc.integer({ min: 1, max: 24 }), w: fc.integer({ min: 1, max: 24 }), seed: fc.integer() });
const field = (n: number, seed: number): Float64Array => {
  const r = createRng(seed);
  return Float64Array.from({ length: n }, () => r.normal() * 10);
};
const image = (h: number, w: number, c: number, seed: number): ImageF32 => {
  const r = createRng(seed);
  return { width: w, height: h, channels: c, data: Float32Array.from({ length: h * w * c }, () => Math.round(r.next() * 255)) };
};

test('ifft2(fft2(x)) = x and Parseval (sum |x|^2 = sum |F|^2 / HW) for any size', () => {
  fc.assert(
    fc.property(dims, ({ h, w, seed }) => {
      const re = field(h * w, seed);
      const im = field(h * w, seed + 1);
      const F = fft2(re, im, h, w);
      const back = ifft2(F.re, F.im, h, w);
      let ex = 0;
      let eF = 0;
      for (let i = 0; i < h * w; i++) {
        assert.ok(Math.abs(back.re[i]! - re[i]!) < 1e-9 && Math.abs(back.im[i]! - im[i]!) < 1e-9);
        ex += re[i]! ** 2 + im[i]! ** 2;
        eF += F.re[i]! ** 2 + F.im[i]! ** 2;
      }
      assert.ok(Math.abs(ex - eF / (h * w)) <= 1e-10 * ex + 1e-12, `Parseval ${h}x${w}`);
    }),
    RUNS,
  );
});

const cfsiCase = fc.record({
  h: fc.integer({ min: 3, max: 24 }),
  w: fc.integer({ min: 3, max: 24 }),
  c: fc.integer({ min: 1, max: 3 }),
  alphaFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  lambda: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.integer(),
});
// alpha in [0, largest alpha whose window fits]
const alphaOf = (h: number, w: number, frac: number): number => (frac * Math.floor((Math.min(h, w) - 1) / 2)) / Math.min(h, w);

test('CFSI: lambda = 0 is the identity; window-only equals the full-FFT oracle to 1e-6', () => {
  fc.assert(
    fc.property(cfsiCase, ({ h, w, c, alphaFrac, lambda, seed }) => {
      const alpha = alphaOf(h, w, alphaFrac);
      const x = image(h, w, c, seed);
      const t = extractAmplitudeWindow(image(h, w, c, seed ^ 0x5bd1e995), alpha);
      assert.equal(t.halfWidth, windowHalfWidth(h, w, alpha));
      const id = interpolateAmplitude(x, t, 0);
      for (let i = 0; i < x.data.length; i++) assert.ok(Math.abs(id.data[i]! - x.data[i]!) < 1e-3, 'lambda = 0 identity');
      const fast = interpolateAmplitude(x, t, lambda, { clip: [0, 255] });
      const full = interpolateAmplitudeFull(x, t, lambda, { clip: [0, 255] });
      let e = 0;
      let m = 1e-6;
      for (let i = 0; i < fast.data.length; i++) {
        e = Math.max(e, Math.abs(fast.data[i]! - full.data[i]!));
        m = Math.max(m, Math.abs(full.data[i]!));
      }
      assert.ok(e / m < 1e-6, `window-only vs full: rel ${e / m}`);
    }),
    RUNS,
  );
});

test('amplitude windows of real images are point-symmetric: A(-u, -v) = A(u, v)', () => {
  fc.assert(
    fc.property(cfsiCase, ({ h, w, c, alphaFrac, seed }) => {
      const win = extractAmplitudeWindow(image(h, w, c, seed), alphaOf(h, w, alphaFrac));
      const s = 2 * win.halfWidth + 1;
      for (let ch = 0; ch < c; ch++) {
        for (let i = 0; i < s; i++) {
          for (let j = 0; j < s; j++) {
            const a = win.data[ch * s * s + i * s + j]!;
            const b = win.data[ch * s * s + (s - 1 - i) * s + (s - 1 - j)]!;
            assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, a));
          }
        }
      }
    }),
    RUNS,
  );
});
