// Evaluation of any network on a set of samples with the reference protocol (docs/algorithms.md §6):
// prediction as predict.ts makes it (the same input, post-processing and masks as the Segment view),
// per-image Dice and medpy-style HD95 (in mm where a sample records its pixel spacing, else pixels),
// mean over images per class with the empty-mask cases counted (core/metrics/evaluate.ts policy).
import { FedSegError } from '../contract/errors.js';
import type { MaskU8, Sample } from '../contract/image.js';
import { aggregateEvaluations, evaluateMasks, type EvaluationSummary, type MaskEvaluation } from '../metrics/evaluate.js';
import type { Network } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { DEFAULT_THRESHOLD, predict } from './predict.js';

export type { EvaluationSummary, MaskEvaluation };

/** A sample, optionally with its pixel spacing [row, col] in mm (NIfTI imports record it). */
export type EvalSample = Sample & { spacing?: [number, number] | null };

export interface EvaluateOptions {
  /** Sigmoid probability threshold (default 0.75, the reference). */
  threshold?: number;
  /** Images per forward pass (default 4). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after each batch with (images done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Also return the predicted masks (viewers, reports). */
  keepPredictions?: boolean;
}

export interface NetworkEvaluation extends EvaluationSummary {
  /** Per-image results, in sample order. */
  perImage: { name: string; result: MaskEvaluation }[];
  predictions?: MaskU8[];
  /** 'mm' when every sample records its spacing, else 'px'. */
  hd95Unit: 'mm' | 'px';
}

/** Scores one predicted mask against a sample's ground truth (the Segment view and evaluation share this). */
export function scoreSample(pred: MaskU8, sample: EvalSample): MaskEvaluation {
  return evaluateMasks(pred, sample.mask, sample.spacing ? { spacing: sample.spacing } : {});
}

export async function evaluateNetwork(net: Network, weights: WeightMap, samples: EvalSample[], opts: EvaluateOptions = {}): Promise<NetworkEvaluation> {
  if (samples.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'evaluation: no samples');
  const bs = opts.batchSize ?? 4;
  if (!Number.isInteger(bs) || bs < 1) throw new FedSegError('INVALID_ARGUMENT', `evaluation: batchSize must be a positive integer, got ${bs}`);
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  for (const s of samples)
    if (s.mask.classes !== net.spec.classes)
      throw new FedSegError('SHAPE_MISMATCH', `evaluation: '${s.name}' has ${s.mask.classes} mask class(es), the model predicts ${net.spec.classes}`);
  const perImage: NetworkEvaluation['perImage'] = [];
  const predictions: MaskU8[] = [];
  for (let i = 0; i < samples.length; i += bs) {
    if (opts.signal?.aborted) throw new FedSegError('CANCELLED', 'evaluation cancelled');
    const batch = samples.slice(i, i + bs);
    const preds = await predict(net, weights, batch.map((s) => s.image), { threshold });
    batch.forEach((s, j) => {
      const mask = preds[j]!.mask;
      if (opts.keepPredictions) predictions.push(mask);
      perImage.push({ name: s.name, result: scoreSample(mask, s) });
    });
    opts.onProgress?.(Math.min(i + bs, samples.length), samples.length);
    await new Promise((r) => setImmediate(r));
  }
  return {
    ...aggregateEvaluations(perImage.map((p) => p.result)),
    perImage,
    hd95Unit: samples.every((s) => s.spacing) ? 'mm' : 'px',
    ...(opts.keepPredictions ? { predictions } : {}),
  };
}

/** An evaluation as wire metrics: dice_c<k>, hd95_c<k> (omitted when undefined), counts. */
export function evaluationMetrics(ev: { meanDice: number[]; meanHd95: (number | null)[]; hd95Undefined: number[]; emptyPred: number[] }): Record<string, number> {
  const m: Record<string, number> = {};
  ev.meanDice.forEach((d, c) => (m[`dice_c${c}`] = d));
  ev.meanHd95.forEach((h, c) => {
    if (h !== null && Number.isFinite(h)) m[`hd95_c${c}`] = h;
  });
  ev.hd95Undefined.forEach((n, c) => (m[`hd95_undefined_c${c}`] = n));
  ev.emptyPred.forEach((n, c) => (m[`empty_pred_c${c}`] = n));
  return m;
}
