// A site's local training for one federated round (ALGORITHMS.md §1, §5): `epochs` passes over the
// site's samples in seeded random order, mini-batches of `batchSize` (last one may be smaller, as the
// reference's DataLoader), one ELCFS meta step (episodic-step.ts) or plain Dice step (FedAvg) per
// batch, Adam whose state the caller keeps across rounds.
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
import { trainStep, type MetaStepOptions, type StepLosses, type TrainMode } from './episodic-step.js';
import type { Adam } from './adam.js';
import { checkSamples, imagesToTensor, masksToTensor } from './batch.js';

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
  mode: TrainMode;
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

/** Runs the local epochs; see file header. */
export async function trainLocal(opts: TrainLocalOptions): Promise<TrainLocalResult> {
  const { model, weights, samples, adam, mode } = opts;
  checkSamples(samples, model, 'trainLocal');
  const epochs = opts.epochs ?? 1;
  const bs = opts.batchSize ?? 5;
  if (!Number.isInteger(epochs) || epochs < 1) throw new FedSegError('INVALID_ARGUMENT', `trainLocal: epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(bs) || bs < 1) throw new FedSegError('INVALID_ARGUMENT', `trainLocal: batchSize must be a positive integer, got ${bs}`);
  if (mode !== 'elcfs' && mode !== 'fedavg') throw new FedSegError('INVALID_ARGUMENT', `trainLocal: mode must be 'elcfs' or 'fedavg', got ${String(mode)}`);
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
    mode,
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
  const steps = perEpoch * epochs;
  const samplesTotal = samples.length * epochs;
  const sums: StepLosses = { inner: 0, metaDice: 0, boundary: 0, total: 0 };
  let last: StepLosses = { inner: 0, metaDice: 0, boundary: 0, total: 0 };
  let step = 0;
  let done = 0;
  const t0 = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = rng.shuffle(samples.map((_, i) => i));
    for (let b = 0; b < perEpoch; b++) {
      if (opts.signal?.aborted) throw new FedSegError('CANCELLED', `local training cancelled after ${step} of ${steps} steps`);
      const batch = order.slice(b * bs, (b + 1) * bs).map((i) => samples[i]!);
      const x = imagesToTensor(batch.map((s) => s.image));
      const y = masksToTensor(batch.map((s) => s.mask));
      const meta =
        mode === 'elcfs' ? cfsiViews(batch.map((s) => s.image), bank, metaTest, lambda, clip, rng).map((v) => imagesToTensor(v)) : [];
      try {
        const regions = mode === 'elcfs' && gamma > 0 ? boundaryRegions(batch.map((s) => s.mask), opts.backgroundIterations ?? BACKGROUND_RING_ITERATIONS) : undefined;
        last = await trainStep(model, weights, adam, { x, y, meta, ...(regions ? { regions } : {}) }, stepOpts);
      } finally {
        tf.dispose([x, y, ...meta]);
      }
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
        etaSec: (samplesTotal - done) / samplesPerSec,
      });
      // Let timers, IPC and abort signals run between steps.
      await new Promise((r) => setImmediate(r));
    }
  }
  const meanLosses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])) as unknown as StepLosses;
  return { steps, samples: done, meanLosses, lastLosses: last, elapsedMs: performance.now() - t0 };
}
