// ASCNet-N and its baselines (Zhang et al., ISBI 2020, arXiv 1907.03241, §2-3, Table 1; docs/algorithms.md §7).
//
// All four are N full-resolution 3x3 layers, no pooling, no skips. Layers 1..N-1: conv -> BatchNorm ->
// ReLU; layer N: conv -> logits (linear) -> softmax over `classes` (background included). Option
// `head: 'bn-relu'`: layer N is conv -> BN -> ReLU like the others, as in the authors' TF1 code (its
// conv op applies BN and ReLU by default and the class layer does not turn them off; docs/ascnet.md).
// - 'ascnet-7' : 7 ASC layers, 8 channels (layers 1-6), one shared rate field (core/models/rate-field.ts).
// - 'ascnet-14': 14 ASC layers, 32 channels (layers 1-13), one shared rate field.
// - 'cnn-7'    : classic CNN, 7 plain 3x3 convs, 8 channels.
// - 'dilated-7': dilated CNN, rates 1,1,2,4,8,16,1, 8 channels (dilated conv through the ASC op with a
//                constant rate, so it trains on wasm where tfjs has no dilated-conv gradient).
// Training (core/losses/cross-entropy.ts, core/train/softmax-step.ts): softmax cross-entropy, Adam lr
// 1e-3, beta1 0.9, beta2 0.9, batch 2. Filters Glorot-uniform, biases 0, BN gamma 1 / beta 0.
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
  /** Last layer: 'linear' logits (default) or conv -> BN -> ReLU logits (the authors' code). */
  head?: 'linear' | 'bn-relu';
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
  const head = cfg.head ?? 'linear';
  if (head !== 'linear' && head !== 'bn-relu') throw new FedSegError('INVALID_ARGUMENT', `createAscNet: head must be linear or bn-relu, got ${String(head)}`);
  return { kind: cfg.kind, inChannels: int(cfg.inChannels, 'inChannels', 1, 64), classes: int(cfg.classes, 'classes', 2, 64), impl, rateBeta, head };
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
    if (!l.last || c.head === 'bn-relu') shapes.push(...bnShapes(`layer${i + 1}.bn`, l.cout));
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
        h = l.last && c.head === 'linear' ? y : tf.relu(batchNorm(y, weights, `${name}.bn`, opts));
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
