// The ASCNet experiment on any dataset (Zhang et al., ISBI 2020, Table 1; docs/algorithms.md §7-8;
// docs/ascnet.md "Cross-validation on a stored dataset"): k-fold cross-validation (core/asc/folds.ts)
// of the classic CNN, the dilated CNN and ASCNet-7/-14. Per fold every model trains on the other folds
// through the run API (core/run/local-run.ts: softmax cross-entropy, Adam lr 1e-3 / beta2 0.9, batch 2,
// the same batch sequence for every model, batch-norm calibration at the end) and is evaluated on the
// held-out fold: per mask class (for nested masks channel c = "class >= c + 1": cell, nucleus) the mean
// per-image Dice / precision / recall and the pooled Dice over all held-out pixels (the reference
// code's Dice pools each batch of two images), mean +- std over folds. Per class, the ground-truth
// objects of the held-out images are split into size terciles (core/asc/size-terciles.ts; cut points
// from the whole dataset's ground truth, objects pooled over folds: every image is held out once) with
// the object Dice per tercile for every model and the learned rate inside the objects for ASC models.
// Images keep their channels (RGB stays RGB) unless `grey` asks for luma (ITU-R BT.601 weights).
import { performance } from 'node:perf_hooks';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32, Sample } from '../contract/image.js';
import { resizeImageBilinear, resizeMaskNearest } from '../data/resize.js';
import { maskPlane } from '../masks/convert.js';
import { ASCNET_KINDS, type AscNetKind } from '../models/ascnet.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights } from '../models/weight-map.js';
import { mixSeed } from '../rng.js';
import { runLocal } from '../run/local-run.js';
import { predict } from '../run/predict.js';
import { assignFolds, foldSplit } from './folds.js';
import { objectRecords, tercileCuts, tercileSummary, type ObjectRecord, type TercileSummary } from './size-terciles.js';

export const DEFAULT_ASC_MODELS: readonly AscNetKind[] = ['cnn-7', 'dilated-7', 'ascnet-7', 'ascnet-14'];

export interface CvOptions {
  models: AscNetKind[];
  folds: number;
  /** Adam steps per model and fold. */
  steps: number;
  seed: number;
  lr?: number;
  /** Default 2 (the paper). */
  batchSize?: number;
  /** Luma instead of the stored channels. */
  grey?: boolean;
  /** Resample every image (bilinear) and mask (nearest) to size x size first. */
  size?: number;
  /** Network input normalisation (core/contract/model-spec.ts InputSpec); default 'none'. */
  normalise?: 'none' | 'zscore';
  /** Initial beta of the rate field's last batch norm (docs/ascnet.md); default 1, the reference code 0. */
  rateBeta?: number;
}

export interface CvDataset {
  name: string;
  /** One name per mask channel. */
  classNames: string[];
  samples: Sample[];
}

export interface Stat {
  mean: number;
  /** Sample standard deviation over folds (0 for one value). */
  std: number;
}

export interface FoldClassMetrics {
  dice: number;
  precision: number;
  recall: number;
  pooledDice: number;
}

export interface CvClassResult {
  name: string;
  dice: Stat;
  precision: Stat;
  recall: Stat;
  pooledDice: Stat;
  perFold: FoldClassMetrics[];
}

export interface CvModelResult {
  model: AscNetKind;
  classes: CvClassResult[];
  /** Per class: objects of the held-out images pooled over folds. */
  terciles: (TercileSummary & { className: string })[];
  /** Median rate over all held-out pixels, per fold (ASC models), else null. */
  medianRate: Stat | null;
  trainSeconds: number[];
  finalLoss: number[];
}

export interface CvResult {
  dataset: { name: string; images: number; width: number; height: number; channels: number; classNames: string[] };
  options: CvOptions & { batchSize: number };
  backend: string;
  /** Held-out sample names per fold. */
  folds: string[][];
  models: CvModelResult[];
}

const hasRate = (k: AscNetKind) => k.startsWith('ascnet');

/** Luma (0.299 R + 0.587 G + 0.114 B) of a 3-channel image; other channel counts are returned as they are. */
export function toLuma(im: ImageF32): ImageF32 {
  if (im.channels !== 3) return im;
  const n = im.width * im.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.299 * im.data[3 * i]! + 0.587 * im.data[3 * i + 1]! + 0.114 * im.data[3 * i + 2]!;
  return { width: im.width, height: im.height, channels: 1, data: out };
}

/** Mean and sample standard deviation. */
export function meanStd(v: readonly number[]): Stat {
  if (v.length === 0) return { mean: NaN, std: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std };
}

/**
 * Checks that the masks suit a softmax network: one class count, and nested (each channel inside the
 * one before it, as cell ⊇ nucleus; up to 1% of a channel's pixels may stick out, annotation noise).
 */
export function checkSoftmaxMasks(samples: readonly Sample[], classes: number, what: string): void {
  const out = new Float64Array(classes);
  const tot = new Float64Array(classes);
  for (const s of samples) {
    if (s.mask.classes !== classes) throw new FedSegError('SHAPE_MISMATCH', `${what}: '${s.name}' has ${s.mask.classes} mask class(es), the dataset ${classes}`);
    const d = s.mask.data;
    for (let i = 0; i < d.length; i += classes)
      for (let c = 1; c < classes; c++) {
        if (!d[i + c]) continue;
        tot[c]!++;
        if (!d[i + c - 1]) out[c]!++;
      }
  }
  for (let c = 1; c < classes; c++)
    if (out[c]! > 0.01 * tot[c]!)
      throw new FedSegError('INVALID_INPUT', `${what}: mask class ${c} is not inside class ${c - 1} (${((100 * out[c]!) / tot[c]!).toFixed(1)}% of its pixels lie outside); ASCNet and its baselines need nested masks (cell ⊇ nucleus); train a U-Net for independent structures`);
}

/** The samples as the networks will see them (resampled, luma), all one size. */
export function prepareSamples(samples: readonly Sample[], o: Pick<CvOptions, 'grey' | 'size'>): Sample[] {
  const out = samples.map((s) => {
    let image = s.image;
    let mask = s.mask;
    if (o.size !== undefined && (image.width !== o.size || image.height !== o.size)) {
      image = resizeImageBilinear(image, o.size, o.size);
      mask = resizeMaskNearest(mask, o.size, o.size);
    }
    if (o.grey) image = toLuma(image);
    return { name: s.name, image, mask };
  });
  const a = out[0]?.image;
  const odd = a && out.find((s) => s.image.width !== a.width || s.image.height !== a.height || s.image.channels !== a.channels);
  if (odd) throw new FedSegError('SHAPE_MISMATCH', `image '${odd.name}' is ${odd.image.width}x${odd.image.height}x${odd.image.channels}, others ${a.width}x${a.height}x${a.channels}; resample them to one size (--size N)`);
  return out;
}

export interface Counts {
  tp: number;
  p: number;
  g: number;
}

/** True positives, predicted and ground-truth pixel counts of two binary masks. */
export function count(pred: Uint8Array, gt: Uint8Array): Counts {
  let tp = 0;
  let p = 0;
  let g = 0;
  for (let i = 0; i < pred.length; i++) {
    tp += pred[i]! & gt[i]!;
    p += pred[i]!;
    g += gt[i]!;
  }
  return { tp, p, g };
}

function median(v: Float32Array): number {
  const s = v.slice().sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * Per-image Dice (both empty = 1) averaged over all images; precision averaged over the images with a
 * non-empty prediction, recall over those with a non-empty ground truth (an undefined ratio is left
 * out, not counted as 0); pooled Dice over all pixels of the images. NaN where nothing is defined.
 */
export function foldMetrics(perImage: readonly Counts[]): FoldClassMetrics {
  let dice = 0;
  let prec = 0;
  let np = 0;
  let rec = 0;
  let ng = 0;
  let tp = 0;
  let ps = 0;
  for (const c of perImage) {
    dice += c.p + c.g ? (2 * c.tp) / (c.p + c.g) : 1;
    if (c.p) {
      prec += c.tp / c.p;
      np++;
    }
    if (c.g) {
      rec += c.tp / c.g;
      ng++;
    }
    tp += c.tp;
    ps += c.p + c.g;
  }
  return { dice: dice / perImage.length, precision: np ? prec / np : NaN, recall: ng ? rec / ng : NaN, pooledDice: ps ? (2 * tp) / ps : 1 };
}

export function checkCvOptions(o: CvOptions): void {
  const int = (v: number, what: string, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new FedSegError('INVALID_ARGUMENT', `asc experiment: ${what} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  int(o.folds, '--folds', 2, 100);
  int(o.steps, '--steps', 1, 1e7);
  int(o.batchSize ?? 2, 'batch size', 1, 64);
  if (o.size !== undefined) int(o.size, '--size', 16, 1024);
  if (!Number.isFinite(o.seed)) throw new FedSegError('INVALID_ARGUMENT', '--seed must be a number');
  if (o.models.length === 0) throw new FedSegError('INVALID_ARGUMENT', '--models is empty');
  for (const m of o.models) if (!ASCNET_KINDS.includes(m)) throw new FedSegError('INVALID_ARGUMENT', `--models: unknown model '${m}' (use ${ASCNET_KINDS.join(', ')})`);
  if (o.rateBeta !== undefined && !Number.isFinite(o.rateBeta)) throw new FedSegError('INVALID_ARGUMENT', '--rate-beta must be a number');
}

/** Runs the cross-validation on the current backend; `log` gets progress lines. */
export async function runCrossValidation(ds: CvDataset, o: CvOptions, backend: string, log: (line: string) => void = () => {}): Promise<CvResult> {
  checkCvOptions(o);
  const batchSize = o.batchSize ?? 2;
  if (ds.samples.length === 0) throw new FedSegError('INVALID_INPUT', `dataset '${ds.name}' has no images with masks`);
  const classes = ds.samples[0]!.mask.classes;
  if (ds.classNames.length !== classes) throw new FedSegError('SHAPE_MISMATCH', `dataset '${ds.name}' names ${ds.classNames.length} class(es) but its masks have ${classes}`);
  checkSoftmaxMasks(ds.samples, classes, `dataset '${ds.name}'`);
  const samples = prepareSamples(ds.samples, o);
  const fold = assignFolds(samples.length, o.folds, o.seed);
  const splits = Array.from({ length: o.folds }, (_, f) => foldSplit(fold, f));
  for (const [f, s] of splits.entries())
    if (s.train.length < batchSize) throw new FedSegError('INVALID_INPUT', `fold ${f + 1} has ${s.train.length} training image(s), fewer than the batch size ${batchSize}; use fewer folds or more images`);
  const { width: w, height: h, channels } = samples[0]!.image;
  // Tercile cut points per class from the whole dataset's ground truth (fixed before any training).
  const planes = samples.map((s) => Array.from({ length: classes }, (_, c) => maskPlane(s.mask, c)));
  const cuts = Array.from({ length: classes }, (_, c) => {
    const areas = planes.flatMap((p) => objectRecords(p[c]!, p[c]!, h, w).map((x) => x.area));
    return areas.length ? tercileCuts(areas) : null;
  });

  const models: CvModelResult[] = [];
  for (const kind of o.models) {
    const perFold: FoldClassMetrics[][] = Array.from({ length: classes }, () => []);
    const objects: ObjectRecord[][] = Array.from({ length: classes }, () => []);
    const medRates: number[] = [];
    const trainSeconds: number[] = [];
    const finalLoss: number[] = [];
    for (let f = 0; f < o.folds; f++) {
      const { train, test } = splits[f]!;
      const net = buildNetwork({ kind, inChannels: channels, classes, input: { normalise: o.normalise ?? 'none' }, config: { rateBeta: o.rateBeta ?? 1 } });
      const t0 = performance.now();
      let ema = NaN;
      const every = Math.max(1, Math.floor(o.steps / 5));
      const perEpoch = Math.ceil(train.length / batchSize);
      // The same seed for every model of a fold: the same initial batch sequence.
      const res = await runLocal({
        net, name: kind, keepWeights: true,
        sites: [{ site: `fold-${f + 1}-train`, train: train.map((i) => samples[i]!), val: [] }],
        config: { epochs: Math.ceil(o.steps / perEpoch), batchSize, learningRate: o.lr ?? 1e-3, seed: mixSeed(o.seed, f), elcfs: false, maxSteps: o.steps },
        onProgress: (p) => {
          if (p.phase !== 'training') return;
          const loss = p.losses.total!;
          if (!Number.isFinite(loss)) throw new FedSegError('NUMERIC_ERROR', `asc experiment: ${kind} loss is ${loss} at step ${p.step} of fold ${f + 1}`);
          ema = Number.isNaN(ema) ? loss : 0.95 * ema + 0.05 * loss;
          if (p.step % every === 0 || p.step === p.totalSteps) log(`${kind} fold ${f + 1}/${o.folds}: step ${p.step}/${p.totalSteps} loss ${ema.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        },
      });
      trainSeconds.push((performance.now() - t0) / 1000);
      finalLoss.push(ema);
      const weights = res.weights!;
      try {
        const counts: Counts[][] = Array.from({ length: classes }, () => []);
        const rates: Float32Array[] = [];
        for (let i = 0; i < test.length; i += 8) {
          const idx = test.slice(i, i + 8);
          const preds = await predict(net, weights, idx.map((j) => samples[j]!.image), { withRate: hasRate(kind) });
          preds.forEach((p, b) => {
            const gt = planes[idx[b]!]!;
            if (p.rate) rates.push(p.rate);
            for (let c = 0; c < classes; c++) {
              const pc = maskPlane(p.mask, c);
              counts[c]!.push(count(pc, gt[c]!));
              objects[c]!.push(...objectRecords(gt[c]!, pc, h, w, p.rate));
            }
          });
        }
        for (let c = 0; c < classes; c++) perFold[c]!.push(foldMetrics(counts[c]!));
        if (rates.length) {
          const all = new Float32Array(rates.length * w * h);
          rates.forEach((r, k) => all.set(r, k * w * h));
          medRates.push(median(all));
        }
      } finally {
        disposeWeights(weights);
      }
      const d = perFold.map((pf, c) => `${ds.classNames[c]} ${pf.at(-1)!.dice.toFixed(3)}`).join(', ');
      log(`${kind} fold ${f + 1}/${o.folds}: Dice ${d}`);
    }
    models.push({
      model: kind,
      classes: perFold.map((pf, c) => ({
        name: ds.classNames[c]!, perFold: pf,
        dice: meanStd(pf.map((x) => x.dice)), precision: meanStd(pf.map((x) => x.precision).filter((x) => !Number.isNaN(x))),
        recall: meanStd(pf.map((x) => x.recall).filter((x) => !Number.isNaN(x))), pooledDice: meanStd(pf.map((x) => x.pooledDice)),
      })),
      terciles: cuts.flatMap((cut, c) => (cut ? [{ className: ds.classNames[c]!, ...tercileSummary(objects[c]!, cut) }] : [])),
      medianRate: medRates.length ? meanStd(medRates) : null,
      trainSeconds,
      finalLoss,
    });
  }
  return {
    dataset: { name: ds.name, images: samples.length, width: w, height: h, channels, classNames: ds.classNames },
    options: { ...o, batchSize },
    backend,
    folds: splits.map((s) => s.test.map((i) => samples[i]!.name)),
    models,
  };
}

const pm = (s: Stat) => (Number.isNaN(s.mean) ? '-' : `${s.mean.toFixed(3)} ± ${s.std.toFixed(3)}`);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((x, i) => Math.max(x.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) => '| ' + c.map((v, i) => v.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

/** Per model and class: mean ± std over folds. */
export function formatCvTable(r: CvResult): string {
  const rows = r.models.flatMap((m) => m.classes.map((c) => [
    m.model, c.name, pm(c.dice), pm(c.precision), pm(c.recall), pm(c.pooledDice), m.medianRate ? pm(m.medianRate) : '-',
    (m.trainSeconds.reduce((a, b) => a + b, 0) / m.trainSeconds.length).toFixed(0),
  ]));
  return table(['model', 'class', 'Dice', 'precision', 'recall', 'pooled Dice', 'median rate', 'train s/fold'], rows);
}

const f3 = (v: number | null, d = 3) => (v === null ? '-' : v.toFixed(d));

/** Per model, class and size tercile: object Dice and recall; rates for ASC models. */
export function formatTercileTable(models: readonly { model: string; terciles: CvModelResult['terciles'] }[]): string {
  const rows = models.flatMap((m) => m.terciles.flatMap((t) => t.terciles.map((x) => [
    m.model, t.className, x.tercile, String(x.objects), x.minArea === null ? '-' : `${x.minArea}-${x.maxArea}`, f3(x.dice), f3(x.recall), f3(x.medianRate, 2), f3(x.meanRate, 2),
  ])));
  return table(['model', 'class', 'size tercile', 'objects', 'area px', 'object Dice', 'recall', 'median rate', 'mean rate'], rows);
}

/** One line per ASC model and class: do the rates grow with object size? */
export function formatRateGrowth(models: readonly { model: string; terciles: CvModelResult['terciles'] }[]): string[] {
  return models.flatMap((m) => m.terciles.filter((t) => t.rateGrowsWithSize !== null).map((t) =>
    `${m.model} ${t.className}: rate grows with size: ${t.rateGrowsWithSize ? 'yes' : 'no'} (median ${t.terciles.map((x) => f3(x.medianRate, 2)).join(' / ')} small / medium / large; Spearman rho area vs mean rate ${f3(t.spearman, 2)})`));
}
