// Segmentation for the viewer: run a stored model on one sample, post-process as the evaluation
// protocol does (ALGORITHMS.md §6: sigmoid >= threshold, largest 4-connected component per class) and
// score it against the sample's mask with B's Dice and HD95. For ASC models (ASCNet, Zhang et al.
// ISBI 2020, Eq. 3-6) the learned rate field r >= 0 is returned as a heat map with its histogram.
import type { AppHandlers } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import { evaluateMasks, postprocess } from '../metrics/evaluate.js';
import { tf } from '../tf/tf.js';
import { type EngineContext } from './context.js';
import { loadSampleFull } from './samples.js';
import { isSoftmaxKind, type ModelCache } from './models.js';
import { nestedFromSoftmax } from './softmax.js';
import { cropHWC, inputTensor, paddedSize } from './preprocess.js';
import { histogramOf, maskToView, toFloatField } from './raster.js';

export function segmentHandlers(ctx: EngineContext, cache: ModelCache): Pick<AppHandlers, 'runSegmentation'> {
  return {
    async runSegmentation({ modelId, datasetId, index, threshold }) {
      await ctx.backend();
      const t0 = performance.now();
      const { sample, hasMask } = loadSampleFull(ctx, datasetId, index);
      const { model, weights, config } = await cache.get(modelId);
      const img = sample.image;
      if (img.channels !== config.inChannels)
        throw new FedSegError('SHAPE_MISMATCH', `this model expects ${config.inChannels}-channel images but the image has ${img.channels}; choose a model trained on this kind of data`);
      const W = paddedSize(img.width, config.depth);
      const x = inputTensor(img, config.depth);
      let probsData: Float32Array;
      let rateData: Float32Array | null = null;
      try {
        const [probs, rate] = tf.tidy(() => {
          const o = model.forward(weights, x, { training: false });
          return o.rate ? [o.probs, o.rate] : [o.probs];
        }) as tf.Tensor[];
        probsData = (await probs!.data()) as Float32Array;
        if (rate) rateData = (await rate.data()) as Float32Array;
        tf.dispose(rate ? [probs!, rate] : [probs!]);
      } finally {
        x.dispose();
      }
      const soft = isSoftmaxKind(config.kind);
      const probs = cropHWC(probsData, W, img.height, img.width, soft ? config.classes + 1 : config.classes);
      const pred = soft ? nestedFromSoftmax(probs, img.height, img.width, config.classes) : postprocess(probs, img.height, img.width, config.classes, threshold);
      let metrics = null;
      if (hasMask && sample.mask.classes === config.classes) {
        const ev = evaluateMasks(pred, sample.mask, sample.spacing ? { spacing: sample.spacing } : {});
        metrics = { dice: ev.dice, hd95: ev.hd95 };
      }
      const rate = rateData ? toFloatField(img.width, img.height, cropHWC(rateData, W, img.height, img.width, 1)) : null;
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
