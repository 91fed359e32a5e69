// What a federated site does with its own data, behind one interface, so the client (transport,
// rounds, reconnects, audit) is independent of the learner. The real implementation is the run API's
// Participation (core/run/participation.ts: any registered network, ELCFS or FedAvg local training,
// docs/algorithms.md §1-5); transport tests use a light arithmetic trainer (test/federation/helpers)
// because they are about the wire, not the maths.
import type { TrainConfig, TrainMode } from '../contract/hub-protocol.js';
import type { ModelKind, ModelSpec } from '../contract/model-spec.js';
import type { NamedArray } from '../contract/weights.js';

/** One amplitude window (docs/algorithms.md §2): C x (2b+1)^2 floats, channel-major, fftshifted. */
export interface SpectrumWindow {
  channels: number;
  halfWidth: number;
  data: Float32Array;
}

/** Progress of the current work: fraction 0..1, a note for people, and the step counters when training. */
export interface WorkProgress {
  (fraction: number, note?: string, detail?: { step: number; steps: number; losses: Record<string, number> }): void;
}

export interface TrainRequest {
  round: number;
  mode: TrainMode;
  model: ModelSpec;
  /** Identifies the federated run (hub + its run id): optimiser state is kept per run. */
  runKey: string;
  config: TrainConfig;
  global: NamedArray[];
  /** Other source sites' windows, grouped by (anonymous) source, as the hub sent them (none under FedAvg); ELCFS local training uses them. */
  bank: SpectrumWindow[][];
  onProgress: WorkProgress;
  /** Aborted when the site stops or the round's deadline passes. */
  signal?: AbortSignal;
}

export interface TrainResult {
  weights: NamedArray[];
  numSamples: number;
  metrics: Record<string, number>;
}

export interface EvaluateRequest {
  round: number;
  model: ModelSpec;
  global: NamedArray[];
  onProgress: WorkProgress;
  signal?: AbortSignal;
}

export interface EvaluateResult {
  numSamples: number;
  metrics: Record<string, number>;
}

export interface SiteTrainer {
  /** Compute backend in use (reported to the hub in Hello). */
  readonly backend: string;
  /** Network kinds this site can build (reported in Hello; the hub refuses a site that cannot build its model). */
  readonly kinds: readonly ModelKind[];
  /** Names the data this trainer learns from (e.g. the datasets chosen): a kept update is re-sent only for the same data. */
  readonly dataKey?: string;
  /** The shape of this site's images, when it has any (a Flower ServerApp asks: docs/flower.md §5). */
  describe?(): { channels: number; height: number; width: number; classes: number } | null;
  /** Training-sample count N_k (FedAvg weight). Eval sites may return their test count. */
  numSamples(): number;
  /** The amplitude windows of this site's training images for window fraction alpha. */
  spectrumWindows(alpha: number, maxWindows: number): Promise<SpectrumWindow[]>;
  /** The initial global model: the spec's network initialised from `seed` (docs/algorithms.md §1: one global initialisation). */
  initWeights(spec: ModelSpec, seed: number): Promise<NamedArray[]>;
  train(req: TrainRequest): Promise<TrainResult>;
  evaluate(req: EvaluateRequest): Promise<EvaluateResult>;
  /** Frees resources (tensors, optimiser state). */
  dispose?(): void;
}
