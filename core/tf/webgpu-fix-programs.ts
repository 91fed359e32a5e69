// Correctness fixes for tfjs-backend-webgpu 4.22 bugs that FedSeg training hits.
//
// 1. Constant padding (tfjs kernel PadV2) for ranks 5 and 6.
// tfjs-backend-webgpu 4.22's PadProgram emits `uniforms.xShape[i]` on its vec5/vec6 structs, which WGSL
// cannot index ("cannot index type 'vec6'"), so every rank-5/6 tf.pad fails on webgpu. FedSeg's conv and
// pool gradients (core/tf/conv-grad.ts: zero insertion for strided convs) pad rank-6 tensors.
// out[c] = x[c − before] when 0 ≤ c − before < inShape (per axis), else constantValue.
// Shapes are baked into the shader (constant strides), the shader key carries them.
//
// 2. Cast int32/bool -> float32. The stock kernel returns the SAME int32 GPU buffer relabelled float32
// ("no encoding loss"); programs that read the buffer with its storage type then fail to compile
// (e.g. Transpose: "type mismatch ... setOutputAtIndex, expected 'f32', got 'i32'"), so e.g. a
// transposed/convolved cast(mask) silently yields garbage. ToFloatProgram writes a real f32 buffer.
//
// 3. Transpose of int32/bool tensors (the stock program declares an f32 output for them and fails to
// compile at rank 4). PermuteProgram: out[c] = x[c permuted back], shapes baked in, any 32-bit dtype.
import type { WgslProgram } from './webgpu-conv-programs.js';

export class PadProgram implements WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['xIn'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  uniforms = 'constantValue : f32,';

  constructor(private readonly inShape: number[], private readonly paddings: [number, number][]) {
    this.outputShape = inShape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const n = this.outputShape.reduce((a, b) => a * b, 1);
    this.dispatchLayout = { x: this.outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.shaderKey = `fedsegPad_${inShape.join('x')}_${paddings.map((p) => p.join('-')).join('_')}`;
  }

  getUserCode(): string {
    const r = this.inShape.length;
    const lines: string[] = ['var rem = index;', 'var inIndex = 0;', 'var inside = true;'];
    for (let i = 0; i < r; i++) {
      const outStride = this.outputShape.slice(i + 1).reduce((a, b) => a * b, 1);
      const inStride = this.inShape.slice(i + 1).reduce((a, b) => a * b, 1);
      lines.push(`{ let c = rem / ${outStride}; rem = rem - c * ${outStride}; let s = c - ${this.paddings[i]![0]};`);
      lines.push(`  if (s < 0 || s >= ${this.inShape[i]}) { inside = false; } inIndex = inIndex + s * ${inStride}; }`);
    }
    return `
fn main(index: i32) {
  if (index < uniforms.size) {
    ${lines.join('\n    ')}
    var v = uniforms.constantValue;
    if (inside) { v = xIn[inIndex]; }
    result[index] = v;
  }
}
`;
  }
}

/** result[i] = f32(x[i]) for an int32/bool (i32-stored) input. */
export class ToFloatProgram implements WgslProgram {
  outputShape: number[];
  shaderKey = 'fedsegToFloat';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['xIn'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(shape: number[]) {
    this.outputShape = shape;
    const n = shape.reduce((a, b) => a * b, 1);
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(n / 64), 1, 1];
  }

  getUserCode(): string {
    return `
fn main(index: i32) {
  if (index < uniforms.size) {
    result[index] = f32(xIn[index]);
  }
}
`;
  }
}

/** Transpose for i32-stored dtypes: out[..., c_i, ...] = x[c_perm^-1]. */
export class PermuteProgram implements WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['xIn'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(private readonly inShape: number[], private readonly perm: number[]) {
    this.outputShape = perm.map((p) => inShape[p]!);
    const n = inShape.reduce((a, b) => a * b, 1);
    this.dispatchLayout = { x: this.outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.shaderKey = `fedsegPermute_${inShape.join('x')}_${perm.join('')}`;
  }

  getUserCode(): string {
    const r = this.inShape.length;
    const inStrides = this.inShape.map((_, i) => this.inShape.slice(i + 1).reduce((a, b) => a * b, 1));
    const lines: string[] = ['var rem = index;', 'var inIndex = 0;'];
    for (let i = 0; i < r; i++) {
      const outStride = this.outputShape.slice(i + 1).reduce((a, b) => a * b, 1);
      // output axis i is input axis perm[i]
      lines.push(`{ let c = rem / ${outStride}; rem = rem - c * ${outStride}; inIndex = inIndex + c * ${inStrides[this.perm[i]!]}; }`);
    }
    return `
fn main(index: i32) {
  if (index < uniforms.size) {
    ${lines.join('\n    ')}
    result[index] = xIn[inIndex];
  }
}
`;
  }
}
