// ASCNet-N and its baselines (Zhang et al., ISBI 2020, arXiv 1907.03241, §2-3, Table 1; ALGORITHMS.md §7).
//
// All four are N full-resolution 3x3 layers, no pooling, no skips. Layers 1..N-1: conv -> BatchNorm ->
// ReLU; layer N: conv -> logits (linear) -> softmax over `classes` (background included).
// - 'ascnet-7' : 7 ASC layers, 8 channels (layers 1-6), one shared rate field (core/models/rate-field.ts).
// - 'ascnet-14': 14 ASC layers, 32 channels (layers 1-13), one shared rate field.
// - 'cnn-7'    : classic CNN, 7 plain 3x3 convs, 8 channels.
// - 'dilated-7': dilated CNN, rates 1,1,2,4,8,16,1, 8 channels (dilated conv through the ASC op with a
//                constant rate, so it trains on wasm where tfjs has no dilated-conv gradient).
// Training: softmax cross-entropy (`softmaxCrossEntropy`), Adam lr 1e-3, beta1 0.9, beta2 0.9, batch 2
// (`createSoftmaxTrainer`). Filters Glorot-uniform, biases 0, BN gamma 1 / beta 0.
// Weight names: layer{i}.weight [3,3,Cin,Cout], layer{i}.bias, layer{i}.bn.{gamma,beta,running_mean,
// running_var} (i < N), and rate.* for the ASC models. Running statistics: see rate-field.ts.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import { createRng } from '../rng.js';
import type { ForwardOutput, SegModel, WeightMap } from './seg-model.js';
import { ascConv2d, dilatedConv2d, type AscImpl } from './asc-conv.js';
import {
  batchNorm, bnShapes, checkWeights, convShapes, getWeight, initParams, isTrainableWeight, rateFieldForward, rateFieldShapes,
  type NormOptions, type ParamShape,
} from './rate-field.js';
import { Adam } from '../train/adam.js';

export type AscNetKind = 'ascnet-7' | 'ascnet-14' | 'cnn-7' | 'dilated-7';
export const ASCNET_KINDS: readonly AscNetKind[] = ['cnn-7', 'dilated-7', 'ascnet-7', 'ascnet-14'];

export interface AscNetConfig {
  kind: AscNetKind;
  inChannels: number;
  /** Softmax classes including background (>= 2). */
  classes: number;
  /** ASC implementation (asc-conv.ts); default 'auto'. */
  impl?: AscImpl;
  /** Initial beta of the rate field's last BN (r starts near this value); default 1. */
  rateBeta?: number;
}

export interface LayerSpec {
  /** 'asc': adaptive rate; 'conv': plain 3x3; 'dilated': fixed dilation `rate`. */
  type: 'asc' | 'conv' | 'dilated';
  cin: number;
  cout: number;
  rate: number;
  last: boolean;
}

export interface AscNetModel extends SegModel {
  readonly config: Required<AscNetConfig>;
  readonly layers: LayerSpec[];
  readonly shapes: ParamShape[];
  readonly paramCount: number;
  readonly hasRate: boolean;
  forward(weights: WeightMap, x: tf.Tensor4D, opts?: NormOptions): ForwardOutput;
}

function layerSpecs(c: Required<AscNetConfig>): LayerSpec[] {
  const plan: { n: number; width: number; type: LayerSpec['type']; rates?: number[] } = (() => {
    switch (c.kind) {
      case 'ascnet-7':
        return { n: 7, width: 8, type: 'asc' as const };
      case 'ascnet-14':
        return { n: 14, width: 32, type: 'asc' as const };
      case 'cnn-7':
        return { n: 7, width: 8, type: 'conv' as const };
      case 'dilated-7':
        return { n: 7, width: 8, type: 'dilated' as const, rates: [1, 1, 2, 4, 8, 16, 1] };
    }
  })();
  const out: LayerSpec[] = [];
  for (let i = 0; i < plan.n; i++) {
    const last = i === plan.n - 1;
    out.push({ type: plan.type, cin: i === 0 ? c.inChannels : plan.width, cout: last ? c.classes : plan.width, rate: plan.rates?.[i] ?? 1, last });
  }
  return out;
}

function resolve(cfg: AscNetConfig): Required<AscNetConfig> {
  if (!cfg || typeof cfg !== 'object') throw new FedSegError('INVALID_ARGUMENT', 'createAscNet: config object required');
  if (!ASCNET_KINDS.includes(cfg.kind)) throw new FedSegError('INVALID_ARGUMENT', `createAscNet: kind must be one of ${ASCNET_KINDS.join(', ')}, got ${String(cfg.kind)}`);
  const int = (v: unknown, what: string, lo: number, hi: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new FedSegError('INVALID_ARGUMENT', `createAscNet: ${what} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
    return v;
  };
  const impl = cfg.impl ?? 'auto';
  if (!['auto', 'ops', 'fused'].includes(impl)) throw new FedSegError('INVALID_ARGUMENT', `createAscNet: impl must be auto, ops or fused, got ${String(impl)}`);
  const rateBeta = cfg.rateBeta ?? 1;
  if (!Number.isFinite(rateBeta)) throw new FedSegError('INVALID_ARGUMENT', 'createAscNet: rateBeta must be finite');
  return { kind: cfg.kind, inChannels: int(cfg.inChannels, 'inChannels', 1, 64), classes: int(cfg.classes, 'classes', 2, 64), impl, rateBeta };
}

/** ASCNet-7/-14, classic CNN-7 or dilated CNN-7 as a SegModel (softmax outputs; `rate` for ASC kinds). */
export function createAscNet(cfg: AscNetConfig): AscNetModel {
  const c = resolve(cfg);
  const layers = layerSpecs(c);
  const hasRate = layers[0]!.type === 'asc';
  const shapes: ParamShape[] = [];
  if (hasRate) shapes.push(...rateFieldShapes(c.inChannels));
  layers.forEach((l, i) => {
    shapes.push(...convShapes(`layer${i + 1}`, 3, l.cin, l.cout));
    if (!l.last) shapes.push(...bnShapes(`layer${i + 1}.bn`, l.cout));
  });
  const paramCount = shapes.filter((s) => isTrainableWeight(s.name)).reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0);

  function forward(weights: WeightMap, x: tf.Tensor4D, opts: NormOptions = {}): ForwardOutput {
    if (!x || x.rank !== 4) throw new FedSegError('SHAPE_MISMATCH', `${c.kind} forward: input must be [B,H,W,C], got rank ${x?.rank}`);
    if (x.shape[3] !== c.inChannels) throw new FedSegError('SHAPE_MISMATCH', `${c.kind} forward: input has ${x.shape[3]} channels, model expects ${c.inChannels}`);
    checkWeights(weights, shapes, `${c.kind} forward`);
    return tf.tidy(() => {
      const rate = hasRate ? rateFieldForward(weights, x, opts) : undefined;
      let h = x;
      layers.forEach((l, i) => {
        const name = `layer${i + 1}`;
        const w = getWeight(weights, `${name}.weight`) as tf.Tensor4D;
        const b = getWeight(weights, `${name}.bias`) as tf.Tensor1D;
        let y: tf.Tensor4D;
        if (l.type === 'asc') y = ascConv2d(h, rate!, w, b, { impl: c.impl });
        else if (l.type === 'dilated' && l.rate !== 1) y = dilatedConv2d(h, w, b, l.rate, { impl: c.impl });
        else y = tf.add(tf.conv2d(h, w, 1, 'same'), b) as tf.Tensor4D;
        h = l.last ? y : tf.relu(batchNorm(y, weights, `${name}.bn`, opts));
      });
      const logits = h;
      const probs = tf.softmax(logits) as tf.Tensor4D;
      return rate ? { probs, logits, rate } : { probs, logits };
    });
  }

  return {
    kind: c.kind,
    inChannels: c.inChannels,
    classes: c.classes,
    config: c,
    layers,
    shapes,
    paramCount,
    hasRate,
    init(seed: number): WeightMap {
      return initParams(shapes, createRng(seed), { filterInit: 'glorot', betaInit: { 'rate.bn3': c.rateBeta } });
    },
    forward,
  };
}

export const createAscNet7 = (o: Omit<AscNetConfig, 'kind'>) => createAscNet({ ...o, kind: 'ascnet-7' });
export const createAscNet14 = (o: Omit<AscNetConfig, 'kind'>) => createAscNet({ ...o, kind: 'ascnet-14' });
export const createClassicCnn = (o: Omit<AscNetConfig, 'kind'>) => createAscNet({ ...o, kind: 'cnn-7' });
export const createDilatedCnn = (o: Omit<AscNetConfig, 'kind'>) => createAscNet({ ...o, kind: 'dilated-7' });

/** Mean softmax cross-entropy over all pixels. logits [B,H,W,K], labels int32 [B,H,W] in [0, K). */
export function softmaxCrossEntropy(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
  const k = logits.shape[3];
  if (labels.rank !== 3 || labels.shape.some((d, i) => d !== logits.shape[i])) {
    throw new FedSegError('SHAPE_MISMATCH', `softmaxCrossEntropy: labels [${labels.shape}] must be [${logits.shape.slice(0, 3)}]`);
  }
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), k);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}

export interface SoftmaxTrainerOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  /**
   * Optimiser to continue with (e.g. Adam.fromNamedArrays of a checkpoint, for resume); the trainer
   * takes ownership. Default: a fresh Adam(lr, beta1, beta2, eps 1e-7).
   */
  adam?: Adam;
}

export interface SoftmaxTrainer {
  /**
   * One Adam step on a batch (batch-statistics BN); resolves to the loss before the step. Async: the
   * loss is read back with an awaited data() so it works on webgpu in Node (no synchronous readback).
   */
  step(x: tf.Tensor4D, labels: tf.Tensor3D): Promise<number>;
  /** Current weights: the trainable tensors plus the running-stat tensors (owned by the trainer). */
  weights(): WeightMap;
  /** Replace non-trainable entries (e.g. calibrated running stats); the trainer takes ownership. */
  setNonTrainable(entries: WeightMap): void;
  /** The optimiser (D's serialisable Adam, core/train/adam.ts): checkpoint it with toNamedArraysAsync(). */
  readonly adam: Adam;
  dispose(): void;
}

/**
 * Adam (lr 1e-3, beta1 0.9, beta2 0.9 by default: ASCNet's settings; eps 1e-7, the Keras/tfjs default
 * the original used) on softmax cross-entropy. The optimiser is core/train/adam.ts (same update as
 * tf.train.adam) so its state can be checkpointed and restored.
 */
export function createSoftmaxTrainer(model: SegModel & { forward(w: WeightMap, x: tf.Tensor4D, o?: NormOptions): ForwardOutput }, init: WeightMap, opts: SoftmaxTrainerOptions = {}): SoftmaxTrainer {
  const train: WeightMap = {};
  const fixed: WeightMap = {};
  for (const [k, t] of Object.entries(init)) {
    // clone() shares the buffer (ref-counted); init stays the caller's
    if (isTrainableWeight(k)) train[k] = t.clone();
    else fixed[k] = t.clone();
  }
  const adam = opts.adam ?? new Adam({ lr: opts.lr ?? 1e-3, beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.9, eps: 1e-7 });
  const names = Object.keys(train);
  const current = (): WeightMap => ({ ...fixed, ...train });
  return {
    adam,
    async step(x, labels) {
      const ws = names.map((n) => train[n]!);
      const { value, grads } = tf.tidy(() => {
        // Weights that do not reach the loss get zero gradients instead of an error.
        const r = tf.engine().gradients(() => {
          const w: WeightMap = { ...fixed };
          names.forEach((n, i) => (w[n] = ws[i]!));
          return softmaxCrossEntropy(model.forward(w, x, { training: true }).logits!, labels);
        }, ws, undefined, true);
        return { value: r.value as tf.Scalar, grads: r.grads.map((g, i) => g ?? tf.zerosLike(ws[i]!)) };
      });
      const g: WeightMap = {};
      names.forEach((n, i) => (g[n] = grads[i]!));
      try {
        adam.apply(train, g); // replaces train[n] with the updated tensors (old ones disposed)
        return ((await value.data()) as Float32Array)[0]!;
      } finally {
        tf.dispose([value, ...grads]);
      }
    },
    weights: current,
    setNonTrainable(entries) {
      for (const [k, t] of Object.entries(entries)) {
        if (isTrainableWeight(k)) throw new FedSegError('INVALID_ARGUMENT', `setNonTrainable: '${k}' is trainable`);
        if (fixed[k] && fixed[k] !== t) fixed[k]!.dispose();
        fixed[k] = t;
      }
    },
    dispose() {
      adam.dispose();
      tf.dispose([...Object.values(train), ...Object.values(fixed)]);
    },
  };
}
