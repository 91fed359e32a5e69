// ASC U-Net: the reference FedDG U-Net (docs/algorithms.md §3, core/models/unet.ts) with every 3x3 conv
// replaced by an adaptive-scale conv (ASCNet, Zhang et al., ISBI 2020, Eq. 3-6; docs/algorithms.md §7
// "a U-Net whose 3x3 convs are ASC layers (sharing one rate field) is a natural option for FedDG").
//
// One rate field r (rate-field.ts: 3 x conv3x3+BN+ReLU, 8 -> 4 -> 1) runs on the input image at full
// resolution; a layer at 1/2^l resolution uses rescaleRate(r, l) (2^l-block mean / 2^l), so every ASC
// layer samples at the same distance in input pixels. 1x1 convs, instance norms, pooling, upsampling,
// skips, the sigmoid head and Z (= `features`, 2*baseWidth channels, 32 for base 16) are exactly the
// U-Net's, and so are the weight names and shapes (an ASC filter has the conv's [3,3,Cin,Cout] shape):
// the map is the U-Net's plus `rate.*`. init(seed) gives the same conv weights as createUNet(...).init(seed).
// Batch-norm running statistics of the rate field: see rate-field.ts (`calibrateBatchNorm` before
// inference; optimisers skip the `.running_*` entries, `isTrainableWeight`).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import { createRng, mixSeed } from '../rng.js';
import type { ForwardOutput, WeightMap } from './seg-model.js';
import { createUNet, instanceNorm, resolveUNetConfig, unetWeightShapes, upsampleNearest2x, type ResolvedUNetConfig, type UNetConfig } from './unet.js';
import { ascConv2d, type AscImpl } from './asc-conv.js';
import { checkWeights, getWeight, initRateField, isTrainableWeight, rateFieldForward, rateFieldShapes, rescaleRate, type NormOptions, type ParamShape } from './rate-field.js';

export interface AscUNetConfig extends UNetConfig {
  /** ASC implementation (asc-conv.ts), default 'auto'. */
  impl?: AscImpl;
  /** Initial beta of the rate field's last BN (r starts near it), default 1. */
  rateBeta?: number;
}

export interface AscUNetModel {
  readonly kind: 'asc-unet';
  readonly inChannels: number;
  readonly classes: number;
  readonly config: ResolvedUNetConfig & { impl: AscImpl; rateBeta: number };
  readonly shapes: ParamShape[];
  /** Trainable parameters (running statistics excluded). */
  readonly paramCount: number;
  init(seed: number): WeightMap;
  forward(weights: WeightMap, x: tf.Tensor4D, opts?: NormOptions): ForwardOutput;
}

/** The U-Net of unet.ts with ASC 3x3 layers sharing one rate field (see file header). */
export function createAscUNet(config: AscUNetConfig): AscUNetModel {
  const base = resolveUNetConfig(config);
  const impl = config.impl ?? 'auto';
  if (!['auto', 'ops', 'fused'].includes(impl)) throw new FedSegError('INVALID_ARGUMENT', `createAscUNet: impl must be auto, ops or fused, got ${String(impl)}`);
  const rateBeta = config.rateBeta ?? 1;
  if (!Number.isFinite(rateBeta)) throw new FedSegError('INVALID_ARGUMENT', 'createAscUNet: rateBeta must be finite');
  const c = { ...base, impl, rateBeta };
  const unet = createUNet(base);
  const shapes: ParamShape[] = [...rateFieldShapes(c.inChannels), ...unetWeightShapes(base).map((s) => ({ ...s }))];
  const paramCount = shapes.filter((s) => isTrainableWeight(s.name)).reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0);
  const act = (x: tf.Tensor4D): tf.Tensor4D => (c.activation === 'relu' ? tf.relu(x) : tf.softplus(x));
  const pool = (x: tf.Tensor4D): tf.Tensor4D => (c.pooling === 'max' ? tf.maxPool(x, 2, 2, 'valid') : tf.avgPool(x, 2, 2, 'valid'));
  const down = 2 ** (c.depth - 1);

  function forward(weights: WeightMap, x: tf.Tensor4D, opts: NormOptions = {}): ForwardOutput {
    if (!x || x.rank !== 4) throw new FedSegError('SHAPE_MISMATCH', `ASC U-Net forward: input must be [B,H,W,C], got rank ${x?.rank}`);
    const [, h, w, ch] = x.shape;
    if (ch !== c.inChannels) throw new FedSegError('SHAPE_MISMATCH', `ASC U-Net forward: input has ${ch} channels, model expects ${c.inChannels}`);
    if (h % down !== 0 || w % down !== 0) throw new FedSegError('SHAPE_MISMATCH', `ASC U-Net forward: input ${h}x${w} must be divisible by ${down} (2^(depth-1), depth ${c.depth})`);
    checkWeights(weights, shapes, 'ASC U-Net forward');
    return tf.tidy(() => {
      const rate = rateFieldForward(weights, x, opts);
      const rates: tf.Tensor4D[] = [rate];
      const rateAt = (level: number): tf.Tensor4D => {
        while (rates.length <= level) rates.push(rescaleRate(rates[rates.length - 1]!, 1));
        return rates[level]!;
      };
      const asc = (name: string, h1: tf.Tensor4D, level: number) =>
        ascConv2d(h1, rateAt(level), getWeight(weights, `${name}.weight`) as tf.Tensor4D, getWeight(weights, `${name}.bias`) as tf.Tensor1D, { impl: c.impl });
      const conv1x1 = (name: string, h1: tf.Tensor4D) =>
        tf.add(tf.conv2d(h1, getWeight(weights, `${name}.weight`) as tf.Tensor4D, 1, 'same'), getWeight(weights, `${name}.bias`)) as tf.Tensor4D;
      const skips: tf.Tensor4D[] = [];
      let h1: tf.Tensor4D = x;
      for (let i = 1; i <= c.depth; i++) {
        const level = i - 1;
        if (i > 1) h1 = pool(h1);
        h1 = instanceNorm(asc(`convd${i}.conv1`, h1, level));
        h1 = act(instanceNorm(asc(`convd${i}.conv2`, h1, level)));
        h1 = act(instanceNorm(asc(`convd${i}.conv3`, h1, level)));
        skips.push(h1);
      }
      let y = skips[c.depth - 1]!;
      for (let j = c.depth - 1; j >= 1; j--) {
        if (j !== c.depth - 1) y = act(instanceNorm(asc(`convu${j}.conv1`, y, j)));
        const u = act(instanceNorm(conv1x1(`convu${j}.conv2`, upsampleNearest2x(y))));
        y = tf.concat([skips[j - 1]!, u], 3);
        y = act(instanceNorm(asc(`convu${j}.conv3`, y, j - 1)));
      }
      const logits = conv1x1('seg1', y);
      return { probs: tf.sigmoid(logits) as tf.Tensor4D, features: y, logits, rate };
    });
  }

  return {
    kind: 'asc-unet',
    inChannels: c.inChannels,
    classes: c.classes,
    config: c,
    shapes,
    paramCount,
    init(seed: number): WeightMap {
      const w = unet.init(seed);
      return { ...initRateField(createRng(mixSeed(seed, 0x0a5c)), c.inChannels, 'rate', c.rateBeta), ...w };
    },
    forward,
  };
}
