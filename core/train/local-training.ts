// Local training, the one epoch loop every run uses (docs/algorithms.md §1, §5, §7): `epochs` passes
// over the samples in seeded random order, mini-batches of `batchSize` (the last one may be smaller, as
// the reference's DataLoader), one step per batch, Adam whose state the caller keeps across rounds or
// resumes. Three kinds of step:
//   'elcfs'   the episodic meta step (episodic-step.ts) on raw images and their CFSI views;
//   'fedavg'  a plain Dice step (episodic-step.ts, FedAvg's local training);
//   'softmax' a cross-entropy step of a softmax network (softmax-step.ts; ASCNet-N, §7).
// `input` turns images into network input (the run API's preprocessing, core/run/network-input.ts),
// applied to the raw images and to their CFSI views alike (CFSI works on pixel values).
//
// ELCFS meta-test images: each raw image x_i gets a CFSI view (FedDG Eq. 2-3, core/freq) using an
// amplitude window of another *source* site from the amplitude bank: by default one view per image
// from a random other site and a random window of it (the reference); with metaTest 'all' one view
// per other site (the paper's K-1), whose losses are averaged. lambda ~ U(0, 1) per generated image
// by default (reference: lambda = 1). Boundary/background regions come from the ground truth.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32, Sample } from '../contract/image.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import { createRng, type Rng } from '../rng.js';
import { interpolateAmplitude, sampleLambda, CLIP_8BIT, type AmplitudeWindow } from '../freq/amplitude-interpolation.js';
import { boundaryRegions, BACKGROUND_RING_ITERATIONS } from '../losses/boundary-loss.js';
import { nestedMaskToClasses } from '../masks/convert.js';
import { trainStep, type MetaStepOptions, type StepLosses, type TrainMode } from './episodic-step.js';
import type { Adam } from './adam.js';
import { checkSamples, imagesToTensor, masksToTensor } from './batch.js';
import { softmaxStep } from './softmax-step.js';

/** What one step optimises (see file header). */
export type LocalMode = TrainMode | 'softmax';

/** Amplitude windows shared by one other source site. */
export interface AmplitudeBankEntry {
  site: string;
  windows: AmplitudeWindow[];
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Steps done in this call (1-based) and the total. */
  step: number;
  steps: number;
  samplesDone: number;
  samplesTotal: number;
  losses: StepLosses;
  samplesPerSec: number;
  elapsedSec: number;
  etaSec: number;
}

export interface TrainLocalOptions extends Omit<MetaStepOptions, 'mode'> {
  model: SegModel;
  /** Updated in place (each step replaces the tensors; old ones are disposed). */
  weights: WeightMap;
  samples: Sample[];
  /** The site's optimiser; keep it across rounds (never averaged). */
  adam: Adam;
  mode: LocalMode;
  /** Images -> network input [B,H,W,C] (default: pixel values as they are). */
  input?: (images: ImageF32[]) => tf.Tensor4D;
  /** Stop after this many steps (0 or absent: run every epoch). The result reports the steps taken. */
  maxSteps?: number;
  /** Seeds shuffling, meta-site/window choice and lambda. */
  seed: number;
  /** Default 1 (reference: 1 local epoch per round). */
  epochs?: number;
  /** Default 5 (reference). */
  batchSize?: number;
  /** ELCFS: windows from the other source sites (entries named like `site` are ignored). */
  amplitudeBank?: AmplitudeBankEntry[];
  /** This site's name, to keep its own spectra out of its meta-test images. */
  site?: string;
  /** 'one' (default, reference): one random other site per image; 'all': one view per other site. */
  metaTest?: 'one' | 'all';
  /** CFSI lambda: 'uniform' (default, U(0,1) per image) or a fixed value (reference: 1). */
  lambda?: 'uniform' | number;
  /** Clamp CFSI images: default [0, 255] (8-bit); null for z-scored MRI. */
  cfsiClip?: [number, number] | null;
  /** Background-ring dilation iterations (default 5). */
  backgroundIterations?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Checked between steps; aborting throws FedSegError('CANCELLED') with the completed steps applied. */
  signal?: AbortSignal;
}

export interface TrainLocalResult {
  steps: number;
  samples: number;
  /** Sample-weighted mean of each loss term over the call. */
  meanLosses: StepLosses;
  /** Loss terms of the last step. */
  lastLosses: StepLosses;
  elapsedMs: number;
}

function cfsiViews(images: ImageF32[], bank: AmplitudeBankEntry[], metaTest: 'one' | 'all', lambda: 'uniform' | number, clip: [number, number] | null, rng: Rng): ImageF32[][] {
  const pick = (e: AmplitudeBankEntry) => e.windows[rng.int(e.windows.length)]!;
  if (metaTest === 'all') return bank.map((e) => images.map((im) => interpolateAmplitude(im, pick(e), sampleLambda(rng, lambda), { clip })));
  return [images.map((im) => interpolateAmplitude(im, pick(bank[rng.int(bank.length)]!), sampleLambda(rng, lambda), { clip }))];
}

interface SigmoidContext {
  bank: AmplitudeBankEntry[];
  metaTest: 'one' | 'all';
  lambda: 'uniform' | number;
  clip: [number, number] | null;
  gamma: number;
  rng: Rng;
  stepOpts: MetaStepOptions;
}

async function sigmoidBatch(opts: TrainLocalOptions, batch: Sample[], toInput: (images: ImageF32[]) => tf.Tensor4D, c: SigmoidContext): Promise<StepLosses> {
  const x = toInput(batch.map((s) => s.image));
  const y = masksToTensor(batch.map((s) => s.mask));
  const meta = opts.mode === 'elcfs' ? cfsiViews(batch.map((s) => s.image), c.bank, c.metaTest, c.lambda, c.clip, c.rng).map((v) => toInput(v)) : [];
  try {
    const regions = opts.mode === 'elcfs' && c.gamma > 0 ? boundaryRegions(batch.map((s) => s.mask), opts.backgroundIterations ?? BACKGROUND_RING_ITERATIONS) : undefined;
    return await trainStep(opts.model, opts.weights, opts.adam, { x, y, meta, ...(regions ? { regions } : {}) }, c.stepOpts);
  } finally {
    tf.dispose([x, y, ...meta]);
  }
}

async function softmaxBatch(opts: TrainLocalOptions, batch: Sample[], toInput: (images: ImageF32[]) => tf.Tensor4D): Promise<StepLosses> {
  const { height: h, width: w } = batch[0]!.image;
  const lab = new Int32Array(batch.length * h * w);
  batch.forEach((s, j) => lab.set(nestedMaskToClasses(s.mask), j * h * w));
  const x = toInput(batch.map((s) => s.image));
  const y = tf.tensor3d(lab, [batch.length, h, w], 'int32');
  try {
    const ce = await softmaxStep(opts.model, opts.weights, opts.adam, x, y);
    return { inner: ce, metaDice: 0, boundary: 0, total: ce };
  } finally {
    tf.dispose([x, y]);
  }
}

/** Runs the local epochs; see file header. */
export async function trainLocal(opts: TrainLocalOptions): Promise<TrainLocalResult> {
  const { model, samples, mode } = opts;
  checkSamples(samples, model, 'trainLocal', opts.mode === 'softmax' ? model.classes - 1 : model.classes);
  const epochs = opts.epochs ?? 1;
  const bs = opts.batchSize ?? 5;
  if (!Number.isInteger(epochs) || epochs < 1) throw new FedSegError('INVALID_ARGUMENT', `trainLocal: epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(bs) || bs < 1) throw new FedSegError('INVALID_ARGUMENT', `trainLocal: batchSize must be a positive integer, got ${bs}`);
  if (mode !== 'elcfs' && mode !== 'fedavg' && mode !== 'softmax') throw new FedSegError('INVALID_ARGUMENT', `trainLocal: mode must be 'elcfs', 'fedavg' or 'softmax', got ${String(mode)}`);
  const maxSteps = opts.maxSteps ?? 0;
  if (!Number.isInteger(maxSteps) || maxSteps < 0) throw new FedSegError('INVALID_ARGUMENT', `trainLocal: maxSteps must be an integer >= 0, got ${maxSteps}`);
  const toInput = opts.input ?? imagesToTensor;
  const metaTest = opts.metaTest ?? 'one';
  if (metaTest !== 'one' && metaTest !== 'all') throw new FedSegError('INVALID_ARGUMENT', `trainLocal: metaTest must be 'one' or 'all', got ${String(metaTest)}`);
  const lambda = opts.lambda ?? 'uniform';
  const clip = opts.cfsiClip === undefined ? CLIP_8BIT : opts.cfsiClip;
  const bank = (opts.amplitudeBank ?? []).filter((e) => e.site !== opts.site && e.windows.length > 0);
  if (mode === 'elcfs') {
    if (bank.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'trainLocal: ELCFS needs amplitude windows from at least one other source site (amplitudeBank)');
    for (const e of bank)
      for (const win of e.windows)
        if (win.channels !== model.inChannels) throw new FedSegError('SHAPE_MISMATCH', `trainLocal: bank window of site '${e.site}' has ${win.channels} channels, images have ${model.inChannels}`);
  }
  const stepOpts: MetaStepOptions = {
    mode: mode === 'softmax' ? 'fedavg' : mode,
    ...(opts.beta !== undefined ? { beta: opts.beta } : {}),
    ...(opts.clip !== undefined ? { clip: opts.clip } : {}),
    ...(opts.gamma !== undefined ? { gamma: opts.gamma } : {}),
    ...(opts.tau !== undefined ? { tau: opts.tau } : {}),
    ...(opts.secondOrder !== undefined ? { secondOrder: opts.secondOrder } : {}),
    ...(opts.hvpRelStep !== undefined ? { hvpRelStep: opts.hvpRelStep } : {}),
  };
  const gamma = opts.gamma ?? 0.1;
  const rng = createRng(opts.seed);
  const perEpoch = Math.ceil(samples.length / bs);
  const steps = maxSteps > 0 ? Math.min(maxSteps, perEpoch * epochs) : perEpoch * epochs;
  const samplesTotal = Math.min(samples.length * epochs, steps * bs);
  const sums: StepLosses = { inner: 0, metaDice: 0, boundary: 0, total: 0 };
  let last: StepLosses = { inner: 0, metaDice: 0, boundary: 0, total: 0 };
  let step = 0;
  let done = 0;
  const t0 = performance.now();
  for (let epoch = 1; epoch <= epochs && step < steps; epoch++) {
    const order = rng.shuffle(samples.map((_, i) => i));
    for (let b = 0; b < perEpoch && step < steps; b++) {
      if (opts.signal?.aborted) throw new FedSegError('CANCELLED', `local training cancelled after ${step} of ${steps} steps`);
      const batch = order.slice(b * bs, (b + 1) * bs).map((i) => samples[i]!);
      if (mode === 'softmax') last = await softmaxBatch(opts, batch, toInput);
      else last = await sigmoidBatch(opts, batch, toInput, { bank, metaTest, lambda, clip, gamma, rng, stepOpts });
      step++;
      done += batch.length;
      for (const k of Object.keys(sums) as (keyof StepLosses)[]) sums[k] += last[k] * batch.length;
      const elapsedSec = (performance.now() - t0) / 1000;
      const samplesPerSec = done / Math.max(elapsedSec, 1e-9);
      opts.onProgress?.({
        epoch,
        epochs,
        step,
        steps,
        samplesDone: done,
        samplesTotal,
        losses: last,
        samplesPerSec,
        elapsedSec,
        etaSec: step === steps ? 0 : Math.max(0, (samplesTotal - done) / samplesPerSec),
      });
      // Let timers, IPC and abort signals run between steps.
      await new Promise((r) => setImmediate(r));
    }
  }
  const meanLosses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])) as unknown as StepLosses;
  return { steps: step, samples: done, meanLosses, lastLosses: last, elapsedMs: performance.now() - t0 };
}
