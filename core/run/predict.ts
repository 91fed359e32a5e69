// Prediction with any network, as every caller needs it (Segment view, evaluation, demo overlays):
// network input from network-input.ts, one awaited readback (works on every backend, webgpu too),
// then the output turned into a multi-label mask: sigmoid networks by the reference post-processing
// (docs/algorithms.md §6: probability >= threshold, largest 4-connected component per class); softmax
// networks by arg-max into nested masks (§7; no component filtering, cell images hold many objects).
import { tf } from '../tf/tf.js';
import type { ImageF32, MaskU8 } from '../contract/image.js';
import { softmaxToNestedMask } from '../masks/convert.js';
import { postprocess } from '../metrics/evaluate.js';
import type { Network } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { cropOutput, inferenceInput } from './network-input.js';

/** The reference probability threshold (docs/algorithms.md §6). */
export const DEFAULT_THRESHOLD = 0.75;

export interface Prediction {
  /** HWC probabilities, `net.outputChannels` per pixel. */
  probs: Float32Array;
  mask: MaskU8;
  /** The learned rate field, h*w (ASC networks), else null. */
  rate: Float32Array | null;
}

/** Probabilities of each image (HWC, cropped to the image); rates when `withRate` and the network has them. */
export async function predictProbabilities(net: Network, weights: WeightMap, images: ImageF32[], withRate = false): Promise<{ probs: Float32Array[]; rates: (Float32Array | null)[] }> {
  const inp = inferenceInput(images, net);
  let outs: tf.Tensor[];
  try {
    outs = tf.tidy(() => {
      const o = net.model.forward(weights, inp.x, { training: false });
      return withRate && o.rate ? [o.probs, o.rate] : [o.probs];
    });
  } finally {
    inp.x.dispose();
  }
  try {
    const [p, r] = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    return {
      probs: images.map((_, i) => cropOutput(p!, i, inp, net.outputChannels)),
      rates: images.map((_, i) => (r ? cropOutput(r, i, inp, 1) : null)),
    };
  } finally {
    tf.dispose(outs);
  }
}

/** Probabilities -> the multi-label mask the network predicts (see file header). */
export function toMask(net: Network, probs: Float32Array, h: number, w: number, threshold = DEFAULT_THRESHOLD): MaskU8 {
  return net.output === 'softmax' ? softmaxToNestedMask(probs, h, w, net.spec.classes) : postprocess(probs, h, w, net.spec.classes, threshold);
}

export async function predict(net: Network, weights: WeightMap, images: ImageF32[], opts: { threshold?: number; withRate?: boolean } = {}): Promise<Prediction[]> {
  const { probs, rates } = await predictProbabilities(net, weights, images, opts.withRate ?? false);
  return images.map((im, i) => ({ probs: probs[i]!, mask: toMask(net, probs[i]!, im.height, im.width, opts.threshold), rate: rates[i]! }));
}
