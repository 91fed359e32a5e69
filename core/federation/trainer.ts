// What a federated site does with its own data, behind one interface, so the client (transport,
// rounds, reconnects, audit) is independent of the learner. The real implementation is
// learner-trainer.ts (U-Net + ELCFS / FedAvg local training, ALGORITHMS.md §1-5); transport tests use a
// light arithmetic trainer (test/federation/helpers) because they are about the wire, not the maths.
import type { ModelSpec, TrainConfig, TrainMode } from '../contract/hub-protocol.js';
import type { NamedArray } from '../contract/weights.js';

/** One amplitude window (ALGORITHMS.md §2): C x (2b+1)^2 floats, channel-major, fftshifted. */
export interface SpectrumWindow {
  channels: number;
  halfWidth: number;
  data: Float32Array;
}

export interface WorkProgress {
  (fraction: number, note?: string): void;
}

export interface TrainRequest {
  round: number;
  mode: TrainMode;
  model: ModelSpec;
  config: TrainConfig;
  global: NamedArray[];
  /** Other source sites' windows, grouped by (anonymous) source; empty in FedAvg mode. */
  bank: SpectrumWindow[][];
  onProgress: WorkProgress;
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
  /** Training-sample count N_k (FedAvg weight). Eval sites may return their test count. */
  numSamples(): number;
  /** The amplitude windows of this site's training images for window fraction alpha. */
  spectrumWindows(alpha: number, maxWindows: number): Promise<SpectrumWindow[]>;
  /** The initial global model built from spec.seed (ALGORITHMS.md §1: one global initialisation). */
  initWeights(spec: ModelSpec): Promise<NamedArray[]>;
  train(req: TrainRequest): Promise<TrainResult>;
  evaluate(req: EvaluateRequest): Promise<EvaluateResult>;
  /** Frees resources (tensors, optimiser state). */
  dispose?(): void;
}
