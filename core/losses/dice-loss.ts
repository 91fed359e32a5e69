// Batch Dice loss (docs/algorithms.md §4; authors' utils/losses.py `dice_loss`):
//   D_i = (2 sum S*Y + 1e-5) / (sum S + sum Y + 1e-5), sums over the whole batch and all pixels of
//   channel i;  loss = 1 - mean_i D_i.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';

export const DICE_SMOOTH = 1e-5;

/** probs, target: [B,H,W,C] (target 0/1 floats). Returns a scalar. */
export function diceLoss(probs: tf.Tensor, target: tf.Tensor, smooth = DICE_SMOOTH): tf.Scalar {
  if (probs.rank !== 4 || probs.shape.some((d, i) => d !== target.shape[i]) || target.rank !== 4)
    throw new FedSegError('SHAPE_MISMATCH', `diceLoss: probs [${probs.shape}] and target [${target.shape}] must be equal [B,H,W,C] shapes`);
  return tf.tidy(() => {
    const axes = [0, 1, 2];
    const inter = tf.sum(tf.mul(probs, target), axes);
    const den = tf.add(tf.add(tf.sum(probs, axes), tf.sum(target, axes)), smooth);
    const d = tf.div(tf.add(tf.mul(inter, 2), smooth), den);
    return tf.sub(1, tf.mean(d)) as tf.Scalar;
  });
}
