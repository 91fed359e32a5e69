// Batch-norm running statistics after training (ASCNet-N, the ASC U-Net's rate field; docs/algorithms.md
// §7): population statistics over up to `maxImages` training images ("precise BN",
// core/models/rate-field.ts calibrateBatchNorm), swapped into the weight map in place, so inference
// (training: false) uses them. Networks without batch norm are left untouched.
import { tf } from '../tf/tf.js';
import type { ImageF32 } from '../contract/image.js';
import { calibrateBatchNorm } from '../models/rate-field.js';
import type { Network } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { trainingInput } from './network-input.js';

export async function calibrateRunningStats(net: Network, weights: WeightMap, images: ImageF32[], batchSize: number, maxImages = 32): Promise<void> {
  if (!net.hasBatchNorm || images.length === 0) return;
  const toInput = trainingInput(net);
  const batches: tf.Tensor4D[] = [];
  const use = images.slice(0, maxImages);
  for (let i = 0; i < use.length; i += Math.max(1, batchSize)) batches.push(toInput(use.slice(i, i + Math.max(1, batchSize))));
  try {
    const cal = await calibrateBatchNorm(net.model, weights, batches);
    for (const [k, t] of Object.entries(cal)) {
      if (weights[k] === t) continue;
      weights[k]?.dispose();
      weights[k] = t;
    }
  } finally {
    tf.dispose(batches);
  }
}
