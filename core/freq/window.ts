// The CFSI low-frequency window (docs/algorithms.md §2): its size rule b = floor(min(H, W) * alpha),
// the presets (FedSeg's default alpha 0.003 with at least b = 1 on small images; the reference's
// alpha = 0, lambda = 1), the minimum window a site shares, the lambda draw and the valid output
// ranges. Pure; shared by extraction (window-dft.ts), interpolation and every caller that picks alpha.
import { FedSegError } from '../contract/errors.js';
import type { Rng } from '../rng.js';

/** A site's shared amplitude window: C * (2b+1)^2 floats, channel-major, rows in fftshifted order. */
export interface AmplitudeWindow {
  channels: number;
  halfWidth: number;
  /** data[c * s * s + i * s + j] = A_c(u = i - b, v = j - b), s = 2b + 1. */
  data: Float32Array;
}

/** Valid output ranges per kind of data (docs/algorithms.md §2: clip 8-bit images, never z-scored MRI). */
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

/**
 * The alpha a site uses for the windows it shares: the requested alpha, except that a window is at
 * least 3x3 (b >= 1) unless alpha is exactly 0 (the reference's DC-only mode). Small images would
 * otherwise share only the DC term, which carries no style beyond the mean.
 */
export function sharedWindowAlpha(h: number, w: number, alpha: number): number {
  if (alpha === 0) return 0;
  return windowHalfWidth(h, w, alpha) >= 1 ? alpha : alphaForHalfWidth(h, w, 1);
}
