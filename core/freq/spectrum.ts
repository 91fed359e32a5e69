// Amplitude / phase split and recombination (FedDG Eq. 1: F = A exp(iP)) and the log-amplitude
// spectrum shown by the spectrum viewer (docs/algorithms.md §2), numpy conventions (np.abs, np.angle).
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';
import { fft2, fftshift2 } from './fft2d.js';

/** A = |F| (np.abs), P = angle(F) (np.angle = atan2(im, re)). */
export function amplitudePhase(re: Float64Array, im: Float64Array): { amplitude: Float64Array; phase: Float64Array } {
  if (re.length !== im.length) {
    throw new FedSegError('SHAPE_MISMATCH', `amplitudePhase: real part has ${re.length} values, imaginary part ${im.length}`);
  }
  const amplitude = new Float64Array(re.length);
  const phase = new Float64Array(re.length);
  for (let i = 0; i < re.length; i++) {
    amplitude[i] = Math.hypot(re[i]!, im[i]!);
    phase[i] = Math.atan2(im[i]!, re[i]!);
  }
  return { amplitude, phase };
}

/** F = A exp(iP). */
export function fromAmplitudePhase(amplitude: Float64Array, phase: Float64Array): { re: Float64Array; im: Float64Array } {
  if (amplitude.length !== phase.length) {
    throw new FedSegError('SHAPE_MISMATCH', `fromAmplitudePhase: amplitude has ${amplitude.length} values, phase ${phase.length}`);
  }
  const re = new Float64Array(amplitude.length);
  const im = new Float64Array(amplitude.length);
  for (let i = 0; i < re.length; i++) {
    re[i] = amplitude[i]! * Math.cos(phase[i]!);
    im[i] = amplitude[i]! * Math.sin(phase[i]!);
  }
  return { re, im };
}

/**
 * log(1 + mean over channels of |FFT2(channel)|), fftshifted (DC at (floor(H/2), floor(W/2))), one
 * value per pixel, for display.
 */
export function logAmplitudeSpectrum(image: ImageF32): { width: number; height: number; data: Float32Array } {
  const { width: w, height: h, channels: C, data } = image;
  if (!Number.isInteger(h) || !Number.isInteger(w) || !Number.isInteger(C) || h <= 0 || w <= 0 || C <= 0 || data.length !== h * w * C) {
    throw new FedSegError('SHAPE_MISMATCH', `logAmplitudeSpectrum: image data has ${data.length} values for ${h}x${w}x${C}`);
  }
  const acc = new Float64Array(h * w);
  const plane = new Float64Array(h * w);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < h * w; i++) plane[i] = data[i * C + c]!;
    const F = fft2(plane, null, h, w); // throws INVALID_INPUT on NaN pixels
    for (let i = 0; i < h * w; i++) acc[i] = acc[i]! + Math.hypot(F.re[i]!, F.im[i]!) / C;
  }
  const shifted = fftshift2(acc, h, w);
  const out = new Float32Array(h * w);
  for (let i = 0; i < out.length; i++) out[i] = Math.log1p(shifted[i]!);
  return { width: w, height: h, data: out };
}
