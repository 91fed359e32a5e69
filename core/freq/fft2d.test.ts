import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fft2, fftshift2, ifft2, ifftshift2 } from './fft2d.js';
import { createRng } from '../rng.js';
import { FedSegError } from '../contract/errors.js';

/** Direct O(N^2) DFT, the definition numpy.fft.fft2 implements. */
function naiveDft2(re: Float64Array, im: Float64Array, h: number, w: number) {
  const R = new Float64Array(h * w);
  const I = new Float64Array(h * w);
  for (let u = 0; u < h; u++) {
    for (let v = 0; v < w; v++) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const a = -2 * Math.PI * (((u * y) % h) / h + ((v * x) % w) / w);
          const c = Math.cos(a);
          const s = Math.sin(a);
          sr += re[y * w + x]! * c - im[y * w + x]! * s;
          si += re[y * w + x]! * s + im[y * w + x]! * c;
        }
      }
      R[u * w + v] = sr;
      I[u * w + v] = si;
    }
  }
  return { re: R, im: I };
}

test('fft2 equals the direct DFT for radix-2/3/4, generic-prime and Bluestein lengths', () => {
  const rng = createRng(3);
  // 17, 19, 23, 34, 37 go through Bluestein; 5, 7, 11, 13 through the generic butterfly.
  for (const [h, w] of [[1, 1], [1, 6], [5, 7], [8, 6], [13, 11], [12, 9], [17, 19], [23, 34], [37, 4], [16, 24]] as const) {
    const re = Float64Array.from({ length: h * w }, () => rng.normal());
    const im = Float64Array.from({ length: h * w }, () => rng.normal());
    const got = fft2(re, im, h, w);
    const want = naiveDft2(re, im, h, w);
    let err = 0;
    let mag = 0;
    for (let i = 0; i < h * w; i++) {
      err = Math.max(err, Math.abs(got.re[i]! - want.re[i]!), Math.abs(got.im[i]! - want.im[i]!));
      mag = Math.max(mag, Math.abs(want.re[i]!), Math.abs(want.im[i]!));
    }
    assert.ok(err / mag < 1e-12, `${h}x${w}: rel err ${err / mag}`);
    const back = ifft2(got.re, got.im, h, w);
    for (let i = 0; i < h * w; i++) {
      assert.ok(Math.abs(back.re[i]! - re[i]!) < 1e-12 && Math.abs(back.im[i]! - im[i]!) < 1e-12, `${h}x${w} round trip`);
    }
  }
});

test('fftshift2 / ifftshift2 follow numpy (odd sizes differ) and invert each other', () => {
  const d = Float64Array.from({ length: 15 }, (_, i) => i); // 3x5
  // numpy.fft.fftshift(np.arange(15).reshape(3, 5))
  assert.deepEqual(Array.from(fftshift2(d, 3, 5)), [13, 14, 10, 11, 12, 3, 4, 0, 1, 2, 8, 9, 5, 6, 7]);
  assert.deepEqual(Array.from(ifftshift2(d, 3, 5)), [7, 8, 9, 5, 6, 12, 13, 14, 10, 11, 2, 3, 4, 0, 1]);
  assert.deepEqual(Array.from(ifftshift2(fftshift2(d, 3, 5), 3, 5)), Array.from(d));
  const e = Float32Array.from({ length: 24 }, (_, i) => i); // 2 planes of 3x4
  const se = fftshift2(e, 3, 4);
  assert.ok(se instanceof Float32Array);
  assert.equal(se[3 * 4 + 1 * 4 + 2], 12); // DC of plane 2 moves to (1, 2)
});

test('bad input: wrong length, NaN, bad sizes', () => {
  assert.throws(() => fft2(new Float64Array(5), null, 2, 3), (e: unknown) => e instanceof FedSegError && e.code === 'SHAPE_MISMATCH');
  assert.throws(() => fft2(Float64Array.from([1, Number.NaN, 0, 0]), null, 2, 2), (e: unknown) => e instanceof FedSegError && /NaN/.test(e.message));
  assert.throws(() => ifft2(new Float64Array(4), new Float64Array(3), 2, 2), FedSegError);
  assert.throws(() => fft2(new Float64Array(0), null, 0, 0), FedSegError);
});
