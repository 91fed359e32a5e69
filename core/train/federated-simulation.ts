// In-process federated simulation (no network): FedDG's protocol (ALGORITHMS.md §1).
// K source sites start from ONE global initialisation (FedSeg's default), each round every source
// site runs trainLocal (ELCFS or FedAvg) from the current global weights with its own Adam state (kept
// across rounds, never averaged), then the server averages by sample count:
//   theta = sum_k (N_k / N) theta_k,  N_k = site k's training-sample count.
// After every round the global model is evaluated on the held-out (unseen) site with the reference
// evaluation (§6, core/train/evaluate.ts). The unseen site never trains and never contributes spectra;
// each source site's amplitude bank holds the windows of the *other* source sites' training images.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import { extractAmplitudeWindow, presetAlpha } from '../freq/amplitude-interpolation.js';
import { Adam, type AdamConfig } from './adam.js';
import { trainLocal, type AmplitudeBankEntry, type TrainLocalOptions, type TrainProgress } from './local-training.js';
import { evaluateModel, type EvaluateOptions, type EvaluationSummary } from './evaluate.js';
import type { StepLosses } from './episodic-step.js';

export interface SimulationSite {
  site: string;
  /** Training samples (source sites) / test samples (the unseen site, unless `test` is given). */
  samples: Sample[];
  /** Optional separate test split. */
  test?: Sample[];
}

type LocalPassThrough = Omit<TrainLocalOptions, 'model' | 'weights' | 'samples' | 'adam' | 'seed' | 'amplitudeBank' | 'site' | 'onProgress' | 'signal'>;

export interface FederatedSimulationOptions extends LocalPassThrough {
  model: SegModel;
  sites: SimulationSite[];
  /** Name of the held-out site (leave-one-site-out). */
  unseen: string;
  rounds: number;
  seed: number;
  /** CFSI window fraction; default: FedSeg's preset for the image size (alpha 0.003, at least b = 1). */
  alpha?: number;
  adamConfig?: Partial<AdamConfig>;
  evaluation?: Omit<EvaluateOptions, 'signal' | 'onProgress' | 'keepPredictions'>;
  onRound?: (m: RoundMetrics) => void;
  onProgress?: (site: string, round: number, p: TrainProgress) => void;
  signal?: AbortSignal;
}

export interface RoundMetrics {
  round: number;
  sites: { site: string; samples: number; meanLosses: StepLosses; elapsedMs: number }[];
  /** Evaluation of the averaged global model on the unseen site. */
  unseen: { site: string } & EvaluationSummary;
  elapsedMs: number;
}

export interface SimulationResult {
  /** Final global weights (the caller disposes). */
  weights: WeightMap;
  rounds: RoundMetrics[];
}

/** theta = sum_k (N_k / N) theta_k over identical weight maps; fresh tensors. */
export function fedAvg(maps: WeightMap[], counts: number[]): WeightMap {
  if (maps.length === 0 || maps.length !== counts.length) throw new FedSegError('INVALID_ARGUMENT', `fedAvg: ${maps.length} weight maps but ${counts.length} counts`);
  if (counts.some((c) => !(c > 0) || !Number.isFinite(c))) throw new FedSegError('INVALID_ARGUMENT', `fedAvg: sample counts must be positive, got [${counts}]`);
  const total = counts.reduce((a, b) => a + b, 0);
  const names = Object.keys(maps[0]!);
  for (const m of maps)
    for (const n of names) {
      const t = m[n];
      if (!t) throw new FedSegError('INVALID_ARGUMENT', `fedAvg: weight '${n}' missing from a site's map`);
      if (t.shape.some((d, i) => d !== maps[0]![n]!.shape[i])) throw new FedSegError('SHAPE_MISMATCH', `fedAvg: weight '${n}' shapes differ between sites`);
    }
  const out: WeightMap = {};
  for (const n of names) out[n] = tf.tidy(() => tf.addN(maps.map((m, k) => tf.mul(m[n]!, counts[k]! / total))));
  return out;
}

export function cloneWeights(w: WeightMap): WeightMap {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.clone()]));
}

export function disposeWeights(w: WeightMap): void {
  for (const t of Object.values(w)) t.dispose();
}

/** Runs `rounds` federated rounds over the source sites and evaluates the unseen site after each. */
export async function runFederatedSimulation(opts: FederatedSimulationOptions): Promise<SimulationResult> {
  const { model, sites, unseen, rounds, seed } = opts;
  if (!Number.isInteger(rounds) || rounds < 1) throw new FedSegError('INVALID_ARGUMENT', `federated simulation: rounds must be a positive integer, got ${rounds}`);
  const test = sites.find((s) => s.site === unseen);
  if (!test) throw new FedSegError('NOT_FOUND', `federated simulation: unseen site '${unseen}' is not among [${sites.map((s) => s.site)}]`);
  const sources = sites.filter((s) => s.site !== unseen);
  if (sources.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'federated simulation: need at least one source site besides the unseen one');
  if (new Set(sites.map((s) => s.site)).size !== sites.length) throw new FedSegError('INVALID_ARGUMENT', 'federated simulation: site names must be unique');
  const testSamples = test.test ?? test.samples;

  // Spectra: each source site's windows (only the window is ever shared, ALGORITHMS.md §2).
  const banks = new Map<string, AmplitudeBankEntry>();
  if (opts.mode === 'elcfs') {
    for (const s of sources) {
      const img = s.samples[0]!.image;
      const alpha = opts.alpha ?? presetAlpha(img.height, img.width);
      banks.set(s.site, { site: s.site, windows: s.samples.map((x) => extractAmplitudeWindow(x.image, alpha)) });
    }
  }
  const adams = new Map(sources.map((s) => [s.site, new Adam(opts.adamConfig ?? {})]));
  let global = model.init(seed);
  const history: RoundMetrics[] = [];
  const { model: _m, sites: _s, unseen: _u, rounds: _r, seed: _sd, alpha: _a, adamConfig: _ac, evaluation, onRound, onProgress, signal, ...local } = opts;
  try {
    for (let round = 1; round <= rounds; round++) {
      const t0 = performance.now();
      const locals: WeightMap[] = [];
      const siteMetrics: RoundMetrics['sites'] = [];
      try {
        for (const [k, s] of sources.entries()) {
          const w = cloneWeights(global);
          locals.push(w);
          const res = await trainLocal({
            ...local,
            model,
            weights: w,
            samples: s.samples,
            adam: adams.get(s.site)!,
            seed: (seed * 1_000_003 + round * 1009 + k * 7919) >>> 0,
            site: s.site,
            amplitudeBank: [...banks.values()].filter((b) => b.site !== s.site),
            ...(onProgress ? { onProgress: (p: TrainProgress) => onProgress(s.site, round, p) } : {}),
            ...(signal ? { signal } : {}),
          });
          siteMetrics.push({ site: s.site, samples: s.samples.length, meanLosses: res.meanLosses, elapsedMs: res.elapsedMs });
        }
        const next = fedAvg(
          locals,
          sources.map((s) => s.samples.length),
        );
        disposeWeights(global);
        global = next;
      } finally {
        locals.forEach(disposeWeights);
      }
      const ev = await evaluateModel(model, global, testSamples, { ...(evaluation ?? {}), ...(signal ? { signal } : {}) });
      const { perImage: _p, ...summary } = ev;
      const m: RoundMetrics = { round, sites: siteMetrics, unseen: { site: unseen, ...summary }, elapsedMs: performance.now() - t0 };
      history.push(m);
      onRound?.(m);
    }
  } catch (e) {
    disposeWeights(global);
    throw e;
  } finally {
    for (const a of adams.values()) a.dispose();
  }
  return { weights: global, rounds: history };
}
