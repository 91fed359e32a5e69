// Evaluation post-processing and per-image metrics (docs/algorithms.md §6, as the FedDG reference
// evaluates, minus its empty-prediction bug):
//   postprocess: sigmoid probability >= threshold (0.75) per class, then keep the largest
//   4-connected component per class; an empty prediction stays empty (the reference turned it into
//   all ones).
//   evaluateMasks: Dice and medpy-HD95 per class.
//
// EMPTY-MASK POLICY (also in docs/numerics.md):
//   pred empty AND gt empty -> dice 1, hd95 0                        (correctly predicted "absent")
//   exactly one empty       -> dice 0, hd95 null ("undefined": medpy raises here). The flags
//                              emptyPred / emptyGt say which; aggregateEvaluations counts these
//                              cases per class (hd95Undefined) and excludes them from the HD95 mean,
//                              so they are reported, never silently skipped.
import { FedSegError } from '../contract/errors.js';
import type { MaskU8 } from '../contract/image.js';
import { keepLargestComponent } from '../morphology/components.js';
import { dice } from './dice.js';
import { hd95 } from './hausdorff.js';

export interface MaskEvaluation {
  dice: number[];
  hd95: (number | null)[];
  emptyPred: boolean[];
  emptyGt: boolean[];
}

/** Thresholds HWC probabilities (>= threshold -> 1) and keeps the largest 4-connected component per class. */
export function postprocess(probs: Float32Array, h: number, w: number, classes: number, threshold = 0.75): MaskU8 {
  if (!Number.isInteger(h) || !Number.isInteger(w) || !Number.isInteger(classes) || h <= 0 || w <= 0 || classes <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `postprocess: dimensions must be positive integers, got ${h}x${w}x${classes}`);
  }
  if (!(probs instanceof Float32Array) || probs.length !== h * w * classes) {
    throw new FedSegError('SHAPE_MISMATCH', `postprocess: probabilities hold ${probs?.length} values, ${h}x${w}x${classes} = ${h * w * classes} expected`);
  }
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    throw new FedSegError('INVALID_ARGUMENT', `postprocess: threshold must be in [0, 1], got ${threshold}`);
  }
  const n = h * w;
  const out = new Uint8Array(n * classes);
  const plane = new Uint8Array(n);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < n; i++) {
      const p = probs[i * classes + c]!;
      if (Number.isNaN(p)) throw new FedSegError('INVALID_INPUT', `postprocess: probability is NaN at pixel ${i}, class ${c}`);
      plane[i] = p >= threshold ? 1 : 0;
    }
    const kept = keepLargestComponent(plane, h, w);
    for (let i = 0; i < n; i++) out[i * classes + c] = kept[i]!;
  }
  return { width: w, height: h, classes, data: out };
}

function checkMaskU8(m: MaskU8, name: string): void {
  const { width: w, height: h, classes: c, data } = m;
  if (!Number.isInteger(h) || !Number.isInteger(w) || !Number.isInteger(c) || h <= 0 || w <= 0 || c <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `evaluateMasks: ${name} dimensions must be positive integers, got ${h}x${w}x${c}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== h * w * c) {
    throw new FedSegError('SHAPE_MISMATCH', `evaluateMasks: ${name} holds ${data?.length} values, ${h}x${w}x${c} expected`);
  }
}

/** Per-class Dice and HD95 (pixel units unless spacing [row, col] is given) with the empty-mask policy above. */
export function evaluateMasks(pred: MaskU8, gt: MaskU8, opts: { spacing?: [number, number] } = {}): MaskEvaluation {
  checkMaskU8(pred, 'prediction');
  checkMaskU8(gt, 'ground truth');
  if (pred.width !== gt.width || pred.height !== gt.height || pred.classes !== gt.classes) {
    throw new FedSegError(
      'SHAPE_MISMATCH',
      `evaluateMasks: prediction is ${pred.height}x${pred.width}x${pred.classes}, ground truth ${gt.height}x${gt.width}x${gt.classes}`,
    );
  }
  const { width: w, height: h, classes: C } = gt;
  const n = h * w;
  const res: MaskEvaluation = { dice: [], hd95: [], emptyPred: [], emptyGt: [] };
  for (let c = 0; c < C; c++) {
    const p = new Uint8Array(n);
    const g = new Uint8Array(n);
    let np = 0;
    let ng = 0;
    for (let i = 0; i < n; i++) {
      const pv = pred.data[i * C + c]!;
      const gv = gt.data[i * C + c]!;
      if (pv > 1 || gv > 1) {
        throw new FedSegError('INVALID_INPUT', `evaluateMasks: ${pv > 1 ? 'prediction' : 'ground truth'} is not binary (value ${pv > 1 ? pv : gv} at pixel ${i}, class ${c})`);
      }
      p[i] = pv;
      g[i] = gv;
      np += pv;
      ng += gv;
    }
    res.emptyPred.push(np === 0);
    res.emptyGt.push(ng === 0);
    res.dice.push(dice(p, g));
    if (np === 0 && ng === 0) res.hd95.push(0);
    else if (np === 0 || ng === 0) res.hd95.push(null);
    else res.hd95.push(hd95(p, g, h, w, opts.spacing));
  }
  return res;
}

export interface EvaluationSummary {
  images: number;
  /** Mean Dice per class over all images (empty-mask cases count with their policy value). */
  meanDice: number[];
  /** Mean HD95 per class over images where it is defined; null if it is defined for none. */
  meanHd95: (number | null)[];
  /** Images per class whose HD95 is undefined (exactly one of prediction / ground truth empty). */
  hd95Undefined: number[];
  emptyPred: number[];
  emptyGt: number[];
}

/** Mean over images per class, counting the empty-mask cases (docs/algorithms.md §6: count, never skip silently). */
export function aggregateEvaluations(list: MaskEvaluation[]): EvaluationSummary {
  if (list.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'aggregateEvaluations: no evaluations given');
  const C = list[0]!.dice.length;
  const sumD = new Array<number>(C).fill(0);
  const sumH = new Array<number>(C).fill(0);
  const nH = new Array<number>(C).fill(0);
  const undef = new Array<number>(C).fill(0);
  const eP = new Array<number>(C).fill(0);
  const eG = new Array<number>(C).fill(0);
  for (const e of list) {
    if (e.dice.length !== C) throw new FedSegError('SHAPE_MISMATCH', `aggregateEvaluations: class counts differ (${e.dice.length} vs ${C})`);
    for (let c = 0; c < C; c++) {
      sumD[c]! += e.dice[c]!;
      const hv = e.hd95[c];
      if (hv === null || hv === undefined) undef[c]!++;
      else {
        sumH[c]! += hv;
        nH[c]!++;
      }
      if (e.emptyPred[c]) eP[c]!++;
      if (e.emptyGt[c]) eG[c]!++;
    }
  }
  return {
    images: list.length,
    meanDice: sumD.map((s) => s / list.length),
    meanHd95: sumH.map((s, c) => (nH[c]! > 0 ? s / nH[c]! : null)),
    hd95Undefined: undef,
    emptyPred: eP,
    emptyGt: eG,
  };
}
