// Hub configuration: a JSON file (`fedseg-hub start --config hub.json`) overridden by flags. Defaults
// follow the FedDG reference protocol (docs/algorithms.md §1: 1 local epoch, batch 5, Adam lr 1e-3)
// except the round count. Validated with zod; a bad value is a one-line error naming the field.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FedSegError } from '../core/contract/errors.js';
import { DEFAULT_MAX_PAYLOAD, TrainConfigSchema } from '../core/contract/hub-protocol.js';
import { ModelSpecSchema } from '../core/contract/model-spec.js';
import { STRATEGIES } from './strategies/index.js';

/**
 * The model every site builds: a full ModelSpec, or the older {kind, inChannels, classes, baseWidth,
 * seed} layout (its seed becomes initSeed).
 */
const ModelConfig = z.preprocess((v) => {
  if (typeof v !== 'object' || v === null || 'config' in v) return v;
  const { baseWidth, seed: _seed, ...rest } = v as Record<string, unknown>;
  return { ...rest, ...(baseWidth !== undefined ? { config: { baseWidth } } : {}) };
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
  model: ModelConfig.default({ kind: 'unet', inChannels: 3, classes: 2, input: { normalise: 'none' }, config: { baseWidth: 16, depth: 5 } }),
  /** Seed of the one global initialisation (docs/algorithms.md §1). */
  initSeed: z.number().int().default(1),
  train: TrainConfigSchema.default({ localEpochs: 1, batchSize: 5, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 }),
  /** Optional L2 clip of each update's delta (theta_k - theta). */
  clipNorm: z.number().positive().optional(),
  wireDtype: z.enum(['float32', 'float16']).default('float32'),
  /** ws maxPayload: larger frames are refused with a MESSAGE_TOO_LARGE error (close 1009). */
  maxPayload: z.number().int().min(1024).default(DEFAULT_MAX_PAYLOAD),
  heartbeatMs: z.number().int().positive().default(10_000),
  /** A site silent (no pong/heartbeat) for this long is dropped. Training blocks a site's event loop between steps, so keep it generous. */
  siteTimeoutMs: z.number().int().positive().default(180_000),
  /** Keep at most this many spectrum windows per site in the bank (0 = all; the reference kept n/8). */
  spectrumMaxPerSite: z.number().int().min(0).default(0),
  /** Keep the N latest global checkpoints (0 = all; round 0, the initial model, is always kept). */
  keepCheckpoints: z.number().int().min(0).default(0),
  /** Optional initial global weights (a FedSeg weights or model file); otherwise the first site builds them from initSeed. */
  initWeights: z.string().optional(),
  /** Stop the server once the last round is done and evaluated. */
  exitWhenDone: z.boolean().default(true),
});
export type HubConfigInput = z.input<typeof HubConfigSchema>;
export type HubConfig = Omit<z.output<typeof HubConfigSchema>, 'mode' | 'strategy'> & { strategy: string };

export function parseHubConfig(input: unknown): HubConfig {
  const r = HubConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FedSegError('INVALID_ARGUMENT', `hub config: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const { mode, strategy: s, ...c } = r.data;
  if (s && mode && s !== mode) throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${s}' and mode '${mode}' disagree (mode is the older name of strategy)`);
  const strategy = s ?? mode ?? 'elcfs';
  const def = STRATEGIES[strategy];
  if (!def) throw new FedSegError('INVALID_ARGUMENT', `hub config: ${s ? 'strategy' : 'mode'}: '${strategy}' is not one of ${Object.keys(STRATEGIES).join(', ')}`);
  if (c.minSites < def.minSites) throw new FedSegError('INVALID_ARGUMENT', `hub config: strategy '${strategy}' needs minSites >= ${def.minSites} (${def.why})`);
  // The older model layout carried the initialisation seed.
  const legacySeed = (input as { model?: { seed?: unknown }; initSeed?: unknown })?.model?.seed;
  const initSeed = (input as { initSeed?: unknown })?.initSeed === undefined && Number.isInteger(legacySeed) ? (legacySeed as number) : c.initSeed;
  return { ...c, strategy, initSeed };
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
    throw new FedSegError('INVALID_INPUT', `hub config ${path} is not a JSON object: ${(e as Error).message}`);
  }
}
