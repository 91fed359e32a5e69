// Fused Adam update for the webgpu backend ("whatever ... Adam need[s]").
//
// Adam (Kingma & Ba 2015, Alg. 1), torch.optim.Adam form (core/train/adam.ts):
//   m' = β1 m + (1 − β1) g;  v' = β2 v + (1 − β2) g²;  w' = w − lr · (m' / bc1) / (sqrt(v' / bc2) + ε),
//   bc1 = 1 − β1^t, bc2 = 1 − β2^t.
// Written with tf ops this is ~12 dispatches per weight; on webgpu a U-Net step is bound by per-dispatch
// CPU overhead (~0.12 ms per dispatch measured on an H200, docs/gpu.md), so here it is 3 WGSL programs
// (m', v', w'). Hyper-parameters and the bias corrections travel as uniforms (no recompiles per step).
// On other backends the same maths runs as tf ops. Not differentiable (an optimiser update).
import { tf } from './tf.js';
import type { WgslProgram } from './webgpu-conv-programs.js';

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

type TensorInfo = tf.TensorInfo;
interface Backend {
  runWebGPUProgram(p: WgslProgram, inputs: TensorInfo[], dtype: string, uniforms?: { type: string; data: number[] }[]): TensorInfo;
}

class AdamProgram implements WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  // 1 - β1 and 1 - β2 travel as their own uniforms: computing 1.0 - f32(0.999) on the GPU is off by
  // 1.3e-5 relative from torch's (float64-derived) 1 - β2.
  uniforms = 'b1 : f32, b2 : f32, omb1 : f32, omb2 : f32, lr : f32, bc1 : f32, bc2 : f32, eps : f32,';

  constructor(private readonly which: 'm' | 'v' | 'w', n: number) {
    this.outputShape = [n];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.variableNames = which === 'w' ? ['wIn', 'mIn', 'vIn'] : ['aIn', 'gIn'];
    this.shaderKey = `fedsegAdam_${which}`;
  }

  getUserCode(): string {
    const body =
      this.which === 'm'
        ? 'uniforms.b1 * aIn[index] + uniforms.omb1 * gIn[index]'
        : this.which === 'v'
          ? 'uniforms.b2 * aIn[index] + uniforms.omb2 * gIn[index] * gIn[index]'
          : 'wIn[index] - uniforms.lr * (mIn[index] / uniforms.bc1) / (sqrt(vIn[index] / uniforms.bc2) + uniforms.eps)';
    return `
fn main(index: i32) {
  if (index < uniforms.size) {
    result[index] = ${body};
  }
}
`;
  }
}

/**
 * One Adam step for one weight: returns new {w, m, v} tensors (inputs are not disposed). `m`/`v` null
 * means zero state (first step). `step` is t ≥ 1 after this update. fused=false forces the tf-ops path.
 */
export function fusedAdamStep(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor | null, v: tf.Tensor | null, h: AdamHyper, step: number, fused = true): { w: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  const bc1 = 1 - h.beta1 ** step;
  const bc2 = 1 - h.beta2 ** step;
  return tf.tidy(() => {
    const m0 = m ?? tf.zerosLike(w);
    const v0 = v ?? tf.zerosLike(w);
    if (!fused || tf.getBackend() !== 'webgpu' || w.dtype !== 'float32' || w.size === 0) {
      const m1 = tf.add(tf.mul(m0, h.beta1), tf.mul(g, 1 - h.beta1));
      const v1 = tf.add(tf.mul(v0, h.beta2), tf.mul(tf.square(g), 1 - h.beta2));
      const w1 = tf.sub(w, tf.mul(tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), h.eps)), h.lr));
      return { w: w1, m: m1, v: v1 };
    }
    const backend = tf.backend() as unknown as Backend;
    const uni = [{ type: 'float32', data: [h.beta1] }, { type: 'float32', data: [h.beta2] }, { type: 'float32', data: [1 - h.beta1] }, { type: 'float32', data: [1 - h.beta2] }, { type: 'float32', data: [h.lr] }, { type: 'float32', data: [bc1] }, { type: 'float32', data: [bc2] }, { type: 'float32', data: [h.eps] }];
    const n = w.size;
    const flat = (t: tf.Tensor) => tf.reshape(t, [n]);
    const run = (which: 'm' | 'v' | 'w', inputs: tf.Tensor[]) => {
      const info = backend.runWebGPUProgram(new AdamProgram(which, n), inputs.map(flat), 'float32', uni);
      return tf.reshape(tf.engine().makeTensorFromTensorInfo(info), w.shape);
    };
    const m1 = run('m', [m0, g]);
    const v1 = run('v', [v0, g]);
    const w1 = run('w', [w, m1, v1]);
    return { w: w1, m: m1, v: v1 };
  });
}
