// Continuous frequency-space interpolation (CFSI), FedDG Eq. 1-3 in the authors' corrected form
// (docs/algorithms.md §2: the authors' correction of Eq. 2):
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
import { checkCfsiArgs, outputBuffer } from './cfsi-checks.js';
import { fft2, fftshift2, ifft2, ifftshift2 } from './fft2d.js';
import { simdApplyRows } from './simd-kernels.js';
import { trig, windowCoefficients } from './window-dft.js';
import { sampleLambda, type AmplitudeWindow } from './window.js';

export {
  CFSI_PRESETS, CLIP_8BIT, alphaForHalfWidth, clipRangeFor, presetAlpha, sampleLambda, sharedWindowAlpha, windowHalfWidth,
  type AmplitudeWindow, type CfsiPresetName,
} from './window.js';
export { extractAmplitudeWindow } from './window-dft.js';

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

/** CFSI (Eq. 2-3) without a full FFT: exact, ~2(2b+1) multiply-adds per pixel and channel. */
export function interpolateAmplitude(image: ImageF32, target: AmplitudeWindow, lambda: number, opts: InterpolateOptions = {}): ImageF32 {
  const fn = 'interpolateAmplitude';
  const clip = checkCfsiArgs(image, target, lambda, opts.clip, fn, false);
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
  const clip = checkCfsiArgs(image, target, lambda, opts.clip, fn, true);
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
 * One CFSI draw as the episodic step uses it (docs/algorithms.md §2, §5): pick a target window uniformly
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
