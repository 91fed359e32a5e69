// One optimisation step of a softmax network (ASCNet-N and its CNN baselines, docs/algorithms.md §7):
// softmax cross-entropy with batch-statistics batch norm, then one Adam update of the trainable entries
// (the batch-norm running statistics are left alone; they are calibrated after training). The paper's
// optimiser settings are lr 1e-3, beta1 0.9, beta2 0.9 (SOFTMAX_ADAM); the optimiser is core/train/adam.ts
// so its state can be checkpointed and resumed.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import { softmaxCrossEntropy } from '../losses/cross-entropy.js';
import { isTrainableWeight, type NormOptions } from '../models/rate-field.js';
import type { ForwardOutput, SegModel, WeightMap } from '../models/seg-model.js';
import { Adam, type AdamConfig } from './adam.js';

/** ASCNet's Adam: lr 1e-3, beta2 0.9; eps 1e-7 as the original Keras/TF code. */
export const SOFTMAX_ADAM: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.9, eps: 1e-7 };

type SoftmaxModel = SegModel & { forward(w: WeightMap, x: tf.Tensor4D, o?: NormOptions): ForwardOutput };

/**
 * Cross-entropy gradients of the trainable entries and one Adam update of `weights` in place (updated
 * entries are replaced, the old tensors disposed). Resolves to the loss before the step (one awaited
 * readback, so it runs on webgpu too); a non-finite loss throws NUMERIC_ERROR and changes nothing.
 */
export async function softmaxStep(model: SoftmaxModel, weights: WeightMap, adam: Adam, x: tf.Tensor4D, labels: tf.Tensor3D): Promise<number> {
  const names = Object.keys(weights).filter(isTrainableWeight);
  const ws = names.map((n) => weights[n]!);
  const { value, grads } = tf.tidy(() => {
    // Weights that do not reach the loss get zero gradients instead of an error.
    const r = tf.engine().gradients(() => {
      const w: WeightMap = { ...weights };
      names.forEach((n, i) => (w[n] = ws[i]!));
      return softmaxCrossEntropy(model.forward(w, x, { training: true }).logits!, labels);
    }, ws, undefined, true);
    return { value: r.value as tf.Scalar, grads: r.grads.map((g, i) => g ?? tf.zerosLike(ws[i]!)) };
  });
  try {
    const loss = ((await value.data()) as Float32Array)[0]!;
    if (!Number.isFinite(loss)) throw new FedSegError('NUMERIC_ERROR', `training step: cross-entropy is ${loss} (diverged or bad input)`);
    const g: WeightMap = {};
    names.forEach((n, i) => (g[n] = grads[i]!));
    adam.apply(weights, g);
    return loss;
  } finally {
    tf.dispose([value, ...grads]);
  }
}

export interface SoftmaxTrainerOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  /** Optimiser to continue with (resume); the trainer takes ownership. Default: a fresh SOFTMAX_ADAM. */
  adam?: Adam;
}

export interface SoftmaxTrainer {
  /** One Adam step on a batch; resolves to the loss before the step. */
  step(x: tf.Tensor4D, labels: tf.Tensor3D): Promise<number>;
  /** Current weights (trainable and running statistics), owned by the trainer. */
  weights(): WeightMap;
  /** Replace non-trainable entries (calibrated running statistics); the trainer takes ownership. */
  setNonTrainable(entries: WeightMap): void;
  readonly adam: Adam;
  dispose(): void;
}

/** A stateful wrapper of softmaxStep over its own copy of `init` (init stays the caller's). */
export function createSoftmaxTrainer(model: SoftmaxModel, init: WeightMap, opts: SoftmaxTrainerOptions = {}): SoftmaxTrainer {
  // clone() shares the buffer (ref-counted), so this copies nothing
  const weights: WeightMap = Object.fromEntries(Object.entries(init).map(([k, t]) => [k, t.clone()]));
  const adam = opts.adam ?? new Adam({ ...SOFTMAX_ADAM, ...(opts.lr !== undefined ? { lr: opts.lr } : {}), ...(opts.beta1 !== undefined ? { beta1: opts.beta1 } : {}), ...(opts.beta2 !== undefined ? { beta2: opts.beta2 } : {}) });
  return {
    adam,
    step: (x, labels) => softmaxStep(model, weights, adam, x, labels),
    weights: () => weights,
    setNonTrainable(entries) {
      for (const [k, t] of Object.entries(entries)) {
        if (isTrainableWeight(k)) throw new FedSegError('INVALID_ARGUMENT', `setNonTrainable: '${k}' is trainable`);
        if (weights[k] && weights[k] !== t) weights[k]!.dispose();
        weights[k] = t;
      }
    },
    dispose() {
      adam.dispose();
      tf.dispose(Object.values(weights));
    },
  };
}
