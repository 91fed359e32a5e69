// Window-only DFT (docs/algorithms.md §2): the (2b+1)^2 low-frequency coefficients of an image as
// direct separable DFT sums (no full FFT), and from them the amplitude window a site shares:
// extractAmplitudeWindow() = C x (2b+1)^2 amplitudes, nothing else.
import type { ImageF32 } from '../contract/image.js';
import { checkImage, scanFinite } from './cfsi-checks.js';
import { simdEligible, simdRowSums } from './simd-kernels.js';
import { windowHalfWidth, type AmplitudeWindow } from './window.js';

export interface Trig {
  cos: Float64Array; // cos(2 pi v k / n) at [v * n + k], v = 0..b
  sin: Float64Array;
}
const trigCache = new Map<string, Trig>();

export function trig(n: number, b: number): Trig {
  const key = `${n}:${b}`;
  let t = trigCache.get(key);
  if (!t) {
    const cos = new Float64Array((b + 1) * n);
    const sin = new Float64Array((b + 1) * n);
    for (let v = 0; v <= b; v++) {
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * ((v * k) % n)) / n;
        cos[v * n + k] = Math.cos(a);
        sin[v * n + k] = Math.sin(a);
      }
    }
    t = { cos, sin };
    if (trigCache.size > 32) trigCache.clear();
    trigCache.set(key, t);
  }
  return t;
}

/**
 * Window DFT coefficients of every channel: F_c(u, v) for u, v in [-b, b], as re/im arrays laid out
 * like AmplitudeWindow.data (channel-major, fftshifted rows).
 */
export function windowCoefficients(image: ImageF32, b: number, fn: string, simd: boolean): { re: Float64Array; im: Float64Array; simd: boolean } {
  const { width: w, height: h, channels: C, data } = image;
  const s = 2 * b + 1;
  const tw = trig(w, Math.max(b, 1));
  const th = trig(h, b);
  // Row stage: R[c][y][v] = sum_x f * exp(-2 pi i v x / W), v = 0..b.
  const nb = b + 1;
  const rRe = new Float64Array(C * h * nb);
  const rIm = new Float64Array(C * h * nb);
  const rowLen = w * C;
  const c1 = tw.cos.subarray(w, 2 * w);
  const s1 = tw.sin.subarray(w, 2 * w);
  const useSimd = simd && b <= 1 && simdEligible(w, C);
  if (useSimd) {
    const r = simdRowSums(data, w, h, C, c1, s1);
    let finite = true;
    for (let y = 0; y < h; y++) {
      for (let c = 0; c < C; c++) {
        const o = (c * h + y) * nb;
        const q = y * C + c;
        rRe[o] = r.s0[q]!;
        if (b === 1) {
          rRe[o + 1] = r.s1[q]!;
          rIm[o + 1] = -r.s2[q]!;
        }
        if (!Number.isFinite(r.s0[q]!) || !Number.isFinite(r.s1[q]!) || !Number.isFinite(r.s2[q]!)) finite = false;
      }
    }
    if (!finite) {
      scanFinite(image, fn); // throws on a NaN/Infinity pixel
      return windowCoefficients(image, b, fn, false); // f32 overflow of huge finite pixels: redo in f64
    }
  }
  for (let y = 0; y < h && !useSimd; y++) {
    const base = y * rowLen;
    if (C === 3 && b === 1) {
      // Hot path (RGB, 3x3 window): one fused pass over the row for all channels.
      let a0 = 0, a1 = 0, a2 = 0, r0 = 0, r1 = 0, r2 = 0, i0 = 0, i1 = 0, i2 = 0;
      for (let x = 0, i = base; x < w; x++, i += 3) {
        const cv = c1[x]!;
        const sv = s1[x]!;
        const f0 = data[i]!;
        const f1 = data[i + 1]!;
        const f2 = data[i + 2]!;
        a0 += f0; a1 += f1; a2 += f2;
        r0 += f0 * cv; r1 += f1 * cv; r2 += f2 * cv;
        i0 += f0 * sv; i1 += f1 * sv; i2 += f2 * sv;
      }
      const o0 = y * nb;
      const o1 = (h + y) * nb;
      const o2 = (2 * h + y) * nb;
      rRe[o0] = a0; rRe[o0 + 1] = r0; rIm[o0 + 1] = -i0;
      rRe[o1] = a1; rRe[o1 + 1] = r1; rIm[o1 + 1] = -i1;
      rRe[o2] = a2; rRe[o2 + 1] = r2; rIm[o2 + 1] = -i2;
      continue;
    }
    for (let c = 0; c < C; c++) {
      const o = (c * h + y) * nb;
      if (b === 1) {
        let a0 = 0, r0 = 0, i0 = 0;
        for (let x = 0, i = base + c; x < w; x++, i += C) {
          const f = data[i]!;
          a0 += f;
          r0 += f * c1[x]!;
          i0 += f * s1[x]!;
        }
        rRe[o] = a0; rRe[o + 1] = r0; rIm[o + 1] = -i0;
        continue;
      }
      let s0 = 0;
      for (let i = base + c, e = base + rowLen; i < e; i += C) s0 += data[i]!;
      rRe[o] = s0;
      for (let v = 1; v <= b; v++) {
        const cv = tw.cos;
        const sv = tw.sin;
        const off = v * w;
        let sr = 0;
        let si = 0;
        for (let x = 0, i = base + c; x < w; x++, i += C) {
          const f = data[i]!;
          sr += f * cv[off + x]!;
          si += f * sv[off + x]!;
        }
        rRe[o + v] = sr;
        rIm[o + v] = -si;
      }
    }
  }
  // Any NaN/Infinity pixel poisons its row sum: find and report it (keeps the hot path single-pass).
  for (let i = 0; i < rRe.length; i++) {
    if (!Number.isFinite(rRe[i]!) || !Number.isFinite(rIm[i]!)) scanFinite(image, fn);
  }
  // Column stage: F[c][u][v] = sum_y R[c][y][v] exp(-2 pi i u y / H), u in [-b, b], v in [0, b];
  // then F(-u, -v) = conj F(u, v) fills v < 0.
  const fRe = new Float64Array(C * s * s);
  const fIm = new Float64Array(C * s * s);
  for (let c = 0; c < C; c++) {
    for (let u = -b; u <= b; u++) {
      const au = Math.abs(u);
      const sg = u < 0 ? -1 : 1; // exp(-2 pi i u y / H) = cos - i sg sin(2 pi |u| y / H)
      for (let v = 0; v <= b; v++) {
        let ar = 0;
        let ai = 0;
        for (let y = 0; y < h; y++) {
          const o = (c * h + y) * nb + v;
          const cr = th.cos[au * h + y]!;
          const ci = -sg * th.sin[au * h + y]!;
          const xr = rRe[o]!;
          const xi = rIm[o]!;
          ar += xr * cr - xi * ci;
          ai += xr * ci + xi * cr;
        }
        const idx = c * s * s + (u + b) * s + (v + b);
        fRe[idx] = ar;
        fIm[idx] = ai;
        const mirror = c * s * s + (-u + b) * s + (-v + b);
        fRe[mirror] = ar;
        fIm[mirror] = -ai;
      }
    }
  }
  return { re: fRe, im: fIm, simd: useSimd };
}

/** The amplitude window a site shares for one image: C x (2b+1)^2 floats, b from alpha. */
export function extractAmplitudeWindow(image: ImageF32, alpha: number, opts: { simd?: boolean } = {}): AmplitudeWindow {
  const fn = 'extractAmplitudeWindow';
  checkImage(image, fn, false);
  const b = windowHalfWidth(image.height, image.width, alpha);
  const F = windowCoefficients(image, b, fn, opts.simd !== false);
  const data = new Float32Array(F.re.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.hypot(F.re[i]!, F.im[i]!);
  return { channels: image.channels, halfWidth: b, data };
}
