// Stored models for the app: which SegModel a checkpoint is (kind + config kept in its meta), loading
// its weights as tensors (with a small cache so repeated segmentation is fast), and listing them.
// Checkpoint frames are core/contract/weights.ts frames, keyed by name (ALGORITHMS.md §3).
import type { ModelSummary } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import { decodeWeights } from '../contract/weights.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import { createUNet } from '../models/unet.js';
import { createAscUNet } from '../models/asc-unet.js';
import { createAscNet } from '../models/ascnet.js';
import type { CheckpointInfo, DatasetStore } from '../store/dataset-store.js';
import { tf } from '../tf/tf.js';
import { parseId } from './context.js';

/** What the app stores in a checkpoint's meta to rebuild the network. */
export interface ModelConfig {
  kind: string;
  inChannels: number;
  /** Mask channels (for softmax kinds the network has one more output: background). */
  classes: number;
  baseWidth: number;
  depth: number;
}

/** Setting where the federation job records the hub's model spec (global checkpoints lack it). */
export const MODEL_SPEC_KEY = 'app.federation.modelSpec';
const GLOBAL_NAME = 'federation-global';

function isUsable(c: CheckpointInfo): boolean {
  return (c.meta as { usable?: boolean }).usable === true || c.name === GLOBAL_NAME;
}

export function modelConfigOf(info: CheckpointInfo, store: DatasetStore): ModelConfig {
  const m = info.meta as Partial<ModelConfig> & { model?: Partial<ModelConfig> };
  const spec = info.name === GLOBAL_NAME ? store.getSetting<Partial<ModelConfig>>(MODEL_SPEC_KEY) : undefined;
  const src = spec ?? m.model ?? m;
  const cfg = { kind: info.modelKind, inChannels: Number(src.inChannels), classes: Number(src.classes), baseWidth: Number(src.baseWidth ?? 16), depth: Number(src.depth ?? 5) };
  if (!Number.isInteger(cfg.inChannels) || !Number.isInteger(cfg.classes))
    throw new FedSegError('CORRUPT_FILE', `model '${info.name}' does not record its input channels and classes; it cannot be used here`);
  return cfg;
}

export async function buildModel(cfg: ModelConfig): Promise<SegModel> {
  if (cfg.kind === 'unet') return createUNet({ inChannels: cfg.inChannels, classes: cfg.classes, baseWidth: cfg.baseWidth, depth: cfg.depth });
  if (cfg.kind === 'asc-unet') return createAscUNet({ inChannels: cfg.inChannels, classes: cfg.classes, baseWidth: cfg.baseWidth, depth: cfg.depth });
  // ASCNet-N is a softmax network: background + one class per (nested) mask channel.
  if (cfg.kind === 'ascnet-7') return createAscNet({ kind: 'ascnet-7', inChannels: cfg.inChannels, classes: cfg.classes + 1 });
  throw new FedSegError('UNSUPPORTED', `unknown model kind '${cfg.kind}'`);
}

export function modelSummary(info: CheckpointInfo, store: DatasetStore): ModelSummary {
  const global = info.name === GLOBAL_NAME;
  const meta = (global ? { model: store.getSetting(MODEL_SPEC_KEY) ?? {} } : info.meta) as { source?: string; inChannels?: number; classes?: number; model?: { inChannels?: number; classes?: number } };
  const src = global ? 'global' : meta.source === 'imported' ? 'imported' : 'local';
  return {
    id: String(info.id),
    name: global ? `Global model (round ${info.round ?? '?'})` : info.name,
    kind: info.modelKind,
    source: src,
    inChannels: Number(meta.model?.inChannels ?? meta.inChannels ?? 0),
    classes: Number(meta.model?.classes ?? meta.classes ?? 0),
    createdAt: info.createdAt,
    runId: info.runId === null ? null : String(info.runId),
    round: info.round,
  };
}

/** Softmax models output background + classes; sigmoid models one probability per mask channel. */
export function isSoftmaxKind(kind: string): boolean {
  return kind.startsWith('ascnet');
}

/** Checkpoints that are usable models (app-trained, or the federation's global model), newest first. */
export function listModels(store: DatasetStore): ModelSummary[] {
  return store
    .listCheckpoints()
    .filter(isUsable)
    .map((c) => modelSummary(c, store))
    .reverse();
}

interface Loaded {
  model: SegModel;
  weights: WeightMap;
  config: ModelConfig;
}

/** Keeps the last few loaded models' tensors; evicted entries are disposed. */
export class ModelCache {
  private entries = new Map<number, Loaded>();
  constructor(private readonly store: DatasetStore, private readonly capacity = 3) {}

  async get(modelId: string): Promise<Loaded> {
    const id = parseId(modelId, 'model id');
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const info = this.store.getCheckpoint(id);
    if (!info) throw new FedSegError('NOT_FOUND', `model ${modelId} no longer exists`);
    const config = modelConfigOf(info, this.store);
    const model = await buildModel(config);
    const { arrays } = decodeWeights(this.store.loadCheckpoint(id));
    const weights: WeightMap = {};
    for (const a of arrays) weights[a.name] = tf.tensor(a.data, a.shape);
    const loaded = { model, weights, config };
    this.entries.set(id, loaded);
    while (this.entries.size > this.capacity) {
      const [oldId, old] = this.entries.entries().next().value as [number, Loaded];
      this.entries.delete(oldId);
      tf.dispose(Object.values(old.weights));
    }
    return loaded;
  }

  forget(modelId: number): void {
    const e = this.entries.get(modelId);
    if (e) tf.dispose(Object.values(e.weights));
    this.entries.delete(modelId);
  }

  clear(): void {
    for (const e of this.entries.values()) tf.dispose(Object.values(e.weights));
    this.entries.clear();
  }
}
