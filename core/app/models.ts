// Stored models for the app: listing (every model record of the store, core/run/checkpoints.ts, with
// its ModelSpec), and loading one as a network and its weights, with a small cache so repeated
// segmentation is fast. Networks come from core/models/registry.ts only.
import type { ModelSummary } from '../contract/app-api.js';
import { describeSpec, type ModelSpec } from '../contract/model-spec.js';
import { buildNetwork, type Network } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { disposeWeights, toWeightMap } from '../models/weight-map.js';
import { listModelRecords, readModel, type ModelRecord } from '../run/checkpoints.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { parseId } from './context.js';

export function modelSummary(r: ModelRecord): ModelSummary {
  return {
    id: String(r.info.id),
    name: r.info.name,
    kind: r.meta.model.kind,
    description: describeSpec(r.meta.model),
    source: r.meta.source,
    inChannels: r.meta.model.inChannels,
    classes: r.meta.model.classes,
    createdAt: r.info.createdAt,
    runId: r.info.runId === null ? null : String(r.info.runId),
    round: r.info.round,
  };
}

/**
 * Usable models (local, imported and the federations' global models), newest first, except that within
 * one federation the highest round comes first: the model a page pre-selects is the newest trained one.
 */
export function listModels(store: DatasetStore): ModelSummary[] {
  const recs = listModelRecords(store, store).reverse();
  const firstOfRun = new Map<string, number>();
  recs.forEach((r, i) => {
    const k = r.meta.source === 'global' ? r.meta.runKey ?? '' : '';
    if (k && !firstOfRun.has(k)) firstOfRun.set(k, i);
  });
  const order = recs.map((r, i) => ({ r, i, group: r.meta.source === 'global' ? firstOfRun.get(r.meta.runKey ?? '') ?? i : i }));
  order.sort((a, b) => a.group - b.group || (b.r.info.round ?? 0) - (a.r.info.round ?? 0) || a.i - b.i);
  return order.map((o) => modelSummary(o.r));
}

export interface LoadedModel {
  net: Network;
  weights: WeightMap;
  spec: ModelSpec;
}

/** Keeps the last few loaded models' tensors; evicted entries are disposed. */
export class ModelCache {
  private entries = new Map<number, LoadedModel>();
  constructor(private readonly store: DatasetStore, private readonly capacity = 3) {}

  async get(modelId: string): Promise<LoadedModel> {
    const id = parseId(modelId, 'model id');
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const m = readModel(this.store, id, this.store);
    const net = buildNetwork(m.spec);
    const loaded = { net, weights: toWeightMap(m.arrays, net.shapes), spec: m.spec };
    this.entries.set(id, loaded);
    while (this.entries.size > this.capacity) {
      const [oldId, old] = this.entries.entries().next().value as [number, LoadedModel];
      this.entries.delete(oldId);
      disposeWeights(old.weights);
    }
    return loaded;
  }

  forget(modelId: number): void {
    const e = this.entries.get(modelId);
    if (e) disposeWeights(e.weights);
    this.entries.delete(modelId);
  }

  clear(): void {
    for (const e of this.entries.values()) disposeWeights(e.weights);
    this.entries.clear();
  }
}
