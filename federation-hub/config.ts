// Hub configuration: a JSON file (`fedseg-hub start --config hub.json`) overridden by flags. Defaults
// follow the FedDG reference protocol (docs/algorithms.md §1: 1 local epoch, batch 5, Adam lr 1e-3)
// except the round count. Every key is optional, inside the object-valued keys too: a partial `train`
// or `model` (from the file or from --set) is merged over the defaults. Validated with zod: unknown
// keys and wrong types are refused with a one-line error naming the key (e.g. `train.localEpochs`).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FedSegError } from '../core/contract/errors.js';
import { DEFAULT_MAX_PAYLOAD, MAX_SPECTRUM_WINDOWS, TrainConfigSchema, type TrainConfig } from '../core/contract/hub-protocol.js';
import { ModelSpecSchema, type ModelSpecInput } from '../core/contract/model-spec.js';
import { AGGREGATION_DEFAULTS, AGGREGATOR_NAMES, MAX_SAMPLE_BOUND } from './strategies/aggregators.js';
import { GA_DEFAULTS, isGaStrategy } from './strategies/feddg-ga.js';
import { STRATEGIES } from './strategies/index.js';

export const DEFAULT_TRAIN: TrainConfig = { localEpochs: 1, batchSize: 5, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 };
export const DEFAULT_MODEL = { kind: 'unet', inChannels: 3, classes: 2, input: { normalise: 'none' }, config: { baseWidth: 16, depth: 5 } } as const satisfies ModelSpecInput;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Local training; the keys not given take the reference values. */
const TrainConfigInput = TrainConfigSchema.partial().transform((t): TrainConfig => ({ ...DEFAULT_TRAIN, ...t }));

/**
 * The model every site builds: a ModelSpec, or the older {kind, inChannels, classes, baseWidth, seed}
 * layout (its seed becomes initSeed). The kind, channels and classes not given are the default
 * model's; the `config` keys not given take their kind's defaults (ModelSpecSchema).
 */
const ModelConfig = z.preprocess((v) => {
  if (!isPlainObject(v)) return v;
  let spec = v;
  if (!('config' in v)) {
    const { baseWidth, seed: _seed, ...rest } = v;
    spec = { ...rest, ...(baseWidth !== undefined ? { config: { baseWidth } } : {}) };
  }
  return { kind: DEFAULT_MODEL.kind, inChannels: DEFAULT_MODEL.inChannels, classes: DEFAULT_MODEL.classes, ...spec };
}, ModelSpecSchema);

export const HubConfigSchema = z.strictObject({
  /** Interface to bind. Default loopback; use 0.0.0.0 to serve other machines (then enable TLS). */
  host: z.string().default('127.0.0.1'),
  /** TCP port; 0 picks a free one (printed at start). */
  port: z.number().int().min(0).max(65535).default(8765),
  /** The hub's own SQLite state file. */
  db: z.string().default('hub.db'),
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  name: z.string().max(128).default('fedseg-hub'),
  /** The aggregation strategy (federation-hub/strategies): elcfs or fedavg. */
  strategy: z.string().optional(),
  /** Older name of `strategy`. */
  mode: z.string().optional(),
  rounds: z.number().int().min(1).max(100000).default(100),
  /** Train sites needed to open a round (quorum). */
  minSites: z.number().int().min(1).default(2),
  /** Per-round deadline; sites that have not answered by then are excluded from that round. */
  roundTimeoutMs: z.number().int().positive().default(30 * 60_000),
  /** A participant that disconnected mid-round and has not come back after this long is excluded without waiting for the deadline. */
  rejoinGraceMs: z.number().int().positive().default(120_000),
  /** How long to wait for evaluation results of the final round before finishing. */
  evalTimeoutMs: z.number().int().positive().default(10 * 60_000),
  /** Which sites evaluate each new global model: eval-role sites only, all sites, or none. */
  evaluate: z.enum(['eval', 'all', 'none']).default('eval'),
  model: ModelConfig.default(DEFAULT_MODEL),
  /** Seed of the one global initialisation (docs/algorithms.md §1). */
  initSeed: z.number().int().default(1),
  train: TrainConfigInput.default(DEFAULT_TRAIN),
  /** Optional L2 clip of each update's delta (theta_k - theta); when set, it replaces the median clip (clipFactor). */
  clipNorm: z.number().positive().optional(),
  /** How a round's updates are combined (docs/security.md §7): mean = FedAvg by sample count; median, trimmed-mean = coordinate-wise, unweighted. */
  aggregator: z.enum(AGGREGATOR_NAMES).default(AGGREGATION_DEFAULTS.aggregator),
  /** trimmed-mean: the fraction of the updates dropped at each end of every coordinate (at least one from 3 updates on). */
  trimFraction: z.number().min(0).lt(0.5).default(AGGREGATION_DEFAULTS.trimFraction),
  /** The most samples one update counts for, for a site enrolled without its own bound (add-site --samples); a larger claim is clamped and audited. */
  maxSamplesPerSite: z.number().int().min(1).max(MAX_SAMPLE_BOUND).default(AGGREGATION_DEFAULTS.maxSamplesPerSite),
  /** mean: the largest share of a round's weight one site gets (from 3 updates on, never below 1/n; the excess is renormalised over the others); 1 = off. */
  maxSiteShare: z.number().gt(0).max(1).default(AGGREGATION_DEFAULTS.maxSiteShare),
  /** From 3 updates on, a delta longer than clipFactor x the round's median delta norm is scaled down to it; 0 = off. */
  clipFactor: z.number().min(0).default(AGGREGATION_DEFAULTS.clipFactor),
  /** Site-level differential privacy (docs/security.md §8), off unless given: deltas clipped to clipNorm, equal weights, Gaussian noise of std noiseMultiplier x clipNorm / n on the mean; seed makes the noise reproducible (keep it secret: whoever has it can remove the noise). */
  dp: z.strictObject({
    noiseMultiplier: z.number().positive(),
    clipNorm: z.number().positive(),
    delta: z.number().positive().lt(1).default(AGGREGATION_DEFAULTS.dpDelta),
    seed: z.number().int().optional(),
  }).optional(),
  wireDtype: z.enum(['float32', 'float16']).default('float32'),
  /** ws maxPayload: larger frames are refused with a MESSAGE_TOO_LARGE error (close 1009). */
  maxPayload: z.number().int().min(1024).default(DEFAULT_MAX_PAYLOAD),
  // The front door (docs/security.md §2, §6): what a connection may do before its Hello is accepted.
  /** Serve plain ws:// on an address other than loopback (refused without TLS unless set). */
  insecure: z.boolean().default(false),
  /** Bytes a connection may send after the WebSocket upgrade until its Hello is accepted; past it the socket is destroyed. */
  preAuthBytes: z.number().int().min(1024).default(64 * 1024),
  /** A TCP connection that has not completed the WebSocket upgrade (or TLS) by then is destroyed. */
  handshakeTimeoutMs: z.number().int().positive().default(5000),
  /** A connection that has not sent its Hello by then is closed. */
  helloTimeoutMs: z.number().int().positive().default(5000),
  /** Open connections of every kind at once (sites, HTTP, not yet authenticated). */
  maxConnections: z.number().int().min(1).default(256),
  /** Connections from one address (IPv6: one /64) not yet authenticated, at once. */
  maxConnectionsPerAddress: z.number().int().min(1).default(16),
  /** Failed pre-authentication attempts one address may make in a row before it is refused with RATE_LIMITED. */
  authFailBurst: z.number().int().min(1).default(20),
  /** Failed attempts regained per minute. */
  authFailPerMinute: z.number().min(0).default(10),
  heartbeatMs: z.number().int().positive().default(10_000),
  /** A site silent (no pong/heartbeat) for this long is dropped. Training blocks a site's event loop between steps, so keep it generous. */
  siteTimeoutMs: z.number().int().positive().default(180_000),
  /**
   * Windows every source site contributes to each bank, subsampled evenly or repeated (docs/security.md
   * §3), so bank sizes reveal nothing about a site's dataset size; 0 = all of them (sizes then show).
   */
  spectrumPerSource: z.number().int().min(0).max(MAX_SPECTRUM_WINDOWS).default(64),
  /** Older name of spectrumPerSource (it meant "at most"; 0 = all). */
  spectrumMaxPerSite: z.number().int().min(0).optional(),
  /** The largest amplitude-window half-width b accepted; default max(1, floor(2048 * train.alpha)), i.e. the window of a 2048-pixel image. */
  spectrumMaxHalfWidth: z.number().int().min(0).max(512).optional(),
  /** The most windows one site may upload. */
  spectrumMaxWindows: z.number().int().min(1).max(MAX_SPECTRUM_WINDOWS).default(10000),
  /** Keep the N latest global checkpoints (0 = all; round 0, the initial model, is always kept). */
  keepCheckpoints: z.number().int().min(0).default(0),
  /** Optional initial global weights (a FedSeg weights or model file); otherwise the first site builds them from initSeed. */
  initWeights: z.string().optional(),
  /** Stop the server once the last round is done and evaluated. */
  exitWhenDone: z.boolean().default(true),
  /** FedDG-GA (strategies fedavg-ga, elcfs-ga; docs/feddg-ga.md §1): the initial step size s of the weight adjustment. */
  gaStepSize: z.number().gt(0).max(1).default(GA_DEFAULTS.stepSize),
});
export type HubConfigInput = z.input<typeof HubConfigSchema>;
export type HubConfig = Omit<z.output<typeof HubConfigSchema>, 'mode' | 'strategy' | 'spectrumMaxPerSite' | 'spectrumMaxHalfWidth'> & { strategy: string; spectrumMaxHalfWidth: number };

export function parseHubConfig(input: unknown): HubConfig {
  const r = HubConfigSchema.safeParse(input);
  if (!r.success) throw new FedSegError('INVALID_ARGUMENT', `hub config: ${describeIssue(r.error.issues[0]!)}`);
  const { mode, strategy: s, spectrumMaxPerSite, spectrumMaxHalfWidth, ...c } = r.data;
  const perSource = spectrumMaxPerSite !== undefined && (input as { spectrumPerSource?: unknown })?.spectrumPerSource === undefined ? spectrumMaxPerSite : c.spectrumPerSource;
  const maxHalfWidth = spectrumMaxHalfWidth ?? Math.max(1, Math.floor(2048 * c.train.alpha));
  if (s && mode && s !== mode) throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${s}' and mode '${mode}' disagree (mode is the older name of strategy)`);
  const strategy = s ?? mode ?? 'elcfs';
  const def = STRATEGIES[strategy];
  if (!def) throw new FedSegError('INVALID_ARGUMENT', `hub config: ${s ? 'strategy' : 'mode'}: '${strategy}' is not one of ${Object.keys(STRATEGIES).join(', ')}`);
  if (c.dp && c.aggregator !== 'mean') throw new FedSegError('INVALID_ARGUMENT', `hub config: dp needs aggregator 'mean' (its noise is calibrated to a mean), not '${c.aggregator}'`);
  if (c.minSites < def.minSites) throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${strategy}' needs minSites >= ${def.minSites} (${def.why})`);
  if (isGaStrategy(strategy)) {
    // FedDG-GA weighs sites by the gaps their validation splits show (docs/feddg-ga.md §2-3).
    if (c.aggregator !== 'mean') throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${strategy}' weighs a mean; aggregator '${c.aggregator}' is unweighted (use aggregator 'mean', the default)`);
    if (c.dp) throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${strategy}' sets per-site weights, dp needs equal ones; use fedavg or elcfs with dp`);
    if (c.train.valFraction === 0) throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${strategy}' needs train.valFraction > 0 (each site's validation split)`);
    c.train = { ...c.train, valFraction: c.train.valFraction ?? GA_DEFAULTS.valFraction };
  }
  // The older model layout carried the initialisation seed.
  const legacySeed = (input as { model?: { seed?: unknown }; initSeed?: unknown })?.model?.seed;
  const initSeed = (input as { initSeed?: unknown })?.initSeed === undefined && Number.isInteger(legacySeed) ? (legacySeed as number) : c.initSeed;
  return { ...c, strategy, initSeed, spectrumPerSource: perSource, spectrumMaxHalfWidth: maxHalfWidth };
}

/** Keys the object-valued config keys take, for the message about an unknown one. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(HubConfigSchema.shape),
  train: Object.keys(TrainConfigSchema.shape),
  tls: ['cert', 'key'],
  dp: ['noiseMultiplier', 'clipNorm', 'delta', 'seed'],
};

function describeIssue(i: z.core.$ZodIssue): string {
  const at = i.path.map(String).join('.');
  if (i.code === 'unrecognized_keys') {
    const names = i.keys.map((k) => `'${at ? `${at}.` : ''}${k}'`).join(', ');
    const known = KNOWN_KEYS[at];
    return `unknown key ${names}${known ? ` (${at || 'the config'} takes ${known.join(', ')})` : ''}`;
  }
  return `${at || '(root)'}: ${i.message}`;
}

/**
 * `over` merged into `base`: plain objects key by key (recursively), anything else replaced. How
 * `--set` values apply over the config file.
 */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

export function loadHubConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot read hub config ${path}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', `hub config ${path} is not a JSON object: ${(e as Error).message}`);
  }
}
