// Argument checks shared by the CFSI functions (docs/algorithms.md §2): every failure names the
// function and the offending value, as a FedSegError.
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';
import type { AmplitudeWindow } from './window.js';

export function scanFinite(image: ImageF32, fn: string): void {
  const data = image.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new FedSegError('INVALID_INPUT', `${fn}: image has a non-finite pixel (NaN or Infinity) at index ${i}`);
    }
  }
}

/** Checks shape; scanFirst = false defers the NaN scan to the caller's first pass over the data. */
export function checkImage(image: ImageF32, fn: string, scanFirst = true): void {
  const { width: w, height: h, channels: c, data } = image;
  if (!Number.isInteger(h) || !Number.isInteger(w) || !Number.isInteger(c) || h <= 0 || w <= 0 || c <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: image dimensions must be positive integers, got ${h}x${w}x${c}`);
  }
  if (!(data instanceof Float32Array) || data.length !== h * w * c) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: image data has ${data?.length} values but ${h}x${w}x${c} = ${h * w * c} expected`);
  }
  if (scanFirst) scanFinite(image, fn);
}

export function checkWindow(image: ImageF32, t: AmplitudeWindow, fn: string): void {
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

export function outputBuffer(out: Float32Array | undefined, data: Float32Array, fn: string): Float32Array {
  if (out === undefined) return new Float32Array(data.length);
  if (!(out instanceof Float32Array) || out.length !== data.length) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: opts.out must be a Float32Array of ${data.length} values, got ${out?.length}`);
  }
  if (out.buffer === data.buffer) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: opts.out must not share the input image's buffer`);
  }
  return out;
}

export function checkLambda(lambda: number, fn: string): void {
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0 || lambda > 1) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: lambda must be in [0, 1], got ${String(lambda)}`);
  }
}

export function checkClip(clip: [number, number] | null | undefined, fn: string): [number, number] | null {
  if (clip === undefined || clip === null) return null;
  if (!Array.isArray(clip) || clip.length !== 2 || !Number.isFinite(clip[0]) || !Number.isFinite(clip[1]) || clip[0] > clip[1]) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: clip must be [lo, hi] with finite lo <= hi, got ${JSON.stringify(clip)}`);
  }
  return clip;
}

/** Every check of a CFSI call (image, target window, lambda, clip); returns the clip range. */
export function checkCfsiArgs(image: ImageF32, target: AmplitudeWindow, lambda: number, clip: [number, number] | null | undefined, fn: string, scanFirst: boolean): [number, number] | null {
  checkImage(image, fn, scanFirst);
  checkWindow(image, target, fn);
  checkLambda(lambda, fn);
  return checkClip(clip, fn);
}
