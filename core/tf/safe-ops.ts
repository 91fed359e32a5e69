// Ops whose stock tfjs 4.22 version cannot be differentiated twice, re-expressed with ops that can.
// tf.logSoftmax is a tf.customGrad whose gradient uses its saved (detached) output, so a gradient of
// its gradient throws "Cannot compute gradient of y=f(x) with respect to x" (measured on cpu and wasm).
// Use these in losses that take part in the ELCFS meta step (second-order gradients).
import { tf } from './tfjs.js';

/** log softmax along `axis` = x − logSumExp(x): same values as tf.logSoftmax, differentiable to any order. */
export function logSoftmax(x: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => tf.sub(x, tf.logSumExp(x, axis, true)));
}
