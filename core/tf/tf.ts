// The one place that imports TensorFlow.js for the rest of the code base. Everything in core/ imports
// `tf` from here so that gradients, chained ops and FedSeg's gradient overrides (core/tf/grad-overrides.ts:
// conv/pool/gather gradients built from forward ops, second-order-correct sigmoid/tanh/exp/softmax)
// are registered exactly once and every module shares one engine.
import { tf } from './tfjs.js';
import { installGradOverrides } from './grad-overrides.js';

installGradOverrides();

export { tf };
export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
