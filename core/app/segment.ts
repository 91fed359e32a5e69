// Segmentation for the viewer: run a stored model on one sample exactly as training and evaluation
// see it (the run API's input and post-processing, core/run/predict.ts; docs/algorithms.md §6) and
// score it against the sample's mask with the same function `fedseg eval` uses per image. For ASC
// models (ASCNet, Zhang et al. ISBI 2020, Eq. 3-6) the learned rate field r >= 0 is returned as a heat
// map with its histogram.
import type { AppHandlers } from '../contract/app-api.js';
import { scoreSample } from '../run/evaluation.js';
import { predict } from '../run/predict.js';
import { type EngineContext } from './context.js';
import { loadSampleFull } from './samples.js';
import type { ModelCache } from './models.js';
import { histogramOf, maskToView, toFloatField } from './raster.js';

export function segmentHandlers(ctx: EngineContext, cache: ModelCache): Pick<AppHandlers, 'runSegmentation'> {
  return {
    async runSegmentation({ modelId, datasetId, index, threshold }) {
      await ctx.backend();
      const t0 = performance.now();
      const { sample, hasMask } = loadSampleFull(ctx, datasetId, index);
      const { net, weights } = await cache.get(modelId);
      const img = sample.image;
      const [p] = await predict(net, weights, [img], { threshold, withRate: true });
      const pred = p!.mask;
      let metrics = null;
      if (hasMask && sample.mask.classes === net.spec.classes) {
        const ev = scoreSample(pred, sample);
        metrics = { dice: ev.dice, hd95: ev.hd95 };
      }
      const rate = p!.rate ? toFloatField(img.width, img.height, p!.rate) : null;
      return {
        prediction: maskToView(pred),
        metrics,
        rate,
        rateHistogram: rate ? histogramOf(rate.data, 24) : null,
        ms: performance.now() - t0,
      };
    },
  };
}
