// The final global model on the unseen site, image by image (docs/experiments.md §3): the model the
// unseen site kept from the hub (with its spec, in its own store) predicts every one of its images
// through the run API, as the app's Segment view would; per-image Dice and HD95 per class (the
// reference protocol, docs/algorithms.md §6) feed the paired bootstrap, and the first few images
// become overlays drawn large enough to read.
import { FedSegError } from '../contract/errors.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights, toWeightMap } from '../models/weight-map.js';
import { listModelRecords, readModel } from '../run/checkpoints.js';
import { evaluateNetwork } from '../run/evaluation.js';
import { participantData } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { overlayPng } from './figures.js';

export interface PerImage {
  name: string;
  dice: number[];
  /** null where HD95 is undefined for that image and class (an empty mask). */
  hd95: (number | null)[];
}

export interface FinalEvaluation {
  /** The round of the global model scored. */
  round: number;
  perImage: PerImage[];
  overlays: { name: string; png: Uint8Array; dice: number[] }[];
}

/** Side of the drawn overlays in pixels (at least; small images are scaled up by a whole factor). */
export const OVERLAY_SIDE = 384;

export async function evaluateFinalModel(storePath: string, overlays: number): Promise<FinalEvaluation> {
  const store = openSqliteStore(storePath);
  try {
    const rec = listModelRecords(store).filter((r) => r.meta.source === 'global').sort((a, b) => (a.info.round ?? 0) - (b.info.round ?? 0) || a.info.id - b.info.id).at(-1);
    if (!rec) throw new FedSegError('NOT_FOUND', `the unseen site's store ${storePath} kept no global model`);
    const m = readModel(store, rec.info.id);
    const ds = store.listDatasets()[0];
    if (!ds) throw new FedSegError('NOT_FOUND', `${storePath} holds no dataset`);
    const samples = participantData(store, ds.id).test();
    const net = buildNetwork(m.spec);
    const weights = toWeightMap(m.arrays, net.shapes);
    try {
      const ev = await evaluateNetwork(net, weights, samples, { keepPredictions: true });
      const perImage = ev.perImage.map((p) => ({ name: p.name, dice: p.result.dice, hd95: p.result.hd95.map((h) => (h !== null && Number.isFinite(h) ? h : null)) }));
      const n = Math.min(overlays, samples.length);
      const out: FinalEvaluation['overlays'] = [];
      for (let i = 0; i < n; i++) {
        const s = samples[i]!;
        const scale = Math.max(1, Math.ceil(OVERLAY_SIDE / Math.max(s.image.width, s.image.height)));
        out.push({ name: s.name, png: overlayPng(s.image, s.mask, ev.predictions![i]!, scale), dice: perImage[i]!.dice });
      }
      return { round: rec.info.round ?? 0, perImage, overlays: out };
    } finally {
      disposeWeights(weights);
    }
  } finally {
    store.close();
  }
}
