// The app API's view of a stored dataset.
import type { DatasetSummary } from '../contract/app-api.js';
import type { DatasetInfo } from '../store/dataset-store.js';
import type { EngineContext } from './context.js';

export function datasetSummary(ctx: EngineContext, d: DatasetInfo): DatasetSummary {
  const first = ctx.store.listSamples(d.id, { limit: 1 })[0];
  return {
    id: String(d.id),
    name: d.name,
    site: typeof d.meta.site === 'string' ? d.meta.site : 'local',
    modality: d.kind,
    count: d.sampleCount,
    width: first?.width ?? 0,
    height: first?.height ?? 0,
    channels: d.channels,
    classes: d.classes,
    classNames: d.classNames,
    createdAt: d.createdAt,
  };
}
