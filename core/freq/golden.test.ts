// Golden tests against numpy (fixtures from scripts/golden/make_golden.py; Python is not needed here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fft2, fftshift2, ifft2, ifftshift2 } from './fft2d.js';
import { extractAmplitudeWindow, interpolateAmplitude, interpolateAmplitudeFull } from './amplitude-interpolation.js';

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../test/fixtures/golden/${name}`, import.meta.url), 'utf8')) as T;

interface FftCase {
  h: number; w: number; re: number[]; im: number[] | null;
  fftRe: number[]; fftIm: number[]; ifftRe: number[]; ifftIm: number[]; shifted: number[]; ishifted: number[];
}
interface CfsiCase {
  h: number; w: number; c: number; alpha: number; halfWidth: number; lambda: number; clip: [number, number] | null;
  source: number[]; target: number[]; targetWindow: number[]; output: number[];
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return e;
};
const maxMag = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

test('fft2 / ifft2 / fftshift match numpy on odd, even, prime and 384-wide sizes', () => {
  const { cases } = load<{ cases: FftCase[] }>('fft.json');
  assert.ok(cases.length >= 8);
  for (const k of cases) {
    const re = Float64Array.from(k.re);
    const im = k.im ? Float64Array.from(k.im) : null;
    const F = fft2(re, im, k.h, k.w);
    const scale = maxMag(k.fftRe) + maxMag(k.fftIm);
    assert.ok(maxAbs(F.re, k.fftRe) / scale < 1e-13 && maxAbs(F.im, k.fftIm) / scale < 1e-13, `fft2 ${k.h}x${k.w}`);
    const inv = ifft2(re, im, k.h, k.w);
    const s2 = maxMag(k.ifftRe) + maxMag(k.ifftIm);
    assert.ok(maxAbs(inv.re, k.ifftRe) / s2 < 1e-13 && maxAbs(inv.im, k.ifftIm) / s2 < 1e-13, `ifft2 ${k.h}x${k.w}`);
    assert.deepEqual(Array.from(fftshift2(re, k.h, k.w)), k.shifted, `fftshift ${k.h}x${k.w}`);
    assert.deepEqual(Array.from(ifftshift2(re, k.h, k.w)), k.ishifted, `ifftshift ${k.h}x${k.w}`);
  }
});

test('CFSI (window-only and full) matches the FedDG reference (numpy, corrected Eq. 2) for given alpha/lambda', () => {
  const { cases } = load<{ cases: CfsiCase[] }>('cfsi.json');
  for (const k of cases) {
    const src = { width: k.w, height: k.h, channels: k.c, data: Float32Array.from(k.source) };
    const trg = { width: k.w, height: k.h, channels: k.c, data: Float32Array.from(k.target) };
    const win = extractAmplitudeWindow(trg, k.alpha);
    assert.equal(win.halfWidth, k.halfWidth);
    assert.equal(win.channels, k.c);
    // Shared windows are float32: compare to float32 precision.
    assert.ok(maxAbs(win.data, k.targetWindow) / maxMag(k.targetWindow) < 1e-6, `window ${k.h}x${k.w}x${k.c}`);
    for (const f of [interpolateAmplitude, interpolateAmplitudeFull]) {
      const out = f(src, win, k.lambda, { clip: k.clip });
      assert.ok(maxAbs(out.data, k.output) / maxMag(k.output) < 1e-6, `${f.name} ${k.h}x${k.w}x${k.c} alpha=${k.alpha} lambda=${k.lambda}`);
    }
  }
});
