// A local training run (the app's Train page, `fedseg asc experiment`): epochs of core/train's local
// training over one or more datasets, then after every epoch batch-norm calibration (where the network
// has it), a check on held-out images (Dice, docs/algorithms.md §6) and a checkpoint of the model and
// its optimiser. Cancel stops after the current step and keeps a (partial) checkpoint; resume continues
// from the last one, optimiser included. With ELCFS (§2, §5) every dataset is one "site" of the
// amplitude bank; softmax networks (§7) train with cross-entropy.
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import { extractAmplitudeWindow } from '../freq/window-dft.js';
import { presetAlpha } from '../freq/window.js';
import type { Network } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { disposeWeights, toNamedArraysAsync, toWeightMap } from '../models/weight-map.js';
import { trainLocal, type AmplitudeBankEntry, type LocalMode } from '../train/local-training.js';
import type { NamedArray } from '../contract/weights.js';
import { calibrateRunningStats } from './batch-norm.js';
import { listModelRecords, loadOptimiser, readModel, saveModel, saveOptimiser } from './checkpoints.js';
import { evaluateNetwork } from './evaluation.js';
import { optimiserFor } from './optimiser.js';
import { trainingFit, trainingInput } from './network-input.js';
import type { RunLedger } from './ports.js';

export interface LocalSite {
  site: string;
  train: Sample[];
  /** Held-out images checked after every epoch (may be empty). */
  val: Sample[];
}

export interface LocalRunConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** ELCFS (needs 2 or more sites and a sigmoid network); otherwise plain Dice / cross-entropy steps. */
  elcfs: boolean;
  /** Cap on optimisation steps over the whole run (0 = none). */
  maxSteps: number;
}

export interface LocalRunProgress {
  phase: 'training' | 'evaluating';
  epoch: number;
  epochs: number;
  step: number;
  totalSteps: number;
  /** Named loss terms of the last step (total first). */
  losses: Record<string, number>;
  samplesPerSec: number;
  etaSec: number | null;
  message: string;
  /** Held-out Dice per class after an epoch's check. */
  dice: number[] | null;
}

export interface LocalRunOptions {
  net: Network;
  sites: LocalSite[];
  config: LocalRunConfig;
  /** Checkpoints and metrics go here (with runId); without a ledger nothing is stored. */
  ledger?: RunLedger;
  runId?: number;
  /** Checkpoint names start with it. */
  name: string;
  /** Continue from that run's last checkpoint (weights, optimiser, epoch and step counters). */
  resumeFromRunId?: number | null;
  /** Start from these weights instead of the network's seeded initialisation. */
  init?: NamedArray[];
  onProgress?: (p: LocalRunProgress) => void;
  signal?: AbortSignal;
  /** Hand the final weights to the caller (who disposes them). */
  keepWeights?: boolean;
}

export interface LocalRunResult {
  status: 'finished' | 'cancelled';
  /** The newest model checkpoint written (null without a ledger or when nothing was saved). */
  modelId: number | null;
  steps: number;
  epochs: number;
  message: string;
  weights?: WeightMap;
}

/** The optimiser key of a local run (optimiser state is keyed by run, never shared). */
export const localRunKey = (runId: number) => `run:${runId}`;

function lossNames(mode: LocalMode, l: { inner: number; metaDice: number; boundary: number; total: number }): Record<string, number> {
  if (mode === 'softmax') return { total: l.total, crossEntropy: l.inner };
  if (mode === 'elcfs') return { total: l.total, diceLoss: l.inner, metaDiceLoss: l.metaDice, boundary: l.boundary };
  return { total: l.total, diceLoss: l.inner };
}

export async function runLocal(o: LocalRunOptions): Promise<LocalRunResult> {
  const { net, config: cfg } = o;
  if (o.ledger && o.runId === undefined) throw new FedSegError('INVALID_ARGUMENT', 'local run: a ledger needs a runId');
  const train = o.sites.flatMap((s) => s.train);
  const val = o.sites.flatMap((s) => s.val);
  if (train.length === 0) throw new FedSegError('INVALID_INPUT', 'local run: no training images');
  const { height: h, width: w } = train[0]!.image;
  const unfit = trainingFit(net, h, w);
  if (unfit) throw new FedSegError('SHAPE_MISMATCH', `local run: ${unfit}`);
  const mode: LocalMode = net.output === 'softmax' ? 'softmax' : cfg.elcfs && o.sites.length >= 2 ? 'elcfs' : 'fedavg';
  const bank: AmplitudeBankEntry[] = mode === 'elcfs'
    ? o.sites.map((s) => ({ site: s.site, windows: s.train.map((x) => extractAmplitudeWindow(x.image, presetAlpha(h, w, 'default'))) }))
    : [];

  // ---- weights, optimiser, counters ----
  let epochsDone = 0;
  let step = 0;
  let weights: WeightMap;
  let optState: NamedArray[] | null = null;
  if (o.resumeFromRunId !== undefined && o.resumeFromRunId !== null) {
    if (!o.ledger) throw new FedSegError('INVALID_ARGUMENT', 'local run: resuming needs a ledger');
    const last = listModelRecords(o.ledger, undefined, { runId: o.resumeFromRunId }).at(-1);
    if (!last) throw new FedSegError('NOT_FOUND', 'the run to resume has no checkpoint');
    const m = readModel(o.ledger, last.info.id);
    if (JSON.stringify(m.spec) !== JSON.stringify(net.spec)) throw new FedSegError('SHAPE_MISMATCH', 'the run to resume trained another network');
    weights = toWeightMap(m.arrays, net.shapes);
    optState = loadOptimiser(o.ledger, localRunKey(o.resumeFromRunId));
    epochsDone = m.meta.epoch;
    step = m.meta.step;
  } else {
    weights = o.init ? toWeightMap(o.init, net.shapes) : net.model.init(cfg.seed);
  }
  const adam = optimiserFor(net, cfg.learningRate, optState);
  const perEpoch = Math.ceil(train.length / cfg.batchSize);
  const totalSteps = cfg.maxSteps > 0 ? Math.min(perEpoch * cfg.epochs, cfg.maxSteps) : perEpoch * cfg.epochs;
  let modelId: number | null = null;
  let lastLosses: Record<string, number> = {};

  const save = async (epoch: number, partial: boolean) => {
    if (!o.ledger) return;
    const ledger = o.ledger;
    const runId = o.runId!;
    // Readbacks first (awaited: webgpu in Node has no synchronous read), then one store transaction.
    const arrays = await toNamedArraysAsync(weights);
    const opt = await adam.toNamedArraysAsync();
    const old = listModelRecords(ledger, undefined, { runId });
    modelId = ledger.transaction(() => {
      const info = saveModel(ledger, { name: `${o.name} · epoch ${epoch}${partial ? ' (partial)' : ''}`, spec: net.spec, arrays, source: 'local', runId, round: epoch, epoch, step, partial });
      saveOptimiser(ledger, localRunKey(runId), opt, { step, runId, name: `${o.name} · optimiser` });
      for (const r of old) ledger.deleteCheckpoint(r.info.id);
      return info.id;
    });
  };

  const emit = (p: Omit<LocalRunProgress, 'epochs' | 'totalSteps'>) => o.onProgress?.({ ...p, epochs: cfg.epochs, totalSteps });
  const outcome = (status: LocalRunResult['status'], message: string): LocalRunResult => {
    const r: LocalRunResult = { status, modelId, steps: step, epochs: epochsDone, message };
    if (o.keepWeights) r.weights = weights;
    else disposeWeights(weights);
    return r;
  };
  try {
    for (let epoch = epochsDone + 1; epoch <= cfg.epochs && step < totalSteps; epoch++) {
      const before = step;
      try {
        await trainLocal({
          model: net.model, weights, samples: train, adam, mode, seed: cfg.seed * 1000 + epoch, epochs: 1, batchSize: cfg.batchSize,
          amplitudeBank: bank, input: trainingInput(net), maxSteps: totalSteps - step, ...(o.signal ? { signal: o.signal } : {}),
          onProgress: (p) => {
            step = before + p.step;
            lastLosses = lossNames(mode, p.losses);
            emit({
              phase: 'training', epoch, step, losses: lastLosses, samplesPerSec: p.samplesPerSec, dice: null,
              etaSec: p.samplesPerSec > 0 ? ((totalSteps - step) * cfg.batchSize) / p.samplesPerSec : null, message: `epoch ${epoch} of ${cfg.epochs}`,
            });
          },
        });
      } catch (e) {
        if (!(e instanceof FedSegError && e.code === 'CANCELLED')) throw e;
        await save(epoch - 1, true);
        return outcome('cancelled', `cancelled at step ${step} of ${totalSteps}; the last weights were kept`);
      }
      // A stored or checked model needs its batch-norm statistics; an unstored run only at its end.
      const last = step >= totalSteps || epoch === cfg.epochs;
      if (o.ledger || val.length > 0 || last) await calibrateRunningStats(net, weights, train.map((s) => s.image), cfg.batchSize);
      let dice: number[] | null = null;
      if (val.length > 0) {
        emit({ phase: 'evaluating', epoch, step, losses: lastLosses, samplesPerSec: 0, etaSec: null, dice: null, message: `checking ${val.length} held-out image(s)` });
        dice = (await evaluateNetwork(net, weights, val, o.signal ? { signal: o.signal } : {})).meanDice;
      }
      epochsDone = epoch;
      await save(epoch, false);
      const meanDice = dice ? dice.reduce((a, b) => a + b, 0) / dice.length : NaN;
      const loss = lastLosses.total;
      o.ledger?.putRoundMetrics(o.runId!, epoch, {
        step, ...(loss !== undefined && Number.isFinite(loss) ? { loss } : {}),
        ...(dice ? { dice: meanDice, ...Object.fromEntries(dice.map((d, c) => [`dice_c${c}`, d])) } : {}),
      });
      emit({ phase: 'evaluating', epoch, step, losses: lastLosses, samplesPerSec: 0, etaSec: null, dice, message: dice ? `mean Dice ${meanDice.toFixed(3)} on held-out images` : 'no held-out images' });
    }
  } catch (e) {
    disposeWeights(weights);
    if (e instanceof FedSegError && e.code === 'CANCELLED') return { status: 'cancelled', modelId, steps: step, epochs: epochsDone, message: e.message };
    throw e;
  } finally {
    adam.dispose();
  }
  return outcome('finished', `finished ${step} step(s)`);
}
