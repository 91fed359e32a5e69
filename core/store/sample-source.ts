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

/**
 * What a federated site trains and evaluates on (loaded when first asked for): one dataset, or several
 * pooled — they must agree on image size, channels and classes, since the site trains one network.
 */
export function participantData(store: DatasetStore, refs: number | string | readonly (number | string)[], o: { trainSplit?: SampleSplit; evalSplit?: SampleSplit } = {}) {
  const ds = (Array.isArray(refs) ? refs : [refs]).map((r: number | string) => findDataset(store, r));
  if (ds.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'choose at least one dataset');
  const pool = (split: SampleSplit) => {
    const all = ds.flatMap((d) => splitOrAll(store, d, split));
    const a = all[0]!.image;
    const k = all[0]!.mask.classes;
    const odd = all.find((s) => s.image.width !== a.width || s.image.height !== a.height || s.image.channels !== a.channels || s.mask.classes !== k);
    if (odd) throw new FedSegError('SHAPE_MISMATCH', `the chosen datasets differ: '${odd.name}' is ${odd.image.width}x${odd.image.height} with ${odd.image.channels} channel(s) and ${odd.mask.classes} class(es), others ${a.width}x${a.height}, ${a.channels}, ${k}; join with datasets of one kind`);
    return all;
  };
  return {
    datasetId: ds[0]!.id,
    dataKey: `datasets ${ds.map((d) => d.id).join(',')}`,
    train: () => pool(o.trainSplit ?? 'train'),
    test: () => pool(o.evalSplit ?? 'test'),
  };
}
