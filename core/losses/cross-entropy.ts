// Softmax cross-entropy for the ASCNet-N family (docs/algorithms.md §7: the last layer is linear and
// trained with softmax cross-entropy over background + classes).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';

/** Mean softmax cross-entropy over all pixels. logits [B,H,W,K], labels int32 [B,H,W] in [0, K). */
export function softmaxCrossEntropy(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
  const k = logits.shape[3];
  if (labels.rank !== 3 || labels.shape.some((d, i) => d !== logits.shape[i])) {
    throw new FedSegError('SHAPE_MISMATCH', `softmaxCrossEntropy: labels [${labels.shape}] must be [${logits.shape.slice(0, 3)}]`);
  }
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), k);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}
