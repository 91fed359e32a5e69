// The real SiteTrainer: the site's samples come from its own store; local training is D's learner
// (core/train/local-training.ts: ELCFS episodic meta step or plain FedAvg Dice step, ALGORITHMS.md §1,
// §4-5) with the site's Adam state kept across rounds in the store (never averaged, survives a crash);
// spectrum windows are B's CFSI low-frequency amplitude windows (§2, extractAmplitudeWindow: only the
// (2b+1)^2 x C window per image, b >= 1 unless alpha = 0); evaluation is the reference protocol (§6).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { ModelSpec } from '../contract/hub-protocol.js';
import type { Sample } from '../contract/image.js';
import { decodeWeights, encodeWeights, type NamedArray } from '../contract/weights.js';
import { alphaForHalfWidth, extractAmplitudeWindow, windowHalfWidth } from '../freq/amplitude-interpolation.js';
import { weightsToNamedArraysAsync } from '../models/model-io.js';
import { createUNet } from '../models/unet.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import { createRng } from '../rng.js';
import type { DatasetStore, SampleSplit } from '../store/dataset-store.js';
import { Adam } from '../train/adam.js';
import { evaluateModel } from '../train/evaluate.js';
import { trainLocal } from '../train/local-training.js';
import type { EvaluateRequest, EvaluateResult, SiteTrainer, SpectrumWindow, TrainRequest, TrainResult } from './trainer.js';

export interface LearnerTrainerOptions {
  store: DatasetStore;
  /** Dataset (id or name) in the store. */
  dataset: number | string;
  /** This site's name (kept out of its own meta-test spectra). */
  site: string;
  /** Backend name reported to the hub (from describeBackend). */
  backend: string;
  /** Split to train on (default 'train'; all samples when the dataset has no such split). */
  trainSplit?: SampleSplit;
  /** Split to evaluate on (default 'test'; all samples when absent). */
  evalSplit?: SampleSplit;
  /** Seeds local shuffling / CFSI draws (mixed with the round). */
  seed?: number;
}

const ADAM_CHECKPOINT = 'federation-adam';

/** CFSI half-width rule (ALGORITHMS.md §2): b = floor(min(H,W) alpha), at least 1 unless alpha = 0. */
export function effectiveAlpha(h: number, w: number, alpha: number): number {
  if (alpha === 0) return 0;
  return windowHalfWidth(h, w, alpha) >= 1 ? alpha : alphaForHalfWidth(h, w, 1);
}

function buildModel(spec: ModelSpec): SegModel {
  if (spec.kind !== 'unet') throw new FedSegError('UNSUPPORTED', `this site can build 'unet' models, the hub asked for '${spec.kind}'`);
  return createUNet({ inChannels: spec.inChannels, classes: spec.classes, ...(spec.baseWidth ? { baseWidth: spec.baseWidth } : {}) });
}

function toWeightMap(arrays: NamedArray[]): WeightMap {
  const m: WeightMap = {};
  for (const a of arrays) m[a.name] = tf.tensor(a.data, a.shape, 'float32');
  return m;
}

/** Awaited readbacks: sync dataSync() throws on the webgpu backend (docs/gpu.md "Reading tensors"). */
async function toArrays(w: WeightMap): Promise<NamedArray[]> {
  return weightsToNamedArraysAsync(w);
}

export class LearnerTrainer implements SiteTrainer {
  readonly backend: string;
  private readonly datasetId: number;
  private trainSet?: Sample[];
  private evalSet?: Sample[];
  private adam?: Adam;

  constructor(private readonly o: LearnerTrainerOptions) {
    this.backend = o.backend;
    const ds = o.store.getDataset(o.dataset);
    if (!ds) throw new FedSegError('NOT_FOUND', `dataset '${o.dataset}' is not in this site's store`);
    this.datasetId = ds.id;
  }

  private samples(split: SampleSplit): Sample[] {
    const n = this.o.store.countSamples(this.datasetId, split);
    const s = n > 0 ? this.o.store.loadSamples(this.datasetId, { split }) : this.o.store.loadSamples(this.datasetId);
    if (s.length === 0) throw new FedSegError('INVALID_INPUT', `dataset ${this.datasetId} has no samples`);
    return s;
  }

  private get train_(): Sample[] {
    return (this.trainSet ??= this.samples(this.o.trainSplit ?? 'train'));
  }

  private get eval_(): Sample[] {
    return (this.evalSet ??= this.samples(this.o.evalSplit ?? 'test'));
  }

  numSamples(): number {
    return this.train_.length;
  }

  async spectrumWindows(alpha: number, maxWindows: number): Promise<SpectrumWindow[]> {
    const samples = this.train_.slice(0, maxWindows);
    const out: SpectrumWindow[] = [];
    for (const s of samples) {
      const a = effectiveAlpha(s.image.height, s.image.width, alpha);
      const win = extractAmplitudeWindow(s.image, a);
      out.push(win);
      this.o.store.putAmplitudeWindows([{ source: 'local', site: this.o.site, datasetId: this.datasetId, sampleName: s.name, alpha: a, window: win }]);
    }
    return out;
  }

  async initWeights(spec: ModelSpec): Promise<NamedArray[]> {
    const model = buildModel(spec);
    const w = model.init(spec.seed);
    try {
      return await toArrays(w);
    } finally {
      tf.dispose(Object.values(w));
    }
  }

  private loadAdam(lr: number): Adam {
    if (this.adam) return this.adam;
    const ck = this.o.store.listCheckpoints().filter((c) => c.name === ADAM_CHECKPOINT).at(-1);
    this.adam = ck ? Adam.fromNamedArrays(decodeWeights(this.o.store.loadCheckpoint(ck.id)).arrays, { lr }) : new Adam({ lr });
    return this.adam;
  }

  private async saveAdam(round: number, kind: string): Promise<void> {
    const old = this.o.store.listCheckpoints().filter((c) => c.name === ADAM_CHECKPOINT);
    this.o.store.saveCheckpoint({ name: ADAM_CHECKPOINT, blob: encodeWeights(await this.adam!.toNamedArraysAsync()), round, modelKind: kind });
    for (const c of old) this.o.store.deleteCheckpoint(c.id);
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    const model = buildModel(req.model);
    const adam = this.loadAdam(req.config.lr);
    let samples = this.train_;
    const seed = ((this.o.seed ?? 0) * 1000003 + req.round * 7919) >>> 0;
    if (req.config.maxStepsPerEpoch > 0 && samples.length > req.config.maxStepsPerEpoch * req.config.batchSize) {
      samples = createRng(seed ^ 0x9e3779b9).shuffle([...samples]).slice(0, req.config.maxStepsPerEpoch * req.config.batchSize);
    }
    if (req.mode === 'elcfs') {
      // Received windows are kept in the store so the operator can see what came in.
      this.o.store.deleteAmplitudeWindows({ source: 'received' });
      this.o.store.putAmplitudeWindows(req.bank.flatMap((g, i) => g.map((w) => ({ source: 'received' as const, site: `source-${i}`, alpha: req.config.alpha, round: req.round, window: w }))));
    }
    const weights = toWeightMap(req.global);
    try {
      const r = await trainLocal({
        model, weights, samples, adam, mode: req.mode, seed, epochs: req.config.localEpochs, batchSize: req.config.batchSize,
        amplitudeBank: req.bank.map((g, i) => ({ site: `source-${i}`, windows: g })), site: this.o.site,
        onProgress: (p) => req.onProgress(p.step / p.steps, `step ${p.step}/${p.steps} loss ${p.losses.total.toFixed(4)}`),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      const out = await toArrays(weights);
      await this.saveAdam(req.round, req.model.kind);
      const metrics: Record<string, number> = { steps: r.steps, elapsedMs: Math.round(r.elapsedMs) };
      for (const [k, v] of Object.entries(r.meanLosses)) if (Number.isFinite(v)) metrics[`loss_${k}`] = v;
      return { weights: out, numSamples: this.train_.length, metrics };
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  async evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
    const model = buildModel(req.model);
    const weights = toWeightMap(req.global);
    try {
      const ev = await evaluateModel(model, weights, this.eval_, { onProgress: (d, t) => req.onProgress(d / t), ...(req.signal ? { signal: req.signal } : {}) });
      return { numSamples: ev.images, metrics: evaluationMetrics(ev) };
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  dispose(): void {
    this.adam?.dispose();
    this.adam = undefined;
  }
}

/** Flattens an evaluation summary into wire metrics: dice_c<k>, hd95_c<k> (omitted when undefined), counts. */
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
