// A light arithmetic trainer for TRANSPORT tests only (the hub, ws and SQLite are real): it moves every
// weight a fixed fraction towards a per-site target, so FedAvg's result is predictable, and reports
// deterministic spectrum windows. Tests that are about learning use the run API's Participation (core/run/participation.ts).
import { FedSegError } from '../../../core/contract/errors.js';
import { MODEL_KINDS, type ModelKind, type ModelSpec } from '../../../core/contract/model-spec.js';
import type { NamedArray } from '../../../core/contract/weights.js';
import type { EvaluateRequest, SiteTrainer, SpectrumWindow, TrainRequest } from '../../../core/federation/trainer.js';

export interface FakeTrainerOptions {
  /** Each weight moves to global + step * (target - global). */
  target: number;
  step?: number;
  samples: number;
  /** Shapes of the fake model (name -> shape). */
  shapes?: Record<string, number[]>;
  windows?: number;
  /** The windows' shape and value (spectrum poisoning tests); default 3 channels, half-width 1, ~target*100. */
  windowShape?: { channels: number; halfWidth: number; value?: number };
  /** Simulated work per round (ms), in slices so progress/heartbeats happen. */
  workMs?: number;
  /** Poison the update with a NaN (abuse tests). */
  nan?: boolean;
  /** Called at the start of every train() (tests use it to kill/stop things mid-round). */
  onTrain?: (req: TrainRequest) => void | Promise<void>;
}

/** Sleeps ms, or less if the signal aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const DEFAULT_SHAPES: Record<string, number[]> = { 'enc0/conv0/w': [3, 3, 3, 4], 'enc0/conv0/b': [4], 'head/w': [1, 1, 4, 2], 'head/b': [2] };

export class FakeTrainer implements SiteTrainer {
  readonly backend = 'fake';
  readonly kinds: readonly ModelKind[] = MODEL_KINDS;
  trained: number[] = [];
  evaluated: number[] = [];
  banks: SpectrumWindow[][][] = [];
  constructor(private readonly o: FakeTrainerOptions) {}

  numSamples(): number {
    return this.o.samples;
  }

  async spectrumWindows(_alpha: number, max: number): Promise<SpectrumWindow[]> {
    const n = Math.min(max, this.o.windows ?? 3);
    const { channels, halfWidth, value } = this.o.windowShape ?? { channels: 3, halfWidth: 1 };
    const len = channels * (2 * halfWidth + 1) ** 2;
    return Array.from({ length: n }, (_, i) => ({ channels, halfWidth, data: Float32Array.from({ length: len }, (_, j) => value ?? this.o.target * 100 + i + j / 100) }));
  }

  async initWeights(_spec: ModelSpec, seed: number): Promise<NamedArray[]> {
    return Object.entries(this.o.shapes ?? DEFAULT_SHAPES).map(([name, shape]) => ({
      name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7 + seed) % 11) / 11),
    }));
  }

  async train(req: TrainRequest) {
    this.banks.push(req.bank);
    await this.o.onTrain?.(req);
    const slices = 4;
    for (let i = 0; i < slices; i++) {
      await pause((this.o.workMs ?? 0) / slices, req.signal);
      if (req.signal?.aborted) throw new FedSegError('CANCELLED', 'training cancelled'); // a stopped site leaves no timers behind
      req.onProgress((i + 1) / slices);
    }
    this.trained.push(req.round);
    const step = this.o.step ?? 0.5;
    const weights = req.global.map((g) => {
      const data = new Float32Array(g.data.length);
      for (let i = 0; i < data.length; i++) data[i] = g.data[i]! + step * (this.o.target - g.data[i]!);
      if (this.o.nan) data[0] = NaN;
      return { name: g.name, shape: g.shape, data };
    });
    return { weights, numSamples: this.o.samples, metrics: { loss: Math.abs(this.o.target - (req.global[0]?.data[0] ?? 0)) } };
  }

  async evaluate(req: EvaluateRequest) {
    this.evaluated.push(req.round);
    const mean = req.global.reduce((a, g) => a + g.data.reduce((x, y) => x + y, 0), 0) / req.global.reduce((a, g) => a + g.data.length, 0);
    return { numSamples: this.o.samples, metrics: { meanWeight: mean } };
  }
}
