// Model evaluation on a set of samples with the reference protocol (ALGORITHMS.md §6): sigmoid
// probabilities >= 0.75, largest 4-connected component per class (empty stays empty), per-image Dice
// and medpy-style HD95, mean over images per class with the empty-mask cases counted
// (core/metrics/evaluate.ts: postprocess, evaluateMasks, aggregateEvaluations).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { MaskU8, Sample } from '../contract/image.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import { postprocess, evaluateMasks, aggregateEvaluations, type EvaluationSummary, type MaskEvaluation } from '../metrics/evaluate.js';
import { checkSamples, imagesToTensor } from './batch.js';

export type { EvaluationSummary, MaskEvaluation };

export interface EvaluateOptions {
  /** Probability threshold. Default 0.75 (reference). */
  threshold?: number;
  /** Images per forward pass. Default 4. */
  batchSize?: number;
  /** Pixel spacing [row, col] in mm for HD95; pixels if absent. */
  spacing?: [number, number];
  signal?: AbortSignal;
  /** Called after each batch with (images done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Also return the post-processed predicted masks (for viewers). Default false. */
  keepPredictions?: boolean;
}

export interface ModelEvaluation extends EvaluationSummary {
  /** Per-image results, in sample order. */
  perImage: { name: string; result: MaskEvaluation }[];
  predictions?: MaskU8[];
}

/**
 * Predicted probabilities [B,H,W,classes] as a Float32Array per image (HWC). Synchronous readback: not
 * on webgpu in Node (throws FedSegError UNSUPPORTED there); use predictProbabilitiesAsync.
 */
export function predictProbabilities(model: SegModel, weights: WeightMap, images: Sample['image'][]): Float32Array[] {
  const probs = forwardProbs(model, weights, images);
  try {
    return splitPerImage(probs.dataSync() as Float32Array, images.length);
  } finally {
    probs.dispose();
  }
}

/** predictProbabilities with one awaited readback (every backend, webgpu included). Same result. */
export async function predictProbabilitiesAsync(model: SegModel, weights: WeightMap, images: Sample['image'][]): Promise<Float32Array[]> {
  const probs = forwardProbs(model, weights, images);
  try {
    return splitPerImage((await probs.data()) as Float32Array, images.length);
  } finally {
    probs.dispose();
  }
}

function forwardProbs(model: SegModel, weights: WeightMap, images: Sample['image'][]): tf.Tensor {
  const x = imagesToTensor(images);
  try {
    return tf.tidy(() => model.forward(weights, x, { training: false }).probs);
  } finally {
    x.dispose();
  }
}

function splitPerImage(all: Float32Array, n: number): Float32Array[] {
  const per = all.length / n;
  return Array.from({ length: n }, (_, i) => all.slice(i * per, (i + 1) * per));
}

/** Evaluates `weights` on `samples`: per-class mean Dice / HD95 with empty-mask counts, plus per-image results. */
export async function evaluateModel(model: SegModel, weights: WeightMap, samples: Sample[], opts: EvaluateOptions = {}): Promise<ModelEvaluation> {
  const [h, w] = checkSamples(samples, model, 'evaluateModel');
  const threshold = opts.threshold ?? 0.75;
  const bs = opts.batchSize ?? 4;
  if (!Number.isInteger(bs) || bs < 1) throw new FedSegError('INVALID_ARGUMENT', `evaluateModel: batchSize must be a positive integer, got ${bs}`);
  const perImage: ModelEvaluation['perImage'] = [];
  const predictions: MaskU8[] = [];
  for (let i = 0; i < samples.length; i += bs) {
    if (opts.signal?.aborted) throw new FedSegError('CANCELLED', 'evaluation cancelled');
    const batch = samples.slice(i, i + bs);
    const probs = await predictProbabilitiesAsync(model, weights, batch.map((s) => s.image));
    batch.forEach((s, j) => {
      const pred = postprocess(probs[j]!, h, w, model.classes, threshold);
      if (opts.keepPredictions) predictions.push(pred);
      perImage.push({ name: s.name, result: evaluateMasks(pred, s.mask, opts.spacing ? { spacing: opts.spacing } : {}) });
    });
    opts.onProgress?.(Math.min(i + bs, samples.length), samples.length);
    await new Promise((r) => setImmediate(r));
  }
  return { ...aggregateEvaluations(perImage.map((p) => p.result)), perImage, ...(opts.keepPredictions ? { predictions } : {}) };
}
