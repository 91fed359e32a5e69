// The shape every segmentation network in FedSeg has, so the ELCFS learner, the federation and the
// app can run any of them (reference U-Net, ASC U-Net, ASCNet-N) with the same code.
// The forward pass is a pure function of an explicit weight map, so the meta step can run it with
// theta (variables) and with fast weights theta' (plain tensors) alike (docs/algorithms.md §3).
import type { tf } from '../tf/tf.js';

/** name -> tensor. Variables (theta) and plain tensors (theta') both fit. */
export type WeightMap = Record<string, tf.Tensor>;

export interface ForwardOutput {
  /** Per-class probabilities (sigmoid for multi-label, softmax for ASCNet-N), [B,H,W,classes]. */
  probs: tf.Tensor4D;
  /** Last decoder features Z fed to the boundary loss, [B,H,W,F] (U-Nets: F = 32). */
  features?: tf.Tensor4D;
  /** Learned rate field r >= 0, [B,H,W,1] (ASC models only). */
  rate?: tf.Tensor4D;
  /** Pre-activation logits, [B,H,W,classes], for losses that want them. */
  logits?: tf.Tensor4D;
}

export interface SegModel {
  /** Stable identifier, stored with checkpoints ('unet', 'asc-unet', 'ascnet-7', ...). */
  readonly kind: string;
  readonly inChannels: number;
  readonly classes: number;
  /** Seeded initialisation; returns freshly allocated tensors the caller owns. */
  init(seed: number): WeightMap;
  /** Pure forward pass; `training` switches batch-norm statistics where a model has them. */
  forward(weights: WeightMap, x: tf.Tensor4D, opts?: { training?: boolean }): ForwardOutput;
}
