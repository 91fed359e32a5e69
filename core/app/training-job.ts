// One local training run as the app runs it (in the job worker, job-worker.ts): the datasets are
// loaded from the site's store, the network is chosen from the Train page's settings (a ModelSpec,
// U-Net depth fitted to the image size) and the run API does the rest (core/run/local-run.ts: epochs,
// held-out Dice, checkpoints with optimiser state, cancel and resume). Its progress is relayed as the
// app's trainingProgress events.
import type { TrainingConfig, TrainingProgress } from '../contract/app-api.js';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import type { JobOutcome, TrainingJob } from '../contract/job-messages.js';
import type { Sample } from '../contract/image.js';
import { MODEL_OUTPUT, type ModelSpecInput } from '../contract/model-spec.js';
import { buildNetwork } from '../models/registry.js';
import { runLocal, type LocalSite } from '../run/local-run.js';
import type { DatasetStore } from '../store/dataset-store.js';

export interface JobHooks {
  progress(p: TrainingProgress): void;
  signal: AbortSignal;
  backend: string;
}

/** Largest depth <= wanted whose pooling divides both sides (the U-Net pools depth-1 times). */
export function fitDepth(h: number, w: number, wanted: number): number {
  for (let d = wanted; d > 1; d--) {
    const m = 2 ** (d - 1);
    if (h % m === 0 && w % m === 0 && Math.min(h, w) / m >= 2) return d;
  }
  return 1;
}

/** Held-out images per dataset: the last 20% (at least 1) when a dataset has 3 or more. */
export function splitSamples(samples: Sample[]): { train: Sample[]; val: Sample[] } {
  if (samples.length < 3) return { train: samples, val: [] };
  const nVal = Math.max(1, Math.floor(samples.length * 0.2));
  return { train: samples.slice(0, samples.length - nVal), val: samples.slice(samples.length - nVal) };
}

/** The network the Train page's settings describe for images of this shape. */
export function specForTraining(cfg: TrainingConfig, shape: { h: number; w: number; c: number; k: number }): ModelSpecInput {
  const base = { inChannels: shape.c, classes: shape.k };
  if (MODEL_OUTPUT[cfg.modelKind] === 'softmax') return { kind: cfg.modelKind, ...base } as ModelSpecInput;
  const depth = fitDepth(shape.h, shape.w, cfg.depth);
  if (depth < 2) throw new FedSegError('SHAPE_MISMATCH', `${shape.w}x${shape.h} images are too small or odd-sized for a U-Net (sides must be even)`);
  return { kind: cfg.modelKind, ...base, config: { baseWidth: cfg.baseWidth, depth } } as ModelSpecInput;
}

function loadSites(store: DatasetStore, cfg: TrainingConfig): { sites: LocalSite[]; shape: { h: number; w: number; c: number; k: number } } {
  const sites: LocalSite[] = [];
  let shape: { h: number; w: number; c: number; k: number } | null = null;
  for (const id of cfg.datasetIds) {
    const d = store.getDataset(Number(id));
    if (!d) throw new FedSegError('NOT_FOUND', `dataset ${id} no longer exists`);
    const samples = store.loadSamples(d.id).filter((s) => s.meta?.hasMask !== false);
    if (samples.length === 0) throw new FedSegError('INVALID_INPUT', `dataset '${d.name}' has no images with masks to train on`);
    const s0 = samples[0]!;
    const here = { h: s0.image.height, w: s0.image.width, c: s0.image.channels, k: s0.mask.classes };
    if (shape && (shape.h !== here.h || shape.w !== here.w || shape.c !== here.c || shape.k !== here.k))
      throw new FedSegError('SHAPE_MISMATCH', `dataset '${d.name}' has ${here.w}x${here.h} images with ${here.c} channel(s) and ${here.k} class(es); the other datasets have ${shape.w}x${shape.h}, ${shape.c}, ${shape.k}. Train them separately.`);
    shape = here;
    sites.push({ site: typeof d.meta.site === 'string' ? `${d.meta.site}#${d.id}` : `dataset-${d.id}`, ...splitSamples(samples) });
  }
  if (!shape) throw new FedSegError('INVALID_ARGUMENT', 'choose at least one dataset');
  return { sites, shape };
}

export async function runTrainingJob(store: DatasetStore, job: TrainingJob, hooks: JobHooks): Promise<JobOutcome> {
  const cfg = job.config;
  const base = { runId: String(job.runId), mode: 'local' as const, round: null, totalRounds: null, backend: hooks.backend };
  let modelId: number | null = null;
  try {
    hooks.progress({ ...base, phase: 'starting', epoch: 0, step: 0, totalSteps: 0, losses: {}, samplesPerSec: 0, etaSec: null, message: 'loading images', dice: null, fraction: 0 });
    const { sites, shape } = loadSites(store, cfg);
    const net = buildNetwork(specForTraining(cfg, shape));
    const r = await runLocal({
      net, sites, ledger: store, runId: job.runId, name: cfg.name, resumeFromRunId: job.resumeFromRunId, signal: hooks.signal,
      config: { epochs: cfg.epochs, batchSize: cfg.batchSize, learningRate: cfg.learningRate, seed: cfg.seed, elcfs: cfg.elcfs, maxSteps: cfg.maxSteps },
      onProgress: (p) => hooks.progress({
        ...base, phase: p.phase, epoch: p.epoch, step: p.step, totalSteps: p.totalSteps, losses: p.losses, samplesPerSec: p.samplesPerSec,
        etaSec: p.etaSec, message: p.message, dice: p.dice, fraction: p.totalSteps > 0 ? Math.min(1, p.step / p.totalSteps) : null,
      }),
    });
    modelId = r.modelId;
    return { status: r.status, modelId, message: r.message };
  } catch (e) {
    if (e instanceof FedSegError && e.code === 'CANCELLED') return { status: 'cancelled', modelId, message: e.message };
    return { status: 'failed', modelId, message: toErrorValue(e).message };
  }
}
