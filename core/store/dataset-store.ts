// The site's catalogue: datasets and samples (image + mask blobs with shape, dtype and
// spacing), amplitude windows (local and received, docs/algorithms.md §2 CFSI), model checkpoints (frames
// from core/contract/weights.ts encodeWeights), training runs with per-round metrics, settings and an
// append-only audit log of everything sent or received over the network (docs/product.md "What leaves
// this hospital"). Two implementations share this interface and one contract test suite:
// sqlite-store.ts (better-sqlite3, WAL, foreign keys, every multi-row write in one transaction) and
// memory-store.ts (an in-memory twin for tests and ephemeral demos).
import type { CheckpointRecord, NewCheckpoint } from '../contract/checkpoint.js';
import type { Sample } from '../contract/image.js';

/** Same shape as core/freq/amplitude-interpolation.ts AmplitudeWindow (structural, no import). */
export interface AmplitudeWindowData {
  channels: number;
  halfWidth: number;
  /** channels * (2 * halfWidth + 1)^2 floats, channel-major, fftshifted window rows. */
  data: Float32Array;
}

export type SampleSplit = 'train' | 'test' | 'val';

export interface NewDataset {
  /** Unique, 1..200 characters. */
  name: string;
  /** 'fundus' | 'prostate' | 'cells' | anything descriptive. */
  kind?: string;
  /** Where it came from (folder path, 'synthetic:fundus seed=0', ...). */
  source?: string;
  channels: number;
  classes: number;
  /** One name per mask class (defaults to class0, class1, ...). */
  classNames?: string[];
  meta?: Record<string, unknown>;
}

export interface DatasetInfo {
  id: number;
  name: string;
  kind: string;
  source: string;
  channels: number;
  classes: number;
  classNames: string[];
  meta: Record<string, unknown>;
  createdAt: string;
  sampleCount: number;
}

/** A sample to store: a contract Sample plus optional split, pixel spacing (mm) and metadata. */
export interface NewSample extends Sample {
  split?: SampleSplit | null;
  /** [row spacing, column spacing] in mm, e.g. from a NIfTI header. */
  spacing?: [number, number] | null;
  meta?: Record<string, unknown>;
}

/** Per-sample summary without pixel data (for paging in the UI and for statistics). */
export interface SampleSummary {
  id: number;
  datasetId: number;
  name: string;
  split: SampleSplit | null;
  width: number;
  height: number;
  channels: number;
  classes: number;
  imageDtype: 'uint8' | 'float32';
  spacing: [number, number] | null;
  /** Image intensity summary over all pixels and channels. */
  min: number;
  max: number;
  mean: number;
  std: number;
  /** Fraction of pixels that are 1, per mask class. */
  foreground: number[];
  meta: Record<string, unknown>;
}

export interface StoredSample extends NewSample {
  id: number;
  datasetId: number;
  split: SampleSplit | null;
  spacing: [number, number] | null;
}

export interface SampleQuery {
  split?: SampleSplit;
  offset?: number;
  limit?: number;
}

export interface NewAmplitudeWindow {
  source: 'local' | 'received';
  /** Site the window belongs to (this site's name for local windows, the sender for received). */
  site: string;
  datasetId?: number | null;
  sampleName?: string | null;
  /** Window size parameter alpha used to extract it. */
  alpha: number;
  round?: number | null;
  window: AmplitudeWindowData;
}

export interface AmplitudeWindowRecord extends NewAmplitudeWindow {
  id: number;
  datasetId: number | null;
  sampleName: string | null;
  round: number | null;
  createdAt: string;
}

export interface AmplitudeQuery {
  source?: 'local' | 'received';
  site?: string;
  datasetId?: number;
}

export type { NewCheckpoint };

export interface CheckpointInfo extends CheckpointRecord {
  bytes: number;
  /** Hex sha256 of the blob. */
  sha256: string;
}

export type RunStatus = 'running' | 'finished' | 'failed' | 'cancelled';

export interface NewRun {
  name: string;
  config: Record<string, unknown>;
}

export interface RunInfo {
  id: number;
  name: string;
  status: RunStatus;
  config: Record<string, unknown>;
  summary: Record<string, unknown> | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface RoundMetrics {
  runId: number;
  round: number;
  metrics: Record<string, number>;
  at: string;
}

export interface NewAuditEntry {
  direction: 'out' | 'in';
  /** What was exchanged: 'amplitude-window', 'weights-update', 'global-model', 'hello', ... */
  kind: string;
  bytes: number;
  /** The other side (hub URL or site name). */
  peer: string;
  summary: string;
}

export interface AuditEntry extends NewAuditEntry {
  id: number;
  at: string;
}

export interface AuditQuery {
  direction?: 'out' | 'in';
  kind?: string;
  /** Only entries with id > afterId (for tailing). */
  afterId?: number;
  /** Newest first when true (default false: oldest first). */
  newestFirst?: boolean;
  limit?: number;
}

/**
 * A staged import: samples are validated and staged outside the live tables; `commit()` creates the
 * dataset (or appends to an existing one) and moves every staged sample in one transaction. An
 * aborted or failed import leaves the database exactly as before.
 */
/** A sample's pixels and mask as stored, with its summary statistics (codec.ts encodeSample). */
export interface EncodedSample {
  imageDtype: 'uint8' | 'float32';
  image: Uint8Array;
  mask: Uint8Array;
  min: number;
  max: number;
  mean: number;
  std: number;
  foreground: number[];
}

export interface ImportSession {
  /**
   * Stages samples (validated; duplicate names within the import or the target dataset throw).
   * `encoded[i]`, when given, is checkStorableSample's result for samples[i]: the pixels are then not
   * encoded a second time.
   */
  add(samples: NewSample[], encoded?: readonly EncodedSample[]): void;
  readonly staged: number;
  commit(): DatasetInfo;
  abort(): void;
}

export type ImportTarget = { dataset: NewDataset } | { datasetId: number };

export interface DatasetStore {
  readonly backend: 'sqlite' | 'memory';
  /** Schema version of the open database. */
  schemaVersion(): number;
  /** Runs fn in one transaction (nested calls become savepoints); a throw rolls everything back. */
  transaction<T>(fn: () => T): T;
  close(): void;

  // --- datasets -------------------------------------------------------------------------------
  createDataset(d: NewDataset): DatasetInfo;
  getDataset(idOrName: number | string): DatasetInfo | null;
  listDatasets(): DatasetInfo[];
  renameDataset(id: number, name: string): DatasetInfo;
  deleteDataset(id: number): void;

  // --- samples --------------------------------------------------------------------------------
  /** Adds samples to a dataset in one transaction; returns their ids. */
  addSamples(datasetId: number, samples: NewSample[]): number[];
  beginImport(target: ImportTarget): ImportSession;
  countSamples(datasetId: number, split?: SampleSplit): number;
  /** Summaries (no pixels), ordered by id; for paging. */
  listSamples(datasetId: number, q?: SampleQuery): SampleSummary[];
  getSample(id: number): StoredSample | null;
  getSampleByName(datasetId: number, name: string): StoredSample | null;
  /** All samples (pixels included) of a dataset, ordered by id: what the learner trains on. */
  loadSamples(datasetId: number, q?: SampleQuery): StoredSample[];
  /** Iterates samples in id order without holding them all in memory. */
  iterateSamples(datasetId: number, q?: SampleQuery): IterableIterator<StoredSample>;
  deleteSamples(ids: number[]): void;
  setSplit(ids: number[], split: SampleSplit | null): void;

  // --- amplitude windows ----------------------------------------------------------------------
  putAmplitudeWindows(ws: NewAmplitudeWindow[]): number[];
  listAmplitudeWindows(q?: AmplitudeQuery): AmplitudeWindowRecord[];
  deleteAmplitudeWindows(q?: AmplitudeQuery): number;

  // --- models / checkpoints -------------------------------------------------------------------
  saveCheckpoint(c: NewCheckpoint): CheckpointInfo;
  listCheckpoints(q?: { runId?: number }): CheckpointInfo[];
  getCheckpoint(id: number): CheckpointInfo | null;
  loadCheckpoint(id: number): Uint8Array;
  /** The newest checkpoint (highest round, then newest) of a run, or overall. */
  latestCheckpoint(q?: { runId?: number }): CheckpointInfo | null;
  deleteCheckpoint(id: number): void;

  // --- training runs --------------------------------------------------------------------------
  createRun(r: NewRun): RunInfo;
  getRun(id: number): RunInfo | null;
  listRuns(): RunInfo[];
  finishRun(id: number, status: Exclude<RunStatus, 'running'>, summary?: Record<string, unknown>): RunInfo;
  /** Records (or replaces) one round's metrics. */
  putRoundMetrics(runId: number, round: number, metrics: Record<string, number>): void;
  listRoundMetrics(runId: number): RoundMetrics[];

  // --- settings (JSON values) -----------------------------------------------------------------
  getSetting<T = unknown>(key: string): T | undefined;
  setSetting(key: string, value: unknown): void;
  deleteSetting(key: string): void;
  listSettings(): Record<string, unknown>;

  // --- audit log (append-only) ----------------------------------------------------------------
  appendAudit(e: NewAuditEntry): AuditEntry;
  listAudit(q?: AuditQuery): AuditEntry[];
}

export interface StoreOptions {
  /** Clock for timestamps (tests pin it). */
  now?: () => Date;
}
