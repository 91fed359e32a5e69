// Training kernels FedSeg registers on the tfjs `wasm` backend (4.22), which otherwise cannot train
// convnets (docs/measured.md §1):
//   * Conv2DBackpropFilter — missing on wasm. Composite: one stride-1 forward conv (core/tf/conv-grad.ts).
//   * Conv2DBackpropInput  — present but slow (~680 ms for 4×128²×32→32). Composite: forward conv (~40–60 ms).
//   * MaxPoolGrad          — present but WRONG (drops routed entries). Composite: first-max routing masks.
//   * UnsortedSegmentSum   — missing (the stock tf.gather gradient needs it). Composite: scatterND, which
//                            sums duplicate indices.
// These matter for code that calls the stock ops directly (tf.fused.conv2d's gradient, tf.gather's
// gradient, tf.conv2dTranspose); tf.conv2d / tf.maxPool gradients already avoid them through
// core/tf/grad-overrides.ts. A composite kernel runs ordinary tf ops; the engine does not tape ops
// run inside a kernel (kernelDepth > 0), and tf.tidy frees the intermediates.
import { tf } from './tfjs.js';
import { convFilterGrad, convInputGrad, maxPoolGradComposite, type Conv2DAttrs, type PoolAttrs } from './conv-grad.js';
import { FedSegError } from '../contract/errors.js';

type T4 = tf.Tensor4D;
type KernelFunc = (args: { inputs: Record<string, unknown>; attrs?: Record<string, unknown> }) => tf.TensorInfo;

/** Kernel names FedSeg (re)registers on wasm. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'UnsortedSegmentSum'] as const;

const kernels: Record<(typeof WASM_TRAINING_KERNELS)[number], KernelFunc> = {
  Conv2DBackpropFilter: ({ inputs, attrs }) => {
    const a = attrs as unknown as Conv2DAttrs & { filterShape: [number, number, number, number] };
    return convFilterGrad(inputs.x as T4, inputs.dy as T4, a.filterShape, a);
  },
  Conv2DBackpropInput: ({ inputs, attrs }) => {
    const a = attrs as unknown as Conv2DAttrs & { inputShape: [number, number, number, number] };
    return convInputGrad(a.inputShape, inputs.dy as T4, inputs.filter as T4, a);
  },
  MaxPoolGrad: ({ inputs, attrs }) => maxPoolGradComposite(inputs.dy as T4, inputs.input as T4, attrs as unknown as PoolAttrs),
  UnsortedSegmentSum: ({ inputs, attrs }) => {
    const x = inputs.x as tf.Tensor;
    const ids = inputs.segmentIds as tf.Tensor;
    const numSegments = (attrs as { numSegments: number }).numSegments;
    const k = ids.rank;
    if (k > x.rank || ids.shape.some((d, i) => d !== x.shape[i])) {
      throw new FedSegError('INVALID_ARGUMENT', `unsortedSegmentSum: segmentIds shape [${ids.shape}] must be a prefix of x shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const rest = x.shape.slice(k);
      const m = ids.size;
      const idx = tf.reshape(tf.cast(ids, 'int32'), [m, 1]);
      return tf.scatterND(idx, tf.reshape(x, [m, ...rest]), [numSegments, ...rest]);
    });
  },
};

let registered = false;
const stock = new Map<string, tf.KernelConfig>();

/**
 * The wasm backend's own kernel that FedSeg replaced (Conv2DBackpropInput, MaxPoolGrad), for
 * benchmarks and regression tests; undefined where wasm had none (Conv2DBackpropFilter, UnsortedSegmentSum).
 */
export function stockWasmKernel(name: (typeof WASM_TRAINING_KERNELS)[number]): tf.KernelConfig | undefined {
  return stock.get(name);
}

/** Registers FedSeg's composite training kernels on the wasm backend (idempotent). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const name of WASM_TRAINING_KERNELS) {
    const own = tf.getKernel(name, 'wasm');
    if (own) {
      stock.set(name, own);
      tf.unregisterKernel(name, 'wasm');
    }
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernels[name] as unknown as tf.KernelFunc });
  }
}
