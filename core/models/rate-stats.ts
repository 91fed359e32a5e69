// Rate-field output for users (ASCNet, Zhang et al., ISBI 2020, §3 "the learned rate correlates with
// object size"; docs/algorithms.md §7): inference returns the H x W rate map next to the segmentation, with
// summary statistics (min / median / max / mean, fraction of r = 0 pixels, histogram) for the UI.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';
import type { ForwardOutput, WeightMap } from './seg-model.js';

export interface RateMap {
  width: number;
  height: number;
  /** Row-major rate r(p) >= 0 in input pixels. */
  data: Float32Array;
}

export interface RateStats {
  min: number;
  median: number;
  max: number;
  mean: number;
  /** Fraction of pixels with r = 0 exactly (the final ReLU is inactive: every tap reads the centre). */
  fractionZero: number;
  /** `bins` equal-width bins over [0, max] (edges.length = counts.length + 1); max = 0 gives [0, 1]. */
  histogram: { edges: number[]; counts: number[] };
}

export interface InferWithRateResult {
  /** Per-class probabilities, HWC (channels = model classes). */
  probs: ImageF32;
  rate: RateMap;
  stats: RateStats;
}

/** Summary statistics of a rate map (NaN entries are rejected). */
export function rateStats(data: Float32Array, bins = 20): RateStats {
  if (!(data instanceof Float32Array) || data.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'rateStats: need a non-empty Float32Array');
  if (!Number.isInteger(bins) || bins < 1 || bins > 10000) throw new FedSegError('INVALID_ARGUMENT', `rateStats: bins must be an integer in [1, 10000], got ${bins}`);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isNaN(v)) throw new FedSegError('NUMERIC_ERROR', `rateStats: rate is NaN at pixel ${i}`);
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v === 0) zeros++;
  }
  const sorted = data.slice().sort();
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const lo = Math.min(0, min);
  const hi = max > lo ? max : lo + 1;
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  edges[bins] = hi;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const k = Math.min(bins - 1, Math.floor((data[i]! - lo) / width));
    counts[k] = counts[k]! + 1;
  }
  return { min, median, max, mean: sum / n, fractionZero: zeros / n, histogram: { edges, counts } };
}

/** Any SegModel (ASCNet-N, ASC U-Net) whose forward returns `rate`. */
export interface RateModel {
  readonly kind: string;
  readonly inChannels: number;
  forward(weights: WeightMap, x: tf.Tensor4D, opts?: { training?: boolean }): ForwardOutput;
}

/**
 * Inference (batch-norm running statistics) on one image; returns probabilities, the full-resolution
 * rate field and its statistics. Async so it also works on backends without synchronous reads (webgpu).
 */
export async function inferWithRate(model: RateModel, weights: WeightMap, image: ImageF32, bins = 20): Promise<InferWithRateResult> {
  if (!image || !(image.data instanceof Float32Array) || image.data.length !== image.width * image.height * image.channels) {
    throw new FedSegError('INVALID_INPUT', 'inferWithRate: image must be {width, height, channels, data: Float32Array} with data.length = width*height*channels');
  }
  if (image.channels !== model.inChannels) {
    throw new FedSegError('SHAPE_MISMATCH', `inferWithRate: image has ${image.channels} channel(s), model '${model.kind}' expects ${model.inChannels}`);
  }
  const out = tf.tidy(() => {
    const x = tf.tensor4d(image.data, [1, image.height, image.width, image.channels]);
    const o = model.forward(weights, x, { training: false });
    if (!o.rate) throw new FedSegError('UNSUPPORTED', `inferWithRate: model '${model.kind}' has no rate field (use an ASC model)`);
    return { probs: o.probs, rate: o.rate };
  });
  try {
    const [p, r] = await Promise.all([out.probs.data(), out.rate.data()]);
    const rate = { width: image.width, height: image.height, data: r as Float32Array };
    return {
      probs: { width: image.width, height: image.height, channels: out.probs.shape[3], data: p as Float32Array },
      rate,
      stats: rateStats(rate.data, bins),
    };
  } finally {
    tf.dispose([out.probs, out.rate]);
  }
}
