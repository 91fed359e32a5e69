// Hub configuration: a JSON file (`fedseg-hub start --config hub.json`) overridden by flags. Defaults
// follow the FedDG reference protocol (ALGORITHMS.md §1: 1 local epoch, batch 5, Adam lr 1e-3) except the
// round count. Validated with zod; a bad value is a one-line error naming the field.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FedSegError } from '../core/contract/errors.js';
import { DEFAULT_MAX_PAYLOAD, ModelSpecSchema, TrainConfigSchema, TrainModeSchema } from '../core/contract/hub-protocol.js';

export const HubConfigSchema = z.strictObject({
  /** Interface to bind. Default loopback; use 0.0.0.0 to serve other machines (then enable TLS). */
  host: z.string().default('127.0.0.1'),
  /** TCP port; 0 picks a free one (printed at start). */
  port: z.number().int().min(0).max(65535).default(8765),
  /** The hub's own SQLite state file. */
  db: z.string().default('hub.db'),
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  name: z.string().max(128).default('fedseg-hub'),
  mode: TrainModeSchema.default('elcfs'),
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
  model: ModelSpecSchema.default({ kind: 'unet', inChannels: 3, classes: 2, baseWidth: 16, seed: 1 }),
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
  /** Optional initial global weights (a FedSeg weights file); otherwise the first site builds them from model.seed. */
  initWeights: z.string().optional(),
  /** Stop the server once the last round is done and evaluated. */
  exitWhenDone: z.boolean().default(true),
});
export type HubConfig = z.infer<typeof HubConfigSchema>;
export type HubConfigInput = z.input<typeof HubConfigSchema>;

export function parseHubConfig(input: unknown): HubConfig {
  const r = HubConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FedSegError('INVALID_ARGUMENT', `hub config: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const c = r.data;
  if (c.mode === 'elcfs' && c.minSites < 2)
    throw new FedSegError('INVALID_ARGUMENT', 'hub config: ELCFS needs minSites >= 2 (each site interpolates towards another site\'s spectra)');
  return c;
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
