// The statistics of an experiment report (docs/experiments.md §3): mean and sample standard deviation
// over seeds and folds, numpy-style percentiles, and the paired bootstrap of a method's difference to
// the baseline on the unseen site. The bootstrap resamples seeds and images independently (two-level:
// training noise and which images the unseen site happens to have), each with replacement, and takes
// the percentile interval of the resampled mean difference. Pure: the RNG is explicit.
import { FedSegError } from '../contract/errors.js';
import type { Rng } from '../rng.js';

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1 in the denominator, numpy ddof=1); NaN below 2 values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** The q-th percentile (0-100) with linear interpolation between order statistics (numpy's default). */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  if (!(q >= 0 && q <= 100)) throw new FedSegError('INVALID_ARGUMENT', `percentile: q must be in [0, 100], got ${q}`);
  const s = Float64Array.from(xs).sort();
  const h = ((s.length - 1) * q) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** Finite values only (a metric that was undefined for a run is left out, never counted as 0). */
export const finite = (xs: readonly (number | null | undefined)[]): number[] => xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

export interface MeanStd {
  mean: number;
  std: number;
  n: number;
}

export function meanStd(xs: readonly (number | null | undefined)[]): MeanStd {
  const f = finite(xs);
  return { mean: mean(f), std: sampleStd(f), n: f.length };
}

export interface BootstrapInterval {
  /** The observed mean difference over every seed and image. */
  mean: number;
  lo: number;
  hi: number;
  level: number;
  seeds: number;
  images: number;
  resamples: number;
}

/**
 * Paired two-level bootstrap of a mean difference. `diffs[s][i]` is method minus baseline for seed s on
 * image i (the same images for every seed). Each resample draws seeds and images with replacement and
 * averages the drawn cells; the interval is the central `level` percentile range of the resampled means.
 */
export function pairedBootstrap(diffs: readonly (readonly number[])[], rng: Rng, o: { resamples?: number; level?: number } = {}): BootstrapInterval {
  const S = diffs.length;
  const I = diffs[0]?.length ?? 0;
  if (S === 0 || I === 0) throw new FedSegError('INVALID_ARGUMENT', 'bootstrap: no paired values');
  for (const row of diffs) {
    if (row.length !== I) throw new FedSegError('INVALID_ARGUMENT', `bootstrap: every seed needs the same ${I} images, got ${row.length}`);
    for (const v of row) if (!Number.isFinite(v)) throw new FedSegError('INVALID_ARGUMENT', 'bootstrap: a paired difference is not finite');
  }
  const B = o.resamples ?? 10000;
  const level = o.level ?? 0.95;
  if (!(Number.isInteger(B) && B >= 1)) throw new FedSegError('INVALID_ARGUMENT', `bootstrap: resamples must be a positive integer, got ${B}`);
  if (!(level > 0 && level < 1)) throw new FedSegError('INVALID_ARGUMENT', `bootstrap: level must be in (0, 1), got ${level}`);
  const observed = mean(diffs.flat());
  const means = new Array<number>(B);
  const seeds = new Int32Array(S);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < S; k++) seeds[k] = rng.int(S);
    let s = 0;
    for (let j = 0; j < I; j++) {
      const i = rng.int(I);
      for (let k = 0; k < S; k++) s += diffs[seeds[k]!]![i]!;
    }
    means[b] = s / (S * I);
  }
  const tail = ((1 - level) / 2) * 100;
  return { mean: observed, lo: percentile(means, tail), hi: percentile(means, 100 - tail), level, seeds: S, images: I, resamples: B };
}
