// One local training run as the app runs it (in a worker thread, see job-worker.ts): D's trainLocal
// (ALGORITHMS.md §5: ELCFS episodic meta step with CFSI views + boundary loss, or plain Dice/FedAvg
// steps) one epoch at a time, so that after every epoch the run is evaluated on held-out images
// (Dice, ALGORITHMS.md §6), its metrics recorded and a checkpoint (weights + Adam state) written.
// Cancel stops after the current step and keeps a checkpoint; resume continues from it.
// Several datasets train together; with ELCFS each dataset is one "site" of the amplitude bank.
import { FedSegError, toErrorValue } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import { encodeWeights, decodeWeights, type NamedArray } from '../contract/weights.js';
import type { TrainingConfig, TrainingProgress } from '../contract/app-api.js';
import { extractAmplitudeWindow, presetAlpha } from '../freq/amplitude-interpolation.js';
import { evaluateMasks } from '../metrics/evaluate.js';
import { weightsToNamedArraysAsync } from '../models/model-io.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { Adam } from '../train/adam.js';
import { imagesToTensor } from '../train/batch.js';
import { evaluateModel } from '../train/evaluate.js';
import type { AmplitudeBankEntry } from '../train/local-training.js';
import { tf } from '../tf/tf.js';
import { sigmoidRunner, softmaxRunner, type EpochRunner } from './epoch-runners.js';
import { buildModel, isSoftmaxKind, type ModelConfig } from './models.js';
import { nestedFromSoftmax } from './softmax.js';

export interface TrainingJob {
  runId: number;
  config: TrainingConfig;
  /** Continue from this run's latest checkpoint (resume). */
  resumeFromRunId: number | null;
}

export interface JobHooks {
  progress(p: TrainingProgress): void;
  signal: AbortSignal;
  backend: string;
}

export type JobOutcome = { status: 'finished' | 'cancelled'; modelId: number | null; message: string } | { status: 'failed'; modelId: number | null; message: string };

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

function fromNamed(arrays: NamedArray[]): WeightMap {
  const out: WeightMap = {};
  for (const a of arrays) out[a.name] = tf.tensor(a.data, a.shape, 'float32');
  return out;
}

/** Mean Dice per class of a softmax model on held-out samples (one image per forward pass). */
async function evaluateSoftmax(model: SegModel, weights: WeightMap, val: Sample[], classes: number): Promise<number[]> {
  const sums = new Array<number>(classes).fill(0);
  for (const s of val) {
    const x = imagesToTensor([s.image]);
    const probs = tf.tidy(() => model.forward(weights, x, { training: false }).probs);
    const data = (await probs.data()) as Float32Array;
    tf.dispose([x, probs]);
    const ev = evaluateMasks(nestedFromSoftmax(data, s.image.height, s.image.width, classes), s.mask);
    ev.dice.forEach((d, c) => (sums[c]! += d));
  }
  return sums.map((v) => v / val.length);
}

export async function runTrainingJob(store: DatasetStore, job: TrainingJob, hooks: JobHooks): Promise<JobOutcome> {
  const cfg = job.config;
  const base = { runId: String(job.runId), mode: 'local' as const, round: null, backend: hooks.backend, dice: null };
  const emit = (p: Partial<TrainingProgress> & Pick<TrainingProgress, 'phase' | 'message'>) =>
    hooks.progress({ epoch: 0, step: 0, totalSteps: 0, losses: {}, samplesPerSec: 0, etaSec: null, ...base, ...p });
  let runner: EpochRunner | null = null;
  let modelId: number | null = null;
  let step = 0;
  let totalSteps = 0;
  let epochsDone = 0;
  let lastLoss = NaN;
  try {
    emit({ phase: 'starting', message: 'loading images' });
    // ---- data ----
    const perSite: { site: string; train: Sample[]; val: Sample[] }[] = [];
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
      perSite.push({ site: typeof d.meta.site === 'string' ? `${d.meta.site}#${d.id}` : `dataset-${d.id}`, ...splitSamples(samples) });
    }
    if (!shape) throw new FedSegError('INVALID_ARGUMENT', 'choose at least one dataset');
    const train = perSite.flatMap((s) => s.train);
    const val = perSite.flatMap((s) => s.val);
    const elcfs = cfg.elcfs && perSite.length >= 2;
    let bank: AmplitudeBankEntry[] = [];
    if (elcfs) {
      const alpha = presetAlpha(shape.h, shape.w, 'default');
      bank = perSite.map((s) => ({ site: s.site, windows: s.train.map((x) => extractAmplitudeWindow(x.image, alpha)) }));
    }

    // ---- model + state ----
    const mcfg: ModelConfig = { kind: cfg.modelKind, inChannels: shape.c, classes: shape.k, baseWidth: cfg.baseWidth, depth: fitDepth(shape.h, shape.w, cfg.depth) };
    const model = await buildModel(mcfg);
    let weights: WeightMap;
    let adamState: NamedArray[] | null = null;
    if (job.resumeFromRunId !== null) {
      const ck = store.listCheckpoints({ runId: job.resumeFromRunId });
      const wck = [...ck].reverse().find((c) => (c.meta as { usable?: boolean }).usable === true);
      const ack = [...ck].reverse().find((c) => c.modelKind === 'adam-state');
      if (!wck) throw new FedSegError('NOT_FOUND', 'the run to resume has no checkpoint');
      weights = fromNamed(decodeWeights(store.loadCheckpoint(wck.id)).arrays);
      adamState = ack ? decodeWeights(store.loadCheckpoint(ack.id)).arrays : null;
      epochsDone = Number((wck.meta as { epoch?: number }).epoch ?? 0);
      step = Number((wck.meta as { step?: number }).step ?? 0);
    } else {
      weights = model.init(cfg.seed);
    }
    const soft = isSoftmaxKind(mcfg.kind);
    // Resume restores the optimiser too (the stored betas/eps are kept: ASCNet's beta2 0.9 survives).
    const resumedAdam = adamState ? Adam.fromNamedArrays(adamState, { lr: cfg.learningRate }) : null;
    runner = soft
      ? softmaxRunner({ model, init: weights, samples: train, batchSize: cfg.batchSize, seed: cfg.seed, learningRate: cfg.learningRate, ...(resumedAdam ? { adam: resumedAdam } : {}) })
      : sigmoidRunner({
        model, weights, samples: train, batchSize: cfg.batchSize, seed: cfg.seed, elcfs, bank,
        adam: resumedAdam ?? new Adam({ lr: cfg.learningRate }),
      });
    const active = runner;
    const perEpoch = Math.ceil(train.length / cfg.batchSize);
    totalSteps = perEpoch * cfg.epochs;
    if (cfg.maxSteps > 0) totalSteps = Math.min(totalSteps, cfg.maxSteps);

    const save = async (epoch: number, partial: boolean) => {
      const name = `${cfg.name} · epoch ${epoch}${partial ? ' (partial)' : ''}`;
      // Read weights and optimiser state back BEFORE the (synchronous) store transaction: the readbacks
      // are awaited because webgpu in Node has no synchronous dataSync (docs/gpu.md "Reading tensors").
      const blob = encodeWeights(await weightsToNamedArraysAsync(active.weights()));
      const opt = await active.optimiserState();
      const old = store.listCheckpoints({ runId: job.runId });
      const info = store.transaction(() => {
        const w = store.saveCheckpoint({
          name, runId: job.runId, round: epoch, modelKind: mcfg.kind, blob,
          meta: { source: 'local', usable: true, model: mcfg, epoch, step, partial },
        });
        if (opt) store.saveCheckpoint({ name: `${cfg.name} · optimiser`, runId: job.runId, round: epoch, modelKind: 'adam-state', blob: encodeWeights(opt), meta: { usable: false } });
        for (const c of old) store.deleteCheckpoint(c.id);
        return w;
      });
      modelId = info.id;
    };

    // ---- epochs ----
    const inner = new AbortController();
    const onOuterAbort = () => inner.abort();
    hooks.signal.addEventListener('abort', onOuterAbort);
    let stoppedByCap = false;
    try {
      for (let epoch = epochsDone + 1; epoch <= cfg.epochs && step < totalSteps; epoch++) {
        const before = step;
        try {
          await active.runEpoch(epoch, (p) => {
            step = before + p.step;
            lastLoss = p.losses.total ?? NaN;
            emit({
              phase: 'training', epoch, step, totalSteps, samplesPerSec: p.samplesPerSec, losses: p.losses,
              etaSec: p.samplesPerSec > 0 ? ((totalSteps - step) * cfg.batchSize) / p.samplesPerSec : null,
              message: `epoch ${epoch} of ${cfg.epochs}`,
            });
            if (step >= totalSteps && !inner.signal.aborted) {
              stoppedByCap = true;
              inner.abort();
            }
          }, inner.signal);
        } catch (e) {
          if (!(e instanceof FedSegError && e.code === 'CANCELLED')) throw e;
          if (!stoppedByCap) {
            await save(epoch - 1, true);
            return { status: 'cancelled', modelId, message: `cancelled at step ${step} of ${totalSteps}; the last weights were kept` };
          }
        }
        // ---- evaluate + checkpoint ----
        let dice: number[] | null = null;
        if (val.length > 0) {
          emit({ phase: 'evaluating', epoch, step, totalSteps, message: `checking ${val.length} held-out image(s)` });
          dice = soft ? await evaluateSoftmax(model, active.weights(), val, mcfg.classes) : (await evaluateModel(model, active.weights(), val, { signal: hooks.signal })).meanDice;
        }
        epochsDone = epoch;
        await save(epochsDone, false);
        const meanDice = dice ? dice.reduce((a, b) => a + b, 0) / dice.length : NaN;
        store.putRoundMetrics(job.runId, epoch, { step, ...(Number.isFinite(lastLoss) ? { loss: lastLoss } : {}), ...(dice ? { dice: meanDice, ...Object.fromEntries(dice.map((d, c) => [`dice_c${c}`, d])) } : {}) });
        emit({ phase: 'evaluating', epoch, step, totalSteps, dice, message: dice ? `mean Dice ${meanDice.toFixed(3)} on held-out images` : 'no held-out images' });
        if (stoppedByCap) break;
      }
    } finally {
      hooks.signal.removeEventListener('abort', onOuterAbort);
    }
    return { status: 'finished', modelId, message: `finished ${step} step(s)` };
  } catch (e) {
    if (e instanceof FedSegError && e.code === 'CANCELLED') return { status: 'cancelled', modelId, message: e.message };
    return { status: 'failed', modelId, message: toErrorValue(e).message };
  } finally {
    runner?.dispose();
  }
}
