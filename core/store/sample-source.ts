// Samples of a stored dataset as the run API reads them: the train / test split of a dataset, falling
// back to all of its samples when it has no such split (a site that imported one folder trains and
// evaluates on everything it has). The run API never opens the store itself.
import { FedSegError } from '../contract/errors.js';
import type { DatasetInfo, DatasetStore, SampleSplit, StoredSample } from './dataset-store.js';

/** A dataset by id or name, or NOT_FOUND naming what the store has. */
export function findDataset(store: DatasetStore, ref: number | string, where = 'this store'): DatasetInfo {
  const d = typeof ref === 'number' || /^\d+$/.test(ref) ? store.getDataset(Number(ref)) ?? store.getDataset(String(ref)) : store.getDataset(ref);
  if (d) return d;
  const names = store.listDatasets().map((x) => x.name);
  throw new FedSegError('NOT_FOUND', `no dataset '${ref}' in ${where} (${names.length ? `have: ${names.slice(0, 8).join(', ')}` : 'it has none'})`);
}

/** The samples of one split, or all samples when the dataset has none in that split. Never empty. */
export function splitOrAll(store: DatasetStore, d: DatasetInfo, split: SampleSplit): StoredSample[] {
  const s = store.countSamples(d.id, split) > 0 ? store.loadSamples(d.id, { split }) : store.loadSamples(d.id);
  const withMasks = s.filter((x) => x.meta?.hasMask !== false);
  if (withMasks.length === 0) throw new FedSegError('INVALID_INPUT', `dataset '${d.name}' has no images with masks`);
  return withMasks;
}

/** What a federated site trains and evaluates on (loaded when first asked for). */
export function participantData(store: DatasetStore, ref: number | string, o: { trainSplit?: SampleSplit; evalSplit?: SampleSplit } = {}) {
  const d = findDataset(store, ref);
  return {
    datasetId: d.id,
    train: () => splitOrAll(store, d, o.trainSplit ?? 'train'),
    test: () => splitOrAll(store, d, o.evalSplit ?? 'test'),
  };
}
