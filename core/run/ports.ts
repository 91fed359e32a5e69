// What the run API needs from a site's store, declared here so the learner layer never touches SQLite:
// the site's DatasetStore (core/store/dataset-store.ts) satisfies these structurally, and so does the
// in-memory twin. Runs read samples as arrays (the caller loads them) and write checkpoints, metrics
// and amplitude windows through these ports.
import type { CheckpointRecord as StoredCheckpoint, NewCheckpoint as NewCheckpointRecord } from '../contract/checkpoint.js';
import type { AmplitudeWindow } from '../freq/window.js';

/** The checkpoint shapes are the contract's (core/contract/checkpoint.ts), shared with the store. */
export type { CheckpointRecord as StoredCheckpoint, NewCheckpoint as NewCheckpointRecord } from '../contract/checkpoint.js';

/** Checkpoint storage (models, optimiser state, pending federated updates). */
export interface CheckpointLedger {
  saveCheckpoint(c: NewCheckpointRecord): StoredCheckpoint;
  listCheckpoints(q?: { runId?: number }): StoredCheckpoint[];
  getCheckpoint(id: number): StoredCheckpoint | null;
  loadCheckpoint(id: number): Uint8Array;
  deleteCheckpoint(id: number): void;
  /** Runs fn in one transaction; a throw rolls everything back. */
  transaction<T>(fn: () => T): T;
}

/** A local run also records its per-epoch metrics. */
export interface RunLedger extends CheckpointLedger {
  putRoundMetrics(runId: number, round: number, metrics: Record<string, number>): void;
}

/** Amplitude windows kept for the operator to see (what was shared and what was received). */
export interface WindowLedger {
  putAmplitudeWindows(ws: {
    source: 'local' | 'received'; site: string; datasetId?: number | null; sampleName?: string | null; alpha: number; round?: number | null; window: AmplitudeWindow;
  }[]): number[];
  deleteAmplitudeWindows(q?: { source?: 'local' | 'received'; site?: string; datasetId?: number }): number;
}

/** Settings the run API reads (legacy model specs of older stores). */
export interface SettingsLedger {
  getSetting<T = unknown>(key: string): T | undefined;
}
