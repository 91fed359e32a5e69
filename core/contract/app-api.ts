// The app API: every renderer -> backend method and every backend -> renderer event, declared ONCE.
// Each method is a pair of zod schemas (args, result); each event one schema. From this one object the
// compiler derives (GitButler's derived bridge type, docs/architecture.md):
//   - AppHandlers: the engine's handler table (a missing method is a compile error),
//   - AppClient:   the renderer's typed client (Electron preload and browser WebSocket alike),
//   - AppBridge:   the shape of `window.api` exposed by the Electron preload.
// Arguments are validated with these schemas at every boundary (IPC, WebSocket). Results travel in an
// envelope {ok: true, value} | {ok: false, error: {code, message}} so errors cross as plain values.
// Types + schemas only: no logic, no node:, no DOM (see eslint.config.js).
import { z } from 'zod';
import type { ErrorValue } from './errors.js';
import { ModelSourceSchema } from './checkpoint.js';
import { ModelKindSchema } from './model-spec.js';
import { SitePolicySchema } from './site-policy.js';
import { STRATEGY_NAMES } from './strategy-names.js';

// ---------- shared value schemas ----------
export const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected a byte array' });
export const Floats = z.custom<Float32Array>((v) => v instanceof Float32Array, { message: 'expected a float array' });
const Id = z.string().min(1).max(200);
const NonNegInt = z.number().int().min(0);

/** An 8-bit picture ready to draw: HWC, channels 1 (grey), 3 (RGB) or 4 (RGBA). */
export const Raster = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3), z.literal(4)]),
  pixels: Bytes,
});
export type Raster = z.infer<typeof Raster>;

/** A multi-label mask (HWC 0/1), the same layout as MaskU8 in image.ts. */
export const MaskView = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  classes: z.number().int().positive(),
  data: Bytes,
});
export type MaskView = z.infer<typeof MaskView>;

/** A single-channel float field (rate field, log-amplitude spectrum) with its range. */
export const FloatField = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  data: Floats,
  min: z.number(),
  max: z.number(),
});
export type FloatField = z.infer<typeof FloatField>;

export const DatasetSummary = z.object({
  id: Id,
  name: z.string(),
  site: z.string(),
  modality: z.string(),
  count: NonNegInt,
  width: NonNegInt,
  height: NonNegInt,
  channels: NonNegInt,
  classes: NonNegInt,
  classNames: z.array(z.string()),
  createdAt: z.string(),
});
export type DatasetSummary = z.infer<typeof DatasetSummary>;

export const DatasetStats = z.object({
  datasetId: Id,
  count: NonNegInt,
  sizes: z.array(z.object({ width: NonNegInt, height: NonNegInt, count: NonNegInt })),
  /** Mean fraction of pixels labelled, per class. */
  labelFractions: z.array(z.number()),
  /** Number of samples whose mask is empty, per class. */
  emptyMasks: z.array(NonNegInt),
  intensityMean: z.number(),
  intensityStd: z.number(),
});
export type DatasetStats = z.infer<typeof DatasetStats>;

/**
 * How a folder is laid out. Folder kinds read PNG/JPEG images with masks matched by file name (in the
 * same folder or in images/ + masks/ sub-folders): refuge = REFUGE grey levels (0 cup, 128 rim, 255
 * background); labelmap = fundus labels (1 rim, 2 cup); mask = one structure, any non-zero pixel;
 * binary = one file per structure (name-Disc-T.png, name-Cup-T.png). dofe = DomainK/{train,test}/ROIs
 * (one dataset per domain). feddg-npy = FedDG .npy (H x W x 5). nifti = volumes + label volumes, sliced.
 */
export const ImportConvention = z.enum(['auto', 'dofe', 'folder-refuge', 'folder-labelmap', 'folder-mask', 'folder-binary', 'feddg-npy', 'nifti']);
export type ImportConvention = z.infer<typeof ImportConvention>;

export const ImportPreviewItem = z.object({
  name: z.string(),
  width: NonNegInt,
  height: NonNegInt,
  hasMask: z.boolean(),
  thumbnail: Raster.nullable(),
  /** The mask at the thumbnail's size, to draw over it; null when the file could not be read. */
  maskThumbnail: MaskView.nullable(),
  problems: z.array(z.string()),
});

/** A file the import would reject, and why (the first check it failed). */
export const ImportFileProblem = z.object({ name: z.string(), problem: z.string() });

export const ModelSummary = z.object({
  id: Id,
  name: z.string(),
  kind: z.string(),
  /** One line: kind, size, channels and classes (describeSpec). */
  description: z.string(),
  source: ModelSourceSchema,
  inChannels: NonNegInt,
  classes: NonNegInt,
  createdAt: z.string(),
  runId: z.string().nullable(),
  round: z.number().int().nullable(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

export const SegMetrics = z.object({
  dice: z.array(z.number()),
  hd95: z.array(z.number().nullable()),
});
export type SegMetrics = z.infer<typeof SegMetrics>;

/** unet / asc-unet: sigmoid multi-label (the ELCFS learner); ascnet-7/-14, cnn-7, dilated-7: softmax over nested labels. */
export const ModelKind = ModelKindSchema;
export type ModelKind = z.infer<typeof ModelKind>;

export const TrainingConfig = z.object({
  name: z.string().min(1).max(120),
  datasetIds: z.array(Id).min(1).max(16),
  modelKind: ModelKind.default('unet'),
  baseWidth: z.number().int().min(2).max(64).default(8),
  /** U-Net levels (reduced automatically when the image size does not divide). */
  depth: z.number().int().min(2).max(5).default(4),
  /** Passes over every dataset. */
  epochs: z.number().int().min(1).max(1000).default(2),
  batchSize: z.number().int().min(1).max(64).default(2),
  learningRate: z.number().positive().max(1).default(1e-3),
  /** ELCFS: continuous frequency-space interpolation + episodic meta step (needs >= 2 datasets). */
  elcfs: z.boolean().default(false),
  /** Cap on optimisation steps (0 = no cap); keeps demos and tests short. */
  maxSteps: NonNegInt.default(0),
  seed: z.number().int().default(1),
});
export type TrainingConfig = z.infer<typeof TrainingConfig>;

export const TrainingProgress = z.object({
  runId: Id,
  mode: z.enum(['local', 'federated']),
  phase: z.enum(['starting', 'training', 'evaluating', 'waiting', 'uploading', 'done', 'cancelled', 'failed']),
  round: z.number().int().nullable(),
  epoch: NonNegInt,
  step: NonNegInt,
  totalSteps: NonNegInt,
  /** Loss terms by name (total, seg, dice, boundary, meta ...). */
  losses: z.record(z.string(), z.number()),
  samplesPerSec: z.number(),
  etaSec: z.number().nullable(),
  backend: z.string(),
  message: z.string(),
  /** Validation Dice per class when an evaluation just finished. */
  dice: z.array(z.number()).nullable(),
  /** Federated runs: the hub's number of rounds (round is the current one). */
  totalRounds: z.number().int().nullable().default(null),
  /** Share of the current unit of work done (0..1): the epoch run locally, the round's local training when federated. */
  fraction: z.number().min(0).max(1).nullable().default(null),
});
export type TrainingProgress = z.infer<typeof TrainingProgress>;

/**
 * A method comparison on this computer's datasets (docs/experiments.md): each dataset plays one site,
 * leave-one-site-out, every run a real hub and site processes on 127.0.0.1.
 */
export const ComparisonConfig = z.object({
  datasetIds: z.array(Id).min(3).max(16),
  methods: z.array(z.enum(STRATEGY_NAMES)).min(1).max(STRATEGY_NAMES.length).default(['fedavg', 'elcfs']),
  /** Seeds 1..N. */
  seeds: z.number().int().min(1).max(20).default(2),
  rounds: z.number().int().min(1).max(1000).default(10),
  /** Unseen sites to run (dataset ids); empty = every dataset in turn. */
  unseen: z.array(Id).max(16).default([]),
  baseWidth: z.number().int().min(2).max(64).default(8),
  batchSize: z.number().int().min(1).max(64).default(5),
  /** Continue the last comparison with these settings where it stopped (its finished runs are kept). */
  resume: z.boolean().default(false),
});
export type ComparisonConfig = z.infer<typeof ComparisonConfig>;

export const ComparisonState = z.object({
  state: z.enum(['idle', 'running', 'done', 'failed', 'cancelled', 'interrupted']),
  /** The comparison's settings (null before the first one). */
  config: ComparisonConfig.nullable(),
  /** Dataset names by id, as the sites are named in the tables. */
  datasets: z.array(z.object({ id: Id, name: z.string() })),
  runsDone: NonNegInt,
  runsTotal: NonNegInt,
  /** The run in progress, in words. */
  current: z.string().nullable(),
  message: z.string(),
  /** The results table (header first): per unseen site and method, Dice / HD95 mean +- std over seeds. */
  results: z.array(z.array(z.string())),
  /** Method minus FedAvg with 95% bootstrap intervals (header first); empty until two methods ran. */
  differences: z.array(z.array(z.string())),
  /** The HTML report on this computer (with curves and overlays), once a run finished. */
  reportPath: z.string().nullable(),
  startedAt: z.string().nullable(),
});
export type ComparisonState = z.infer<typeof ComparisonState>;

export const RunSummary = z.object({
  id: Id,
  name: z.string(),
  mode: z.enum(['local', 'federated']),
  status: z.enum(['running', 'done', 'cancelled', 'failed', 'interrupted']),
  createdAt: z.string(),
  config: z.record(z.string(), z.unknown()),
  /** Loss/Dice history: one point per logged step or evaluation. */
  history: z.array(z.object({ step: NonNegInt, epoch: NonNegInt, round: z.number().int().nullable(), loss: z.number().nullable(), dice: z.number().nullable() })),
  modelId: z.string().nullable(),
  canResume: z.boolean(),
  /** The step a resume continues from (the newest checkpoint of this run or of the run it resumed), or null. */
  checkpointStep: z.number().int().nullable().default(null),
  /** How the run ended (or what it is doing), in words. */
  message: z.string().default(''),
});
export type RunSummary = z.infer<typeof RunSummary>;

export const ConnectionProblem = z.enum(['ok', 'url', 'dns', 'refused', 'timeout', 'tls', 'auth', 'version', 'protocol', 'unknown']);
export type ConnectionProblem = z.infer<typeof ConnectionProblem>;

/** What a hub said about itself when this site last connected (its Welcome), kept with the settings. */
export const HubInfo = z.object({
  name: z.string(),
  strategy: z.string(),
  round: NonNegInt,
  totalRounds: NonNegInt,
  /** describeSpec of the network the hub trains. */
  model: z.string(),
  inChannels: NonNegInt,
  /** The window fraction alpha the hub asks amplitude windows at (docs/algorithms.md §2). */
  alpha: z.number(),
  /** Whether this strategy asks sites for amplitude windows at all (ELCFS does, FedAvg does not). */
  sharesWindows: z.boolean(),
  /** The run's site-level differential privacy (docs/security.md §8), or null when the hub adds no noise. */
  privacy: z.object({ epsilonPerRound: z.number(), epsilonTotal: z.number(), delta: z.number(), noiseMultiplier: z.number() }).nullable().default(null),
});
export type HubInfo = z.infer<typeof HubInfo>;

export const ConnectionReport = z.object({
  ok: z.boolean(),
  problem: ConnectionProblem,
  /** One or two sentences for an operator, no jargon. */
  message: z.string(),
  /** The technical detail (error code, server message) for IT staff. */
  detail: z.string(),
  hubVersion: z.string().nullable(),
  latencyMs: z.number().nullable(),
  /** The hub's own description, when the test got as far as its Welcome. */
  hub: HubInfo.nullable().default(null),
  /** SHA-256 fingerprint (AA:BB:..) of the certificate a wss:// hub presented, when one was seen. */
  fingerprint: z.string().nullable().default(null),
});
export type ConnectionReport = z.infer<typeof ConnectionReport>;

/** How this site takes part: a FedSeg hub (WebSocket, enrolled with a join token) or a Flower SuperLink (gRPC, docs/flower.md). */
export const FederationTransport = z.enum(['hub', 'flower']);
export type FederationTransport = z.infer<typeof FederationTransport>;

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** Why `host` is not a host name, an IPv4 address or a bracketed IPv6 address; null when it is one. */
function hostProblem(host: string): string | null {
  if (host.startsWith('[')) return /^\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]$/.test(host) ? null : `'${host}' is not an IPv6 address`;
  const labels = host.split('.');
  if (host.length > 253 || !labels.every((l) => HOST_LABEL.test(l))) return `'${host}' is not a host name or IP address`;
  if (labels.every((l) => /^\d+$/.test(l)) && (labels.length !== 4 || labels.some((l) => Number(l) > 255))) return `'${host}' is not an IPv4 address`;
  return null;
}

/**
 * A Flower SuperLink's Fleet API address as its coordinator writes it: host:port, no scheme (Flower's
 * `--superlink` form; IPv6 in brackets). '' means "not set yet". Every problem is named in words.
 */
export const FlowerAddress = z.string().max(300).superRefine((raw, ctx) => {
  const a = raw.trim();
  if (a === '') return;
  const example = 'for example superlink.example-hospital.org:9092 or 127.0.0.1:9092';
  const fail = (why: string) => ctx.addIssue({ code: 'custom', message: `${why} (a Flower SuperLink address is host:port, ${example})` });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(a)) return fail(`write the address without a scheme such as grpc:// or https://`);
  if (/[\s/?#@]/.test(a)) return fail(`'${a}' is not an address: it holds a space, a path or a user name`);
  const m = /^(\[[^\]]*\]|[^:]+)(?::(.*))?$/.exec(a);
  if (!m || a.startsWith(':')) return fail(`'${a}' has no host name`);
  if (m[2] === undefined) return fail(`'${a}' has no port`);
  const host = m[1]!;
  const port = m[2];
  const bad = hostProblem(host);
  if (bad) return fail(bad);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return fail(`the port must be a number from 1 to 65535, not '${port}'`);
});

export const FederationSettings = z.object({
  /** 'hub' (the default, also for settings saved before Flower) or 'flower'. */
  transport: FederationTransport,
  hubUrl: z.string().max(2000),
  siteName: z.string().max(120),
  tokenSet: z.boolean(),
  /** The datasets this site joins with (empty until chosen). */
  datasetIds: z.array(Id).max(16),
  /** PEM of a private CA the hub's certificate is checked against ('' = the system's CAs only). */
  ca: z.string().max(65536),
  /** A certificate fingerprint the operator chose to trust for this hub (trust on first use), or null. */
  trustedFingerprint: z.string().nullable(),
  /** The hub as it described itself at the last successful connection, or null. */
  hub: HubInfo.nullable(),
  /** What this site lets leave, whatever the hub asks (docs/security.md §3): consent, window size and count limits. */
  policy: SitePolicySchema,
  /** The Flower SuperLink's Fleet API, host:port ('' until set); used when transport is 'flower'. */
  flowerAddress: z.string().max(300),
  /** PEM root certificate(s) the SuperLink's TLS certificate is checked against ('' = plaintext, allowed only on this computer). */
  flowerRootCertificates: z.string().max(65536),
  /** This site's Flower public key (PEM; not secret) while the transport is 'flower', for a SuperLink that admits only registered nodes; '' otherwise. */
  flowerPublicKey: z.string().max(4096),
});
export type FederationSettings = z.infer<typeof FederationSettings>;

export const FederationStatus = z.object({
  state: z.enum(['idle', 'connecting', 'connected', 'training', 'reconnecting', 'error', 'finished']),
  /** What this site connects to: a FedSeg hub or a Flower SuperLink. */
  transport: FederationTransport.default('hub'),
  /** Where it connects: the hub's URL, or the Flower SuperLink's host:port. */
  hubUrl: z.string(),
  siteName: z.string(),
  message: z.string(),
  /** The network the hub trains (describeSpec), once connected. */
  model: z.string().nullable().default(null),
  /** true while a site client runs (connecting, training, waiting, reconnecting); Leave is offered then, Join otherwise. */
  active: z.boolean().default(false),
  /** Names of the datasets this site takes part with. */
  datasets: z.array(z.string()).default([]),
  /** The hub's number of rounds, once known. */
  totalRounds: z.number().int().nullable().default(null),
  /** The app's run of this participation (its Train page entry). */
  runId: z.string().nullable().default(null),
  /** Per completed round: this site's last local loss and the hub's unseen-site Dice (mean over classes and eval sites). */
  history: z.array(z.object({ round: NonNegInt, loss: z.number().nullable(), unseenDice: z.number().nullable() })).default([]),
  /** Plain-words classification of the last failure (same words as Test connection). */
  problem: ConnectionProblem.nullable().default(null),
  round: z.object({ number: z.number().int(), phase: z.string(), deadline: z.string().nullable(), quorum: z.number().int().nullable() }).nullable(),
  sites: z.array(z.object({ name: z.string(), state: z.string(), lastSeen: z.string().nullable() })),
  /** With Flower: the node id the SuperLink gave this site, and the run it works for (ids as decimal strings), once known. */
  flower: z.object({ nodeId: z.string().nullable(), runId: z.string().nullable(), strategy: z.string().nullable() }).nullable().default(null),
});
export type FederationStatus = z.infer<typeof FederationStatus>;

export const AuditEntry = z.object({
  id: z.number().int(),
  time: z.string(),
  direction: z.enum(['out', 'in']),
  kind: z.string(),
  bytes: NonNegInt,
  peer: z.string(),
  summary: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const BankEntry = z.object({
  id: Id,
  site: z.string(),
  source: z.enum(['local', 'received']),
  name: z.string(),
  channels: NonNegInt,
  halfWidth: NonNegInt,
});
export type BankEntry = z.infer<typeof BankEntry>;

const SampleRef = { datasetId: Id, index: NonNegInt };
const Empty = z.object({});

// ---------- methods ----------
const method = <A extends z.ZodType, R extends z.ZodType>(args: A, result: R, doc: string) => ({ args, result, doc });

export const appMethods = {
  getAppInfo: method(Empty, z.object({
    version: z.string(), backend: z.string(), dbPath: z.string(), mode: z.enum(['electron', 'browser']),
    demoKinds: z.array(z.string()),
  }), 'Version, compute backend in use, database file and shell.'),

  listDatasets: method(Empty, z.array(DatasetSummary), 'All datasets in the local store.'),
  getDatasetStats: method(z.object({ datasetId: Id }), DatasetStats, 'Counts, sizes, label fractions, empty masks.'),
  generateDemoData: method(z.object({
    kind: z.enum(['fundus', 'prostate', 'cells']).default('fundus'),
    sites: z.number().int().min(1).max(6).default(2),
    perSite: z.number().int().min(1).max(200).default(6),
    size: z.number().int().min(16).max(384).default(64),
    seed: z.number().int().default(7),
  }), z.object({ datasets: z.array(DatasetSummary) }), 'Create built-in synthetic multi-site data (one dataset per site).'),
  previewImport: method(z.object({
    path: z.string().min(1).max(4096), convention: ImportConvention.default('auto'), jobId: z.string().max(64).default('preview'),
  }), z.object({
    /** total: images the import would store from the good files; problems: those not about one file. */
    convention: ImportConvention, total: NonNegInt, items: z.array(ImportPreviewItem), problems: z.array(z.string()),
    /** Files (image-mask pairs, volumes) that pass every check the import makes, and those that fail one. */
    goodFiles: NonNegInt, badFiles: NonNegInt, bad: z.array(ImportFileProblem),
    /** Files left out because they are not part of a pair (an image without mask, a stray file). */
    skipped: z.array(z.string()),
  }), 'Dry run of an import: the same checks as the import, per file, with thumbnails; writes nothing; progress via importProgress.'),
  importDataset: method(z.object({
    path: z.string().min(1).max(4096), convention: ImportConvention.default('auto'), name: z.string().min(1).max(120),
    site: z.string().max(120).default('local'), jobId: z.string().max(64).default('import'),
    /** Leave out the files a dry run flags as bad and import the rest (still all-or-nothing). */
    skipBad: z.boolean().default(false),
  }), z.object({ dataset: DatasetSummary, skipped: z.array(z.string()), rejected: z.array(ImportFileProblem) }),
  'Import a folder (transactional); progress via importProgress. Without skipBad any bad file fails the whole import.'),
  cancelImport: method(z.object({ jobId: z.string().max(64) }), z.object({ cancelled: z.boolean() }),
    'Stop a running import or dry run by its job id; a cancelled import writes nothing. cancelled: whether one was running.'),
  openImageFile: method(z.object({ path: z.string().min(1).max(4096) }), z.object({ datasetId: Id, index: NonNegInt }),
    'Open one PNG/JPEG file for viewing and segmentation (kept, without a mask, in an "Opened images" dataset).'),
  renameDataset: method(z.object({ datasetId: Id, name: z.string().min(1).max(120) }), Empty, 'Rename a dataset.'),
  deleteDataset: method(z.object({ datasetId: Id }), Empty, 'Delete a dataset and its samples.'),
  listSamples: method(z.object({ datasetId: Id, offset: NonNegInt.default(0), limit: z.number().int().min(1).max(500).default(100) }),
    z.object({ total: NonNegInt, items: z.array(z.object({ index: NonNegInt, name: z.string() })) }), 'Page through a dataset.'),
  getSample: method(z.object(SampleRef), z.object({ name: z.string(), image: Raster, mask: MaskView.nullable() }), 'One image (8-bit for display) and its mask.'),

  listModels: method(Empty, z.array(ModelSummary), 'Trained local models and received global models.'),
  deleteModel: method(z.object({ modelId: Id }), Empty, 'Delete a stored model.'),
  runSegmentation: method(z.object({ modelId: Id, ...SampleRef, threshold: z.number().min(0).max(1).default(0.75) }), z.object({
    prediction: MaskView, metrics: SegMetrics.nullable(), rate: FloatField.nullable(),
    rateHistogram: z.array(z.object({ from: z.number(), to: z.number(), count: NonNegInt })).nullable(), ms: z.number(),
  }), 'Run a model on one sample; Dice/HD95 when the sample has a mask; the rate field for ASC models.'),

  getSpectrum: method(z.object({ ...SampleRef, alpha: z.number().min(0).max(1).default(0.01) }), z.object({
    spectrum: FloatField, halfWidth: NonNegInt, alpha: z.number(),
  }), 'Log-amplitude spectrum (fftshifted) with the low-frequency window size for alpha.'),
  listAmplitudeBank: method(Empty, z.array(BankEntry), 'Amplitude windows available for interpolation (local and received).'),
  buildAmplitudeBank: method(z.object({ datasetId: Id, alpha: z.number().min(0).max(1).default(0.01) }), z.object({ added: NonNegInt }),
    'Extract the low-frequency amplitude window of every image of a dataset into the local bank.'),
  previewInterpolation: method(z.object({ ...SampleRef, bankId: Id, lambda: z.number().min(0).max(1) }), z.object({
    image: Raster, window: FloatField,
  }), 'The image with its low-frequency amplitude moved towards a bank window by lambda (CFSI).'),

  startTraining: method(TrainingConfig, z.object({ runId: Id }), 'Start local training in the background; progress via trainingProgress.'),
  cancelTraining: method(z.object({ runId: Id }), Empty, 'Stop a running training after the current step; a checkpoint is kept.'),
  resumeTraining: method(z.object({ runId: Id }), z.object({ runId: Id }), 'Continue a cancelled or interrupted run from its last checkpoint.'),
  getTrainingState: method(Empty, z.object({ active: TrainingProgress.nullable(), run: RunSummary.nullable() }),
    'The running job (local training or federated participation), if any, with its run (settings and history so far).'),
  listRuns: method(Empty, z.array(RunSummary), 'Training runs with their loss/Dice history.'),
  startComparison: method(ComparisonConfig, ComparisonState,
    'Compare federated methods leave-one-site-out on these datasets (each one site) over seeds; progress via comparisonProgress.'),
  cancelComparison: method(Empty, ComparisonState, 'Stop the running comparison (its finished runs are kept; resume continues it).'),
  getComparison: method(Empty, ComparisonState, 'The running or last comparison: progress, tables so far, the report.'),

  getFederationSettings: method(Empty, FederationSettings, 'Hub URL or Flower SuperLink address, site name and whether a token is stored.'),
  saveFederationSettings: method(z.object({
    /** Omitted: the saved transport is kept. */
    transport: FederationTransport.optional(), flowerAddress: FlowerAddress.optional(), flowerRootCertificates: z.string().max(65536).optional(),
    hubUrl: z.string().max(2000), siteName: z.string().max(120), token: z.string().max(4096).optional(),
    datasetIds: z.array(Id).max(16).optional(), ca: z.string().max(65536).optional(), trustedFingerprint: z.string().max(200).nullable().optional(),
    /** Policy changes (consent: shareSpectra; consentedAt is set by the engine). */
    policy: SitePolicySchema.omit({ consentedAt: true }).partial().optional(),
  }), FederationSettings.extend({ report: ConnectionReport.nullable() }),
  'Save the federation settings. A new token is tested against the hub first and kept only when the hub accepts it (report says why not).'),
  testConnection: method(z.object({
    transport: FederationTransport.optional(), flowerAddress: FlowerAddress.optional(), flowerRootCertificates: z.string().max(65536).optional(),
    hubUrl: z.string().max(2000).optional(), siteName: z.string().max(120).optional(), token: z.string().max(4096).optional(),
    ca: z.string().max(65536).optional(), trustedFingerprint: z.string().max(200).nullable().optional(),
  }), ConnectionReport, 'Try to reach and authenticate with the hub (for a Flower SuperLink: whether its address answers); explain any failure in plain words. A success saves what was tested.'),
  joinFederation: method(z.object({ datasetIds: z.array(Id).min(1).max(16) }), FederationStatus,
    'Connect to the hub or Flower SuperLink and take part in its rounds with these datasets (the coordinator decides the network).'),
  leaveFederation: method(Empty, FederationStatus, 'Disconnect from the hub (the current round is abandoned).'),
  getFederationStatus: method(Empty, FederationStatus, 'Connection state, current round and the sites the hub reports.'),

  listAudit: method(z.object({ offset: NonNegInt.default(0), limit: z.number().int().min(1).max(1000).default(200), direction: z.enum(['out', 'in']).optional() }),
    z.object({ total: NonNegInt, totalBytesOut: NonNegInt, totalBytesIn: NonNegInt, entries: z.array(AuditEntry) }), 'The audit log of everything that left or reached this site.'),
  previewOutgoingWindows: method(z.object({ datasetIds: z.array(Id).min(1).max(16), alpha: z.number().min(0).max(0.5).optional(), limit: z.number().int().min(1).max(32).default(8) }),
    z.object({
      windows: z.array(z.object({ name: z.string(), spectrum: FloatField })), bytesEach: NonNegInt, totalCount: NonNegInt, totalBytes: NonNegInt,
      alpha: z.number(), channels: NonNegInt, halfWidth: NonNegInt,
      /** hub: alpha and sharing come from the saved hub's Welcome; given: the caller's alpha; default: no hub known yet. */
      basis: z.enum(['hub', 'given', 'default']), hub: z.string().nullable(), sharesWindows: z.boolean(),
      /** Why this site's policy would refuse the request (docs/security.md §3), or null when the windows would go out. */
      refusal: z.object({ code: z.string(), message: z.string() }).nullable(),
    }),
    'The amplitude-spectrum windows that joining would share, as images, with their size, at the hub\'s own window size.'),
} as const;

// ---------- events ----------
export const appEvents = {
  trainingProgress: TrainingProgress,
  importProgress: z.object({ jobId: z.string(), done: NonNegInt, total: NonNegInt, current: z.string() }),
  federationStatus: FederationStatus,
  comparisonProgress: ComparisonState,
} as const;

// ---------- derived types (the only way the bridge, handlers and client are typed) ----------
export type AppMethods = typeof appMethods;
export type AppMethodName = keyof AppMethods;
export type AppEventName = keyof typeof appEvents;
/** What a caller passes (defaults may be omitted). */
export type ArgsIn<M extends AppMethodName> = z.input<AppMethods[M]['args']>;
/** What a handler receives (after validation and defaults). */
export type ArgsOut<M extends AppMethodName> = z.output<AppMethods[M]['args']>;
export type ResultOf<M extends AppMethodName> = z.output<AppMethods[M]['result']>;
export type EventPayload<E extends AppEventName> = z.output<(typeof appEvents)[E]>;

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ErrorValue };

/** The engine's handler table: one entry per method, or it does not compile. */
export type AppHandlers = { [M in AppMethodName]: (args: ArgsOut<M>) => Promise<ResultOf<M>> };

/** The renderer's client. */
export type AppClient = { [M in AppMethodName]: (args: ArgsIn<M>) => Promise<ResultOf<M>> } & {
  on<E extends AppEventName>(event: E, cb: (payload: EventPayload<E>) => void): () => void;
};

/** What the Electron preload exposes as `window.api` (two functions; everything else is derived). */
export interface AppBridge {
  invoke<M extends AppMethodName>(method: M, args: ArgsIn<M>): Promise<Envelope<ResultOf<M>>>;
  on(listener: (event: AppEventName, payload: unknown) => void): () => void;
}

/** Channel names used by the Electron bridge. */
export const IPC_INVOKE = 'fedseg:invoke';
export const IPC_EVENT = 'fedseg:event';

export const appMethodNames = Object.keys(appMethods) as AppMethodName[];
export const appEventNames = Object.keys(appEvents) as AppEventName[];

export function isAppMethodName(m: unknown): m is AppMethodName {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(appMethods, m);
}
export function isAppEventName(e: unknown): e is AppEventName {
  return typeof e === 'string' && Object.prototype.hasOwnProperty.call(appEvents, e);
}
