// Looking up one sample of a dataset by its position (the viewer pages by index).
import { FedSegError } from '../contract/errors.js';
import type { StoredSample } from '../store/dataset-store.js';
import { type EngineContext, requireDataset } from './context.js';

export function loadSampleFull(ctx: EngineContext, datasetId: string, index: number): { sample: StoredSample; hasMask: boolean; site: string } {
  const d = requireDataset(ctx.store, datasetId);
  const row = ctx.store.listSamples(d.id, { offset: index, limit: 1 })[0];
  if (!row) throw new FedSegError('NOT_FOUND', `dataset '${d.name}' has ${d.sampleCount} image(s); there is no image number ${index + 1}`);
  const sample = ctx.store.getSample(row.id)!;
  // Imports without a mask store an all-zero mask and say so in the sample's meta.
  const hasMask = row.meta.hasMask !== false;
  return { sample, hasMask, site: typeof d.meta.site === 'string' ? d.meta.site : 'local' };
}
