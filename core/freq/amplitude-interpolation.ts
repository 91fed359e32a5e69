// Continuous frequency-space interpolation (CFSI), FedDG Eq. 1-3 in the authors' corrected form
// (ALGORITHMS.md §2; liuquande/FedDG-ELCFS issue #2):
//   F = FFT2(x) per channel (numpy convention), A = |F|, P = angle(F)
//   M = centred (2b+1)^2 low-frequency window after fftshift, b = floor(min(H, W) * alpha),
//       DC at (floor(H/2), floor(W/2)) in shifted coordinates, i.e. frequencies u, v in [-b, b]
//   A' = A * (1 - M) + ((1 - lambda) A + lambda A_target) * M                          (Eq. 2)
//   x' = real(IFFT2(A' * exp(i P)))  (local phase kept), optionally clipped              (Eq. 3)
//
// Two implementations that agree to ~1e-12 relative (tests require 1e-6):
// - interpolateAmplitudeFull: the literal reference (full FFT, fftshift, mutate, ifftshift, IFFT);
//   the spectrum viewer and the test oracle.
// - interpolateAmplitude: window-only and exact. Only the (2b+1)^2 window coefficients change, so
//   x' = x + real(IDFT(D)) with D = F' - F supported on the window. The window coefficients of x are
//   direct DFT sums, done separably (rows at v in [0, b], then columns) using the Hermitian symmetry
//   of a real image's spectrum; real(IDFT(D)) equals IDFT of the Hermitian part of D, so D is
//   symmetrised first and the result matches real(ifft2(...)) even for an asymmetric target.
//   Cost ~ 2 (2b+1) multiply-adds per pixel and channel, no FFT.
// What a site shares is exactly extractAmplitudeWindow(): C x (2b+1)^2 amplitudes, nothing else.
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';
import type { Rng } from '../rng.js';
import { fft2, fftshift2, ifft2, ifftshift2 } from './fft2d.js';
import { simdApplyRows, simdEligible, simdRowSums } from './simd-kernels.js';

/** A site's shared amplitude window: C * (2b+1)^2 floats, channel-major, rows in fftshifted order. */
export interface AmplitudeWindow {
  channels: number;
  halfWidth: number;
  /** data[c * s * s + i * s + j] = A_c(u = i - b, v = j - b), s = 2b + 1. */
  data: Float32Array;
}

export interface InterpolateOptions {
  /** Clamp the output to [lo, hi]: [0, 255] for 8-bit images, null (default) for z-scored MRI. */
  clip?: [number, number] | null;
  /**
   * Optional preallocated output buffer (length H*W*C, must not be the input's buffer) reused across
   * calls to avoid allocating a fresh image per call (the fast path's main cost after the maths).
   */
  out?: Float32Array;
  /**
   * Use the WebAssembly SIMD row kernels when they apply (b <= 1, C divides 12, W*C a multiple of 12;
   * default true). false forces the plain f64 TypeScript loops. Both agree with the full-FFT oracle.
   */
  simd?: boolean;
}

/** Valid output ranges per kind of data (ALGORITHMS.md §2: clip 8-bit images, never z-scored MRI). */
export const CLIP_8BIT: [number, number] = Object.freeze([0, 255]) as [number, number];
export function clipRangeFor(kind: '8bit' | 'zscore'): [number, number] | null {
  return kind === '8bit' ? [CLIP_8BIT[0], CLIP_8BIT[1]] : null;
}

/**
 * CFSI presets. `default`: FedSeg's choice (alpha 0.003 -> 3x3 window at 384^2, at least b = 1 for
 * smaller images, lambda ~ U(0, 1) per generated image). `reference`: the authors' training code
 * (alpha = 0: DC only, lambda = 1: hard swap).
 */
export const CFSI_PRESETS = {
  default: { alpha: 0.003, lambda: 'uniform', minHalfWidth: 1 },
  reference: { alpha: 0, lambda: 1, minHalfWidth: 0 },
} as const satisfies Record<string, { alpha: number; lambda: 'uniform' | number; minHalfWidth: number }>;
export type CfsiPresetName = keyof typeof CFSI_PRESETS;

/** b = floor(min(H, W) * alpha), as the reference computes it. Throws if alpha is out of range. */
export function windowHalfWidth(h: number, w: number, alpha: number): number {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `windowHalfWidth: height and width must be positive integers, got ${h}x${w}`);
  }
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 0.5) {
    throw new FedSegError('INVALID_ARGUMENT', `CFSI alpha must be a number in [0, 0.5], got ${String(alpha)}`);
  }
  const b = Math.floor(Math.min(h, w) * alpha);
  if (2 * b + 1 > Math.min(h, w)) {
    throw new FedSegError('INVALID_ARGUMENT', `CFSI alpha ${alpha} gives a ${2 * b + 1}-wide window, larger than the ${h}x${w} image`);
  }
  return b;
}

/** An alpha that yields exactly half-width b for an h x w image (floor-safe). */
export function alphaForHalfWidth(h: number, w: number, b: number): number {
  if (!Number.isInteger(b) || b < 0 || 2 * b + 1 > Math.min(h, w)) {
    throw new FedSegError('INVALID_ARGUMENT', `alphaForHalfWidth: half-width ${b} does not fit a ${h}x${w} image`);
  }
  return (b + 0.5) / Math.min(h, w);
}

/** The alpha a preset uses for an h x w image (the default preset keeps b >= 1 on small images). */
export function presetAlpha(h: number, w: number, preset: CfsiPresetName = 'default'): number {
  const p = CFSI_PRESETS[preset];
  const b = windowHalfWidth(h, w, p.alpha);
  return b >= p.minHalfWidth ? p.alpha : alphaForHalfWidth(h, w, p.minHalfWidth);
}

/** lambda per generated image: 'uniform' (default) draws U(0, 1) from rng; a number is used as is. */
export function sampleLambda(rng: Rng, mode: 'uniform' | number = 'uniform'): number {
  if (mode === 'uniform') return rng.next();
  if (typeof mode !== 'number' || !Number.isFinite(mode) || mode < 0 || mode > 1) {
    throw new FedSegError('INVALID_ARGUMENT', `CFSI lambda must be in [0, 1], got ${String(mode)}`);
  }
  return mode;
}

// ---------------------------------------------------------------------------------------------
// Input checks

function scanFinite(image: ImageF32, fn: string): void {
  const data = image.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new FedSegError('INVALID_INPUT', `${fn}: image has a non-finite pixel (NaN or Infinity) at index ${i}`);
    }
  }
}

/** Checks shape; scanFirst = false defers the NaN scan to the caller's first pass over the data. */
function checkImage(image: ImageF32, fn: string, scanFirst = true): void {
  const { width: w, height: h, channels: c, data } = image;
  if (!Number.isInteger(h) || !Number.isInteger(w) || !Number.isInteger(c) || h <= 0 || w <= 0 || c <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: image dimensions must be positive integers, got ${h}x${w}x${c}`);
  }
  if (!(data instanceof Float32Array) || data.length !== h * w * c) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: image data has ${data?.length} values but ${h}x${w}x${c} = ${h * w * c} expected`);
  }
  if (scanFirst) scanFinite(image, fn);
}

function checkWindow(image: ImageF32, t: AmplitudeWindow, fn: string): void {
  const b = t.halfWidth;
  if (!Number.isInteger(b) || b < 0 || 2 * b + 1 > Math.min(image.height, image.width)) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: target window half-width ${b} does not fit a ${image.height}x${image.width} image`);
  }
  if (t.channels !== image.channels) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: target window has ${t.channels} channels, image has ${image.channels}`);
  }
  const s = 2 * b + 1;
  if (!(t.data instanceof Float32Array) || t.data.length !== t.channels * s * s) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: target window holds ${t.data?.length} values, ${t.channels}x${s}x${s} expected`);
  }
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (!Number.isFinite(v) || v < 0) {
      throw new FedSegError('INVALID_INPUT', `${fn}: target amplitude at index ${i} is ${v} (must be finite and >= 0)`);
    }
  }
}

function outputBuffer(out: Float32Array | undefined, data: Float32Array, fn: string): Float32Array {
  if (out === undefined) return new Float32Array(data.length);
  if (!(out instanceof Float32Array) || out.length !== data.length) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: opts.out must be a Float32Array of ${data.length} values, got ${out?.length}`);
  }
  if (out.buffer === data.buffer) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: opts.out must not share the input image's buffer`);
  }
  return out;
}

function checkLambda(lambda: number, fn: string): void {
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0 || lambda > 1) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: lambda must be in [0, 1], got ${String(lambda)}`);
  }
}

function checkClip(clip: [number, number] | null | undefined, fn: string): [number, number] | null {
  if (clip === undefined || clip === null) return null;
  if (!Array.isArray(clip) || clip.length !== 2 || !Number.isFinite(clip[0]) || !Number.isFinite(clip[1]) || clip[0] > clip[1]) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: clip must be [lo, hi] with finite lo <= hi, got ${JSON.stringify(clip)}`);
  }
  return clip;
}

// ---------------------------------------------------------------------------------------------
// Window-only DFT machinery

interface Trig {
  cos: Float64Array; // cos(2 pi v k / n) at [v * n + k], v = 0..b
  sin: Float64Array;
}
const trigCache = new Map<string, Trig>();

function trig(n: number, b: number): Trig {
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
function windowCoefficients(image: ImageF32, b: number, fn: string, simd: boolean): { re: Float64Array; im: Float64Array; simd: boolean } {
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

/** CFSI (Eq. 2-3) without a full FFT: exact, ~2(2b+1) multiply-adds per pixel and channel. */
export function interpolateAmplitude(image: ImageF32, target: AmplitudeWindow, lambda: number, opts: InterpolateOptions = {}): ImageF32 {
  const fn = 'interpolateAmplitude';
  checkImage(image, fn, false);
  checkWindow(image, target, fn);
  checkLambda(lambda, fn);
  const clip = checkClip(opts.clip, fn);
  const { width: w, height: h, channels: C, data } = image;
  const b = target.halfWidth;
  const s = 2 * b + 1;
  const F = windowCoefficients(image, b, fn, opts.simd !== false);
  // D = A' exp(iP) - F over the window (numpy: np.abs, np.angle, then amp * exp(1j * pha)).
  const dRe = new Float64Array(F.re.length);
  const dIm = new Float64Array(F.re.length);
  for (let i = 0; i < dRe.length; i++) {
    const fr = F.re[i]!;
    const fi = F.im[i]!;
    const a = Math.hypot(fr, fi);
    const a2 = (1 - lambda) * a + lambda * target.data[i]!;
    const p = Math.atan2(fi, fr);
    dRe[i] = a2 * Math.cos(p) - fr;
    dIm[i] = a2 * Math.sin(p) - fi;
  }
  // Hermitian part of D: real(IDFT(D)) = IDFT((D(k) + conj D(-k)) / 2).
  const hRe = new Float64Array(dRe.length);
  const hIm = new Float64Array(dRe.length);
  for (let c = 0; c < C; c++) {
    const o = c * s * s;
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        const k = o + i * s + j;
        const m = o + (s - 1 - i) * s + (s - 1 - j);
        hRe[k] = 0.5 * (dRe[k]! + dRe[m]!);
        hIm[k] = 0.5 * (dIm[k]! - dIm[m]!);
      }
    }
  }
  const tw = trig(w, b);
  const th = trig(h, b);
  const scale = 1 / (h * w);
  const out = outputBuffer(opts.out, data, fn);
  const nb = b + 1;
  const gRe = new Float64Array(C * nb);
  const gIm = new Float64Array(C * nb);
  // Bounds read from a Float64Array stay unboxed doubles in the hot loops (Smi/double merges box).
  const lim = Float64Array.of(clip ? clip[0] : -Infinity, clip ? clip[1] : Infinity);
  const lo = lim[0]!;
  const hi = lim[1]!;
  const rowLen = w * C;
  const simdG = F.simd ? { g0: new Float64Array(h * C), g1r: new Float64Array(h * C), g1i: new Float64Array(h * C) } : null;
  for (let y = 0; y < h; y++) {
    // G(y, v) = scale * sum_u H(u, v) exp(+2 pi i u y / H), v = 0..b (G(y, -v) = conj G(y, v)).
    for (let c = 0; c < C; c++) {
      for (let v = 0; v <= b; v++) {
        let ar = 0;
        let ai = 0;
        for (let u = -b; u <= b; u++) {
          const au = Math.abs(u);
          const cr = th.cos[au * h + y]!;
          const ci = (u < 0 ? -1 : 1) * th.sin[au * h + y]!;
          const k = c * s * s + (u + b) * s + (v + b);
          const xr = hRe[k]!;
          const xi = hIm[k]!;
          ar += xr * cr - xi * ci;
          ai += xr * ci + xi * cr;
        }
        // Fold the factor 2 of the +-v pair in now (v > 0).
        const f = v === 0 ? scale : 2 * scale;
        gRe[c * nb + v] = ar * f;
        gIm[c * nb + v] = ai * f;
      }
    }
    if (simdG) {
      for (let c = 0; c < C; c++) {
        simdG.g0[y * C + c] = gRe[c * nb]!;
        if (b === 1) {
          simdG.g1r[y * C + c] = gRe[c * nb + 1]!;
          simdG.g1i[y * C + c] = gIm[c * nb + 1]!;
        }
      }
      continue;
    }
    const base = y * rowLen;
    if (C === 3 && b === 1) {
      const g00 = gRe[0]!, g01r = gRe[1]!, g01i = gIm[1]!;
      const g10 = gRe[2]!, g11r = gRe[3]!, g11i = gIm[3]!;
      const g20 = gRe[4]!, g21r = gRe[5]!, g21i = gIm[5]!;
      const cv = tw.cos;
      const sv = tw.sin;
      if (!clip) {
        for (let x = 0, i = base; x < w; x++, i += 3) {
          const cx = cv[w + x]!;
          const sx = sv[w + x]!;
          out[i] = data[i]! + g00 + g01r * cx - g01i * sx;
          out[i + 1] = data[i + 1]! + g10 + g11r * cx - g11i * sx;
          out[i + 2] = data[i + 2]! + g20 + g21r * cx - g21i * sx;
        }
        continue;
      }
      for (let x = 0, i = base; x < w; x++, i += 3) {
        const cx = cv[w + x]!;
        const sx = sv[w + x]!;
        const v0 = data[i]! + g00 + g01r * cx - g01i * sx;
        const v1 = data[i + 1]! + g10 + g11r * cx - g11i * sx;
        const v2 = data[i + 2]! + g20 + g21r * cx - g21i * sx;
        out[i] = v0 < lo ? lo : v0 > hi ? hi : v0;
        out[i + 1] = v1 < lo ? lo : v1 > hi ? hi : v1;
        out[i + 2] = v2 < lo ? lo : v2 > hi ? hi : v2;
      }
      continue;
    }
    for (let c = 0; c < C; c++) {
      const g0 = gRe[c * nb]!;
      if (b === 0) {
        for (let i = base + c, e = base + rowLen; i < e; i += C) {
          const val = data[i]! + g0;
          out[i] = val < lo ? lo : val > hi ? hi : val;
        }
        continue;
      }
      if (b === 1) {
        const g1r = gRe[c * nb + 1]!;
        const g1i = gIm[c * nb + 1]!;
        const cv = tw.cos;
        const sv = tw.sin;
        for (let x = 0, i = base + c; x < w; x++, i += C) {
          const val = data[i]! + g0 + g1r * cv[w + x]! - g1i * sv[w + x]!;
          out[i] = val < lo ? lo : val > hi ? hi : val;
        }
        continue;
      }
      for (let x = 0, i = base + c; x < w; x++, i += C) {
        let val = data[i]! + g0;
        for (let v = 1; v <= b; v++) {
          val += gRe[c * nb + v]! * tw.cos[v * w + x]! - gIm[c * nb + v]! * tw.sin[v * w + x]!;
        }
        out[i] = val < lo ? lo : val > hi ? hi : val;
      }
    }
  }
  if (simdG) {
    // The image is still in the kernels' memory from windowCoefficients (same call, nothing in between).
    const t1 = trig(w, 1);
    simdApplyRows(data, w, h, C, t1.cos.subarray(w, 2 * w), t1.sin.subarray(w, 2 * w), simdG.g0, simdG.g1r, simdG.g1i, lo, hi, out, true);
  }
  return { width: w, height: h, channels: C, data: out };
}

/** CFSI (Eq. 2-3) literally as the reference code does it: full FFT2, fftshift, mutate, IFFT2. */
export function interpolateAmplitudeFull(image: ImageF32, target: AmplitudeWindow, lambda: number, opts: InterpolateOptions = {}): ImageF32 {
  const fn = 'interpolateAmplitudeFull';
  checkImage(image, fn);
  checkWindow(image, target, fn);
  checkLambda(lambda, fn);
  const clip = checkClip(opts.clip, fn);
  const { width: w, height: h, channels: C, data } = image;
  const b = target.halfWidth;
  const s = 2 * b + 1;
  const ch = h >> 1;
  const cw = w >> 1;
  const out = outputBuffer(opts.out, data, fn);
  const plane = new Float64Array(h * w);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < h * w; i++) plane[i] = data[i * C + c]!;
    const F = fft2(plane, null, h, w);
    const amp = new Float64Array(h * w);
    const pha = new Float64Array(h * w);
    for (let i = 0; i < h * w; i++) {
      amp[i] = Math.hypot(F.re[i]!, F.im[i]!);
      pha[i] = Math.atan2(F.im[i]!, F.re[i]!);
    }
    const sh = fftshift2(amp, h, w);
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        const k = (ch - b + i) * w + (cw - b + j);
        sh[k] = sh[k]! * (1 - lambda) + target.data[c * s * s + i * s + j]! * lambda;
      }
    }
    const amp2 = ifftshift2(sh, h, w);
    const re = new Float64Array(h * w);
    const im = new Float64Array(h * w);
    for (let i = 0; i < h * w; i++) {
      re[i] = amp2[i]! * Math.cos(pha[i]!);
      im[i] = amp2[i]! * Math.sin(pha[i]!);
    }
    const x = ifft2(re, im, h, w);
    for (let i = 0; i < h * w; i++) {
      let v = x.re[i]!;
      if (clip) v = v < clip[0] ? clip[0] : v > clip[1] ? clip[1] : v;
      out[i * C + c] = v;
    }
  }
  return { width: w, height: h, channels: C, data: out };
}

/**
 * One CFSI draw as the episodic step uses it (ALGORITHMS.md §2, §5): pick a target window uniformly
 * from `targets` (windows of OTHER source sites — the caller must not pass the image's own site or
 * an unseen site), draw lambda (default U(0, 1)), interpolate with the fast path.
 */
export function randomInterpolation(
  image: ImageF32,
  targets: readonly AmplitudeWindow[],
  rng: Rng,
  opts: InterpolateOptions & { lambda?: 'uniform' | number } = {},
): { image: ImageF32; lambda: number; targetIndex: number } {
  if (targets.length === 0) {
    throw new FedSegError('INVALID_ARGUMENT', 'randomInterpolation: no target amplitude windows (need windows from other source sites)');
  }
  const targetIndex = rng.int(targets.length);
  const lambda = sampleLambda(rng, opts.lambda ?? 'uniform');
  const { lambda: _l, ...rest } = opts;
  void _l;
  return { image: interpolateAmplitude(image, targets[targetIndex]!, lambda, rest), lambda, targetIndex };
}
