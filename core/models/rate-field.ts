// The ASCNet rate field (Zhang et al., ISBI 2020, arXiv 1907.03241, §2.2; docs/algorithms.md §7):
// a small CNN on the input image at full resolution, 3 x (conv3x3 + bias -> BatchNorm -> ReLU) with
// 8 -> 4 -> 1 channels; the final ReLU keeps r >= 0. Computed once per forward pass and shared by every
// ASC layer; layers at 1/2^l resolution (ASC U-Net) get `rescaleRate(r, l)`: r averaged over 2^l x 2^l
// blocks and divided by 2^l, so a rate still spans the same distance in input pixels.
//
// Batch norm state. Trainable per BN: `<p>.gamma`, `<p>.beta`. Non-trainable, stored as ordinary
// entries of the weight map so they travel with checkpoints and FedAvg like any weight:
// `<p>.running_mean`, `<p>.running_var` (`isTrainableWeight(name)` is false for them; optimisers must
// skip them). Training forwards (`training: true`) normalise with the batch statistics (biased
// variance, eps 1e-3 as TF's batch_normalization) and report them to an optional `bnSink`; inference
// forwards use the running entries. The running entries are filled by `calibrateBatchNorm` (population
// statistics over a set of training batches, "precise BN"), or by an exponential moving average the
// caller applies with `emaRunningStats`. Running entries still in their init state (mean exactly 0,
// var exactly 1: never calibrated) make inference fall back to the input's own batch statistics. Init: Glorot-uniform filters, zero biases, gamma 1, beta 0 —
// except the last BN's beta, 1 by default (`finalBeta`), so training starts near r ~ 1 (a plain conv)
// instead of half the pixels at r = 0.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { Rng } from '../rng.js';
import type { WeightMap } from './seg-model.js';

export const BN_EPS = 1e-3;
export const RATE_FIELD_WIDTHS = [8, 4, 1] as const;

export type ParamRole = 'filter' | 'bias' | 'gamma' | 'beta' | 'running_mean' | 'running_var';

export interface ParamShape {
  name: string;
  shape: number[];
  role: ParamRole;
  fanIn: number;
  fanOut: number;
}

/** Receives each BN layer's batch statistics during a training forward (tensors are the caller's to keep). */
export type BatchStatsSink = (bnName: string, mean: tf.Tensor1D, variance: tf.Tensor1D, count: number) => void;

export interface NormOptions {
  training?: boolean;
  bnSink?: BatchStatsSink;
}

/** false for the non-trainable batch-norm running statistics. */
export function isTrainableWeight(name: string): boolean {
  return !name.endsWith('.running_mean') && !name.endsWith('.running_var');
}

/** Only the trainable entries of a weight map (same tensors, not copies). */
export function trainableWeights(weights: WeightMap): WeightMap {
  const out: WeightMap = {};
  for (const [k, v] of Object.entries(weights)) if (isTrainableWeight(k)) out[k] = v;
  return out;
}

export function convShapes(name: string, k: number, cin: number, cout: number): ParamShape[] {
  const fanIn = cin * k * k;
  const fanOut = cout * k * k;
  return [
    { name: `${name}.weight`, shape: [k, k, cin, cout], role: 'filter', fanIn, fanOut },
    { name: `${name}.bias`, shape: [cout], role: 'bias', fanIn, fanOut },
  ];
}

export function bnShapes(name: string, ch: number): ParamShape[] {
  return (['gamma', 'beta', 'running_mean', 'running_var'] as const).map((role) => ({ name: `${name}.${role}`, shape: [ch], role, fanIn: ch, fanOut: ch }));
}

/** The rate field's parameters under `prefix` ('rate' by default): rate.conv{1,2,3}.*, rate.bn{1,2,3}.*. */
export function rateFieldShapes(inChannels: number, prefix = 'rate'): ParamShape[] {
  if (!Number.isInteger(inChannels) || inChannels < 1) throw new FedSegError('INVALID_ARGUMENT', `rate field: inChannels must be a positive integer, got ${inChannels}`);
  const out: ParamShape[] = [];
  let cin = inChannels;
  RATE_FIELD_WIDTHS.forEach((w, i) => {
    out.push(...convShapes(`${prefix}.conv${i + 1}`, 3, cin, w), ...bnShapes(`${prefix}.bn${i + 1}`, w));
    cin = w;
  });
  return out;
}

export interface InitOptions {
  /** Filter init: 'glorot' uniform (rate field, ASCNet) or 'he' normal fan_in. */
  filterInit?: 'glorot' | 'he';
  /** beta of specific BN layers (by BN name), default 0. */
  betaInit?: Record<string, number>;
}

/** Allocates tensors for the given shapes from a seeded RNG (caller owns them). */
export function initParams(shapes: ParamShape[], rng: Rng, opts: InitOptions = {}): WeightMap {
  const out: WeightMap = {};
  for (const s of shapes) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    switch (s.role) {
      case 'filter':
        if ((opts.filterInit ?? 'glorot') === 'glorot') {
          const lim = Math.sqrt(6 / (s.fanIn + s.fanOut));
          for (let i = 0; i < n; i++) data[i] = rng.uniform(-lim, lim);
        } else {
          const std = Math.sqrt(2 / s.fanIn);
          for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
        }
        break;
      case 'gamma':
      case 'running_var':
        data.fill(1);
        break;
      case 'beta': {
        const bn = s.name.slice(0, -'.beta'.length);
        data.fill(opts.betaInit?.[bn] ?? 0);
        break;
      }
      default:
        break; // bias, running_mean: 0
    }
    out[s.name] = tf.tensor(data, s.shape, 'float32');
  }
  return out;
}

export function initRateField(rng: Rng, inChannels: number, prefix = 'rate', finalBeta = 1): WeightMap {
  return initParams(rateFieldShapes(inChannels, prefix), rng, { filterInit: 'glorot', betaInit: { [`${prefix}.bn3`]: finalBeta } });
}

export function getWeight(weights: WeightMap, name: string, shape?: number[]): tf.Tensor {
  const t = weights[name];
  if (!t) throw new FedSegError('INVALID_ARGUMENT', `weight '${name}' is missing from the weight map`);
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    throw new FedSegError('SHAPE_MISMATCH', `weight '${name}' has shape [${t.shape}], expected [${shape}]`);
  }
  return t;
}

/** Throws a FedSegError naming the first missing or mis-shaped entry. */
export function checkWeights(weights: WeightMap, shapes: ParamShape[], who: string): void {
  if (!weights || typeof weights !== 'object') throw new FedSegError('INVALID_ARGUMENT', `${who}: weight map required`);
  for (const s of shapes) {
    try {
      getWeight(weights, s.name, s.shape);
    } catch (e) {
      throw new FedSegError((e as FedSegError).code ?? 'INVALID_ARGUMENT', `${who}: ${(e as Error).message}`);
    }
  }
}

/**
 * Batch norm over [B,H,W] per channel. training: batch statistics (reported to opts.bnSink);
 * otherwise the running entries.
 */
export function batchNorm(x: tf.Tensor4D, weights: WeightMap, name: string, opts: NormOptions = {}): tf.Tensor4D {
  const gamma = getWeight(weights, `${name}.gamma`);
  const beta = getWeight(weights, `${name}.beta`);
  if (opts.training) {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    if (opts.bnSink) opts.bnSink(name, mean as tf.Tensor1D, variance as tf.Tensor1D, x.shape[0] * x.shape[1] * x.shape[2]);
    return tf.batchNorm(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta as tf.Tensor1D, gamma as tf.Tensor1D, BN_EPS);
  }
  const rm = getWeight(weights, `${name}.running_mean`) as tf.Tensor1D;
  const rv = getWeight(weights, `${name}.running_var`) as tf.Tensor1D;
  return tf.tidy(() => {
    // Never-calibrated statistics (exactly the init state mean 0 / var 1) fall back to each image's own
    // statistics (per image, not per batch: a prediction must not depend on which other images share
    // its batch), so a learner that never calls calibrateBatchNorm still infers sensibly.
    // Selected with tensor arithmetic (no synchronous read, works on every backend).
    const { mean, variance } = tf.moments(x, [1, 2], true);
    const uncal = tf.cast(tf.logicalAnd(tf.equal(tf.sum(tf.abs(rm)), 0), tf.equal(tf.sum(tf.abs(tf.sub(rv, 1))), 0)), 'float32');
    const keep = tf.sub(1, uncal);
    const m = tf.add(tf.mul(uncal, mean), tf.mul(keep, rm)) as tf.Tensor4D;
    const v = tf.add(tf.mul(uncal, variance), tf.mul(keep, rv)) as tf.Tensor4D;
    return tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, BN_EPS))), gamma), beta) as tf.Tensor4D;
  });
}

/** r = rate field of x, [B,H,W,1], r >= 0. */
export function rateFieldForward(weights: WeightMap, x: tf.Tensor4D, opts: NormOptions & { prefix?: string } = {}): tf.Tensor4D {
  const prefix = opts.prefix ?? 'rate';
  return tf.tidy(() => {
    let h = x;
    for (let i = 1; i <= RATE_FIELD_WIDTHS.length; i++) {
      const w = getWeight(weights, `${prefix}.conv${i}.weight`) as tf.Tensor4D;
      const b = getWeight(weights, `${prefix}.conv${i}.bias`);
      h = tf.relu(batchNorm(tf.add(tf.conv2d(h, w, 1, 'same'), b) as tf.Tensor4D, weights, `${prefix}.bn${i}`, opts));
    }
    return h;
  });
}

/** Rate for a layer at 1/2^level resolution: 2^level x 2^level block mean, divided by 2^level. */
export function rescaleRate(rate: tf.Tensor4D, level: number): tf.Tensor4D {
  if (!Number.isInteger(level) || level < 0) throw new FedSegError('INVALID_ARGUMENT', `rescaleRate: level must be an integer >= 0, got ${level}`);
  if (level === 0) return rate;
  const f = 2 ** level;
  const [, h, w] = rate.shape;
  if (h % f !== 0 || w % f !== 0) throw new FedSegError('SHAPE_MISMATCH', `rescaleRate: ${h}x${w} is not divisible by ${f}`);
  return tf.tidy(() => tf.div(tf.avgPool(rate, f, f, 'valid'), f) as tf.Tensor4D);
}

/** Anything with a forward that accepts a bnSink (ASCNet-N, ASC U-Net). */
export interface BnForward {
  forward(weights: WeightMap, x: tf.Tensor4D, opts?: NormOptions): unknown;
}

/**
 * Population batch-norm statistics over `batches` (training-mode forwards, every pixel weighted
 * equally; variance = E[x^2] - E[x]^2, biased). Returns a new weight map: the same tensors for every
 * trainable entry and NEW tensors for every `.running_mean`/`.running_var` that was seen (the old
 * running tensors are not disposed; the caller owns both).
 */
export async function calibrateBatchNorm(model: BnForward, weights: WeightMap, batches: Iterable<tf.Tensor4D>): Promise<WeightMap> {
  const acc = new Map<string, { n: number; s: Float64Array; s2: Float64Array }>();
  for (const xb of batches) {
    const got: { name: string; mean: tf.Tensor; variance: tf.Tensor; count: number }[] = [];
    const sink: BatchStatsSink = (name, mean, variance, count) => {
      got.push({ name, mean: tf.keep(mean.clone()), variance: tf.keep(variance.clone()), count });
    };
    tf.tidy(() => {
      model.forward(weights, xb, { training: true, bnSink: sink });
    });
    for (const g of got) {
      const m = (await g.mean.data()) as Float32Array;
      const v = (await g.variance.data()) as Float32Array;
      tf.dispose([g.mean, g.variance]);
      let a = acc.get(g.name);
      if (!a) acc.set(g.name, (a = { n: 0, s: new Float64Array(m.length), s2: new Float64Array(m.length) }));
      for (let c = 0; c < m.length; c++) {
        a.s[c] = a.s[c]! + g.count * m[c]!;
        a.s2[c] = a.s2[c]! + g.count * (v[c]! + m[c]! * m[c]!);
      }
      a.n += g.count;
    }
  }
  if (acc.size === 0) throw new FedSegError('INVALID_ARGUMENT', 'calibrateBatchNorm: no batches given, or the model has no batch norm');
  const out: WeightMap = { ...weights };
  for (const [name, a] of acc) {
    const mean = new Float32Array(a.s.length);
    const vr = new Float32Array(a.s.length);
    for (let c = 0; c < mean.length; c++) {
      mean[c] = a.s[c]! / a.n;
      vr[c] = Math.max(0, a.s2[c]! / a.n - mean[c]! * mean[c]!);
    }
    out[`${name}.running_mean`] = tf.tensor1d(mean);
    out[`${name}.running_var`] = tf.tensor1d(vr);
  }
  return out;
}

/**
 * running <- momentum * running + (1 - momentum) * batch, for stats a bnSink collected (tensors by BN
 * name). Returns new running tensors keyed by weight name; the caller swaps them in and disposes the old.
 */
export function emaRunningStats(weights: WeightMap, stats: Map<string, { mean: tf.Tensor; variance: tf.Tensor }>, momentum = 0.99): WeightMap {
  const out: WeightMap = {};
  for (const [name, s] of stats) {
    const rm = getWeight(weights, `${name}.running_mean`);
    const rv = getWeight(weights, `${name}.running_var`);
    out[`${name}.running_mean`] = tf.tidy(() => tf.add(tf.mul(rm, momentum), tf.mul(s.mean, 1 - momentum)));
    out[`${name}.running_var`] = tf.tidy(() => tf.add(tf.mul(rv, momentum), tf.mul(s.variance, 1 - momentum)));
  }
  return out;
}
