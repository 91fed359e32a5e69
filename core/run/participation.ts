// A site's participation in a federation, as the run API does it (the SiteTrainer the site client
// calls, core/federation/trainer.ts): local training of whatever network the hub's ModelSpec names
// (core/models/registry.ts) with ELCFS or FedAvg (docs/algorithms.md §1-5; softmax networks train
// FedAvg with cross-entropy, §7), evaluation with the reference protocol (§6), the site's amplitude
// windows (§2: only the (2b+1)^2 x C window per image, at least 3x3 unless alpha = 0), and, when the hub
// asks, a validation split with the validation losses FedDG-GA weighs sites by (docs/feddg-ga.md §2).
// Optimiser state is kept per federated run (runKey = hub + its run id) in the store, never averaged,
// and survives a crash; state of another run or another network is never applied.
import { createHash } from 'node:crypto';
import { FedSegError } from '../contract/errors.js';
import { MAX_WINDOW_AMPLITUDE } from '../contract/hub-protocol.js';
import type { Sample } from '../contract/image.js';
import { MODEL_KINDS, type ModelKind, type ModelSpec } from '../contract/model-spec.js';
import type { NamedArray } from '../contract/weights.js';
import type { EvaluateRequest, EvaluateResult, SiteTrainer, SpectrumWindow, TrainRequest, TrainResult } from '../federation/trainer.js';
import { extractAmplitudeWindow } from '../freq/window-dft.js';
import { sharedWindowAlpha, windowHalfWidth } from '../freq/window.js';
import { buildNetwork, type Network } from '../models/registry.js';
import { disposeWeights, toNamedArraysAsync, toWeightMap } from '../models/weight-map.js';
import type { WeightMap } from '../models/seg-model.js';
import { createRng } from '../rng.js';
import { Adam } from '../train/adam.js';
import { trainLocal, type LocalMode } from '../train/local-training.js';
import { isTransientStoreError } from '../contract/store-errors.js';
import { calibrateRunningStats } from './batch-norm.js';
import { loadOptimiser, saveOptimiser } from './checkpoints.js';
import { evaluateNetwork, evaluationMetrics } from './evaluation.js';
import { optimiserFor } from './optimiser.js';
import { trainingFit, trainingInput } from './network-input.js';
import type { CheckpointLedger, WindowLedger } from './ports.js';

/** This site's images: what it trains on and what it evaluates on (loaded lazily, once). */
export interface ParticipantData {
  train(): Sample[];
  test(): Sample[];
  /** The dataset the windows are recorded under (for the operator's view). */
  datasetId?: number;
  /** Names the pooled datasets (see SiteTrainer.dataKey). */
  dataKey?: string;
}

export interface ParticipationOptions {
  ledger: CheckpointLedger & WindowLedger;
  data: ParticipantData;
  /** This site's name (kept out of its own meta-test spectra). */
  site: string;
  /** Backend name reported to the hub. */
  backend: string;
  /** Seeds local shuffling / CFSI draws (mixed with the round). */
  seed?: number;
}

/** Runs a store write; a store locked by another process (SQLITE_BUSY/LOCKED) makes it false instead of throwing. */
function bestEffort(fn: () => Promise<unknown>): Promise<boolean>;
function bestEffort(fn: () => unknown): boolean;
function bestEffort(fn: () => unknown): boolean | Promise<boolean> {
  const transient = (e: unknown) => {
    if (isTransientStoreError(e)) return false;
    throw e;
  };
  try {
    const r = fn();
    return r instanceof Promise ? r.then(() => true, transient) : true;
  } catch (e) {
    return transient(e);
  }
}

/**
 * The training images and, when the hub asks for one (valFraction > 0, FedDG-GA: docs/feddg-ga.md §2),
 * the validation split held out of them: round(n x valFraction) images, at least one and never all (no
 * split below 2 images), those whose names hash lowest (sha-256), so neither the import order nor the
 * round changes it. The dataset's own 'val' split, if any, is not used: the split comes out of what the
 * site trains on, so every site has one whatever it imported.
 */
export function validationSplit<T extends { readonly name: string }>(samples: readonly T[], valFraction: number | undefined): { fit: T[]; val: T[] } {
  if (!valFraction || valFraction <= 0 || samples.length < 2) return { fit: [...samples], val: [] };
  const n = Math.min(samples.length - 1, Math.max(1, Math.round(samples.length * valFraction)));
  const key = (s: T) => createHash('sha256').update(s.name).digest('hex');
  const order = samples.map((s) => ({ s, k: key(s) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const val = new Set(order.slice(0, n).map((x) => x.s));
  return { fit: samples.filter((s) => !val.has(s)), val: samples.filter((s) => val.has(s)) };
}

export class Participation implements SiteTrainer {
  readonly backend: string;
  readonly kinds: readonly ModelKind[] = MODEL_KINDS;
  private trainSet?: Sample[];
  private testSet?: Sample[];
  private net?: Network;
  private readonly adams = new Map<string, Adam>();

  constructor(private readonly o: ParticipationOptions) {
    this.backend = o.backend;
  }

  private get train_(): Sample[] {
    return (this.trainSet ??= this.o.data.train());
  }

  private get test_(): Sample[] {
    return (this.testSet ??= this.o.data.test());
  }

  /** The network of a spec (kept while the spec stays the same). */
  private network(spec: ModelSpec): Network {
    if (!this.net || JSON.stringify(this.net.spec) !== JSON.stringify(spec)) this.net = buildNetwork(spec);
    return this.net;
  }

  get dataKey(): string | undefined {
    return this.o.data.dataKey;
  }

  describe(): { channels: number; height: number; width: number; classes: number } | null {
    const s = this.train_[0] ?? this.test_[0];
    return s ? { channels: s.image.channels, height: s.image.height, width: s.image.width, classes: s.mask.classes } : null;
  }

  numSamples(): number {
    return this.train_.length;
  }

  async spectrumWindows(alpha: number, maxWindows: number): Promise<SpectrumWindow[]> {
    const samples = this.train_.slice(0, maxWindows);
    const out: SpectrumWindow[] = [];
    for (const s of samples) {
      const a = sharedWindowAlpha(s.image.height, s.image.width, alpha);
      const win = extractAmplitudeWindow(s.image, a);
      out.push(win);
      this.o.ledger.putAmplitudeWindows([{ source: 'local', site: this.o.site, datasetId: this.o.data.datasetId ?? null, sampleName: s.name, alpha: a, window: win }]);
    }
    return out;
  }

  async initWeights(spec: ModelSpec, seed: number): Promise<NamedArray[]> {
    const w = this.network(spec).model.init(seed);
    try {
      return await toNamedArraysAsync(w);
    } finally {
      disposeWeights(w);
    }
  }

  /** The run's optimiser: in memory, else from the store, else fresh (never another network's). */
  private adamFor(runKey: string, net: Network, lr: number): Adam {
    const have = this.adams.get(runKey);
    if (have && have.mismatch(net.shapes) === null) return have;
    have?.dispose();
    this.adams.delete(runKey);
    const adam = optimiserFor(net, lr, loadOptimiser(this.o.ledger, runKey));
    this.adams.set(runKey, adam);
    return adam;
  }

  /** The validation loss of FedDG-GA: 1 - the mean over classes of the reference-protocol Dice (docs/feddg-ga.md §2). */
  private async valLoss(net: Network, weights: WeightMap, val: Sample[]): Promise<number> {
    const ev = await evaluateNetwork(net, weights, val);
    const d = ev.meanDice.reduce((a, b) => a + b, 0) / Math.max(1, ev.meanDice.length);
    return Math.min(1, Math.max(0, 1 - d));
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    const net = this.network(req.model);
    const { fit: all, val } = validationSplit(this.train_, req.config.valFraction);
    const unfit = trainingFit(net, all[0]!.image.height, all[0]!.image.width);
    if (unfit) throw new FedSegError('SHAPE_MISMATCH', `this site cannot train the hub's model: ${unfit}`);
    if (net.output === 'softmax' && req.mode === 'elcfs')
      throw new FedSegError('UNSUPPORTED', `ELCFS trains sigmoid networks (U-Net, ASC U-Net); the hub's '${req.model.kind}' is a softmax network`);
    let mode: LocalMode = net.output === 'softmax' ? 'softmax' : req.mode;
    // Windows that cannot be interpolated into this site's images (another channel count or window
    // size: docs/security.md §3) are left out instead of failing the round; with none left the round
    // trains without CFSI, and the metrics say so.
    const img = all[0]!.image;
    const b = windowHalfWidth(img.height, img.width, sharedWindowAlpha(img.height, img.width, req.config.alpha));
    const fit = (w: SpectrumWindow) => w.channels === img.channels && w.halfWidth === b && w.data.length === w.channels * (2 * b + 1) ** 2 &&
      w.data.every((v) => Number.isFinite(v) && v >= 0 && v <= MAX_WINDOW_AMPLITUDE);
    const bank = req.bank.map((g) => g.filter(fit)).filter((g) => g.length > 0);
    const dropped = req.bank.reduce((t, g) => t + g.length, 0) - bank.reduce((t, g) => t + g.length, 0);
    if (mode === 'elcfs' && bank.length === 0) mode = 'fedavg';
    const adam = this.adamFor(req.runKey, net, req.config.lr);
    let samples = all;
    const seed = ((this.o.seed ?? 0) * 1000003 + req.round * 7919) >>> 0;
    if (req.config.maxStepsPerEpoch > 0 && samples.length > req.config.maxStepsPerEpoch * req.config.batchSize) {
      samples = createRng(seed ^ 0x9e3779b9).shuffle([...samples]).slice(0, req.config.maxStepsPerEpoch * req.config.batchSize);
    }
    if (mode === 'elcfs') {
      // Received windows are kept in the store so the operator can see what came in; a store locked by
      // another process skips that record rather than the round (docs/security.md §9).
      bestEffort(() => this.o.ledger.deleteAmplitudeWindows({ source: 'received' }));
      bestEffort(() => this.o.ledger.putAmplitudeWindows(bank.flatMap((g, i) => g.map((w) => ({ source: 'received' as const, site: `source-${i}`, alpha: req.config.alpha, round: req.round, window: w })))));
    }
    const weights = toWeightMap(req.global, net.shapes);
    try {
      const valGlobal = val.length ? await this.valLoss(net, weights, val) : undefined;
      const r = await trainLocal({
        model: net.model, weights, samples, adam, mode, seed, epochs: req.config.localEpochs, batchSize: req.config.batchSize,
        amplitudeBank: bank.map((g, i) => ({ site: `source-${i}`, windows: g })), site: this.o.site, input: trainingInput(net),
        onProgress: (p) => req.onProgress(p.step / p.steps, `step ${p.step}/${p.steps} loss ${p.losses.total.toFixed(4)}`, {
          step: p.step, steps: p.steps, losses: { total: p.losses.total, inner: p.losses.inner, ...(mode === 'elcfs' ? { metaDice: p.losses.metaDice, boundary: p.losses.boundary } : {}) },
        }),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      await calibrateRunningStats(net, weights, samples.map((s) => s.image), req.config.batchSize);
      const out = await toNamedArraysAsync(weights);
      // The optimiser state is kept in memory too; only a restart would miss a copy the locked store refused.
      const optimiserKept = bestEffort(async () => saveOptimiser(this.o.ledger, req.runKey, await adam.toNamedArraysAsync(), { step: adam.step, name: 'federation optimiser state' }));
      const metrics: Record<string, number> = { steps: r.steps, elapsedMs: Math.round(r.elapsedMs) };
      if (dropped > 0) metrics.bankDropped = dropped;
      if (!(await optimiserKept)) metrics.optimiserNotKept = 1;
      if (req.mode === 'elcfs' && mode !== 'elcfs') metrics.cfsiSkipped = 1;
      for (const [k, v] of Object.entries(r.meanLosses)) if (Number.isFinite(v)) metrics[`loss_${k}`] = v;
      if (valGlobal !== undefined) {
        metrics.val_loss_global = valGlobal;
        metrics.val_loss_local = await this.valLoss(net, weights, val);
        metrics.val_images = val.length;
      }
      return { weights: out, numSamples: all.length, metrics };
    } finally {
      disposeWeights(weights);
    }
  }

  async evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
    const net = this.network(req.model);
    const weights = toWeightMap(req.global, net.shapes);
    try {
      const ev = await evaluateNetwork(net, weights, this.test_, { onProgress: (d, t) => req.onProgress(d / t), ...(req.signal ? { signal: req.signal } : {}) });
      return { numSamples: ev.images, metrics: evaluationMetrics(ev) };
    } finally {
      disposeWeights(weights);
    }
  }

  dispose(): void {
    for (const a of this.adams.values()) a.dispose();
    this.adams.clear();
  }
}
