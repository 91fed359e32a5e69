// Sum / Mean gradients that stay on the GPU (measured on an H200, docs/gpu.md).
//
// tfjs 4.22's gradients of Sum and Mean are dy·ones(x.shape) (/ n): `ones` is built as a JS
// Float32Array and uploaded, so every reduction in a differentiated graph (the Dice loss sums, both
// means of every instance norm via tf.moments) ships an activation-sized buffer from the CPU to the GPU
// per step: ~1 GB per reference U-Net step at 5×384², which made the step take 1.5 s on an H200 while
// its convolutions took < 0.1 s. The same derivative, ∂(Σ_axes x)/∂x = broadcast(dy) (÷ n for the mean),
// is computed here with broadcastTo (a Tile kernel on the device). On other backends the stock formula
// runs unchanged, so their numbers stay bit-identical. broadcastTo has a (sum) gradient, so higher-order
// derivatives still work.
import { tf } from './tf.js';

let installed = false;

function expanded(dy: tf.Tensor, x: tf.Tensor, axis: unknown): tf.Tensor {
  const shape = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis as number | number[], x.shape)) shape[a] = 1;
  return tf.reshape(dy, shape);
}

let enabled = true;
const onGpu = () => enabled && tf.getBackend() === 'webgpu';

/** Switch the GPU-side reduction gradients on/off (off = stock tfjs formula; for before/after benches). */
export function setGpuReductionGradients(on: boolean): void {
  enabled = on;
}

/** Installs the Sum and Mean gradients above (idempotent). Called when the webgpu backend initialises. */
export function installWebGpuReductionGradients(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0]!;
      const { axis } = attrs as unknown as { axis: number | number[] };
      return {
        x: () => {
          const e = expanded(dy as tf.Tensor, x, axis);
          return tf.mul(e, onGpu() ? tf.onesLike(x) : tf.ones(x.shape, 'float32'));
        },
      };
    },
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0]!;
      const { axis } = attrs as unknown as { axis: number | number[] };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
      return {
        x: () => {
          const e = expanded(dy as tf.Tensor, x, axis);
          return tf.div(tf.mul(e, onGpu() ? tf.onesLike(x) : tf.ones(x.shape, 'float32')), n);
        },
      };
    },
  });
}
