// Dataset handlers of the app API: list, statistics, built-in demo data, import (dry run + transactional
// import with progress), rename, delete, paging and single samples for the viewer.
// Data and storage live in core/store and core/data; this file only adapts them to the API.
import type { AppHandlers } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { generateProstateSites } from '../data/synthetic/prostate.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { type EngineContext, requireDataset, uniqueDatasetName } from './context.js';
import { imageToRaster, maskToView } from './raster.js';
import { importHandlers } from './importing.js';
import { datasetSummary } from './summaries.js';

const FUNDUS_CLASSES = ['optic disc', 'optic cup'];

function generatedSites(kind: 'fundus' | 'prostate' | 'cells', sites: number, perSite: number, size: number, seed: number): { site: string; samples: Sample[]; classNames: string[]; channels: number; classes: number }[] {
  if (kind === 'fundus')
    return generateFundusSites({ sites, perSite, size, seed }).map((s) => ({ site: s.site, samples: s.samples, classNames: FUNDUS_CLASSES, channels: 3, classes: 2 }));
  if (kind === 'prostate')
    return generateProstateSites({ sites, perSite, size, seed }).map((s) => ({ site: s.site, samples: s.samples, classNames: ['prostate'], channels: 1, classes: 1 }));
  // Cell microscopy (core/data/synthetic/cells.ts): two sites with different cell sizes, classes = nested labels.
  return generateCellSites({ perSite, size, seed }).slice(0, sites).map((s) => ({
    site: s.site, samples: s.samples, classNames: ['cell', 'nucleus'].slice(0, s.samples[0]?.mask.classes ?? 1), channels: s.samples[0]?.image.channels ?? 1, classes: s.samples[0]?.mask.classes ?? 1,
  }));
}

export function datasetHandlers(ctx: EngineContext): Pick<AppHandlers,
  'listDatasets' | 'getDatasetStats' | 'generateDemoData' | 'previewImport' | 'importDataset' | 'cancelImport' | 'openImageFile' | 'renameDataset' | 'deleteDataset' | 'listSamples' | 'getSample'> {
  const { store } = ctx;
  return {
    async listDatasets() {
      return store.listDatasets().map((d) => datasetSummary(ctx, d));
    },

    async getDatasetStats({ datasetId }) {
      const d = requireDataset(store, datasetId);
      const rows = store.listSamples(d.id);
      const sizes = new Map<string, { width: number; height: number; count: number }>();
      const labelFractions = new Array<number>(d.classes).fill(0);
      const emptyMasks = new Array<number>(d.classes).fill(0);
      let sum = 0;
      let sumSq = 0;
      let n = 0;
      for (const r of rows) {
        const key = `${r.width}x${r.height}`;
        const s = sizes.get(key) ?? { width: r.width, height: r.height, count: 0 };
        s.count++;
        sizes.set(key, s);
        for (let c = 0; c < d.classes; c++) {
          const f = r.foreground[c] ?? 0;
          labelFractions[c]! += f;
          if (f === 0) emptyMasks[c]!++;
        }
        // Pooled mean/std from per-sample moments (equal pixel counts are not assumed).
        const px = r.width * r.height * r.channels;
        sum += r.mean * px;
        sumSq += (r.std * r.std + r.mean * r.mean) * px;
        n += px;
      }
      const mean = n ? sum / n : 0;
      return {
        datasetId,
        count: rows.length,
        sizes: [...sizes.values()],
        labelFractions: labelFractions.map((v) => (rows.length ? v / rows.length : 0)),
        emptyMasks,
        intensityMean: mean,
        intensityStd: n ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0,
      };
    },

    async generateDemoData({ kind, sites, perSite, size, seed }) {
      const made = generatedSites(kind, sites, perSite, size, seed);
      const created = store.transaction(() =>
        made.map((s) => {
          const d = store.createDataset({
            name: uniqueDatasetName(store, `Demo ${kind} ${s.site}`),
            kind, source: `synthetic:${kind} seed=${seed} size=${size}`, channels: s.channels, classes: s.classes,
            classNames: s.classNames, meta: { site: s.site, synthetic: true },
          });
          store.addSamples(d.id, s.samples);
          return store.getDataset(d.id)!;
        }),
      );
      return { datasets: created.map((d) => datasetSummary(ctx, d)) };
    },

    ...importHandlers(ctx),

    async renameDataset({ datasetId, name }) {
      store.renameDataset(requireDataset(store, datasetId).id, name);
      return {};
    },

    async deleteDataset({ datasetId }) {
      store.deleteDataset(requireDataset(store, datasetId).id);
      return {};
    },

    async listSamples({ datasetId, offset, limit }) {
      const d = requireDataset(store, datasetId);
      const items = store.listSamples(d.id, { offset, limit }).map((s, i) => ({ index: offset + i, name: s.name }));
      return { total: d.sampleCount, items };
    },

    async getSample({ datasetId, index }) {
      const d = requireDataset(store, datasetId);
      const row = store.listSamples(d.id, { offset: index, limit: 1 })[0];
      if (!row) throw new FedSegError('NOT_FOUND', `dataset '${d.name}' has ${d.sampleCount} image(s); there is no image number ${index + 1}`);
      const s = store.getSample(row.id)!;
      const hasMask = row.meta.hasMask !== false;
      return { name: s.name, image: imageToRaster(s.image), mask: hasMask ? maskToView(s.mask) : null };
    },
  };
}

