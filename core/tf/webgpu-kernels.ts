// Registers FedSeg's WGSL convolution kernels for tfjs's 'webgpu' backend ("fast training
// kernels"). Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter become the implicit-GEMM programs of
// core/tf/webgpu-conv-programs.ts (maths and tiling described there). Anything those programs do not
// cover (NCHW data, dilated gradients, dispatches beyond the WebGPU limits, non-float32) is passed to the
// stock tfjs kernel, which is kept and can be restored with setFedSegWebGpuKernels(false)
// (or FEDSEG_WEBGPU_KERNELS=stock before init) for before/after benchmarks.
// PadV2 (rank 5-6), Cast (int/bool -> float) and Transpose (int/bool) are correctness fixes (core/tf/webgpu-fix-programs.ts)
// and stay installed.
import { tf } from './tf.js';
import {
  conv2dBackpropFilterProgram,
  conv2dBackpropInputProgram,
  conv2dForwardProgram,
  planSplitK,
  SplitSumProgram,
  type ConvGeometry,
  type WgslProgram,
} from './webgpu-conv-programs.js';
import { installWebGpuReductionGradients, setGpuReductionGradients } from './webgpu-grads.js';
import { PadProgram, PermuteProgram, ToFloatProgram } from './webgpu-fix-programs.js';

type TensorInfo = tf.TensorInfo;
type UniformData = { type: string; data: number[] };
interface WebGpuBackendLike {
  tensorMap: { get(dataId: object): { values?: ArrayLike<number> | null; dtype: string } | undefined };
  runWebGPUProgram(program: WgslProgram, inputs: TensorInfo[], dtype: string, uniforms?: UniformData[], output?: TensorInfo): TensorInfo;
  makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Speed kernels, switchable for before/after benchmarks. */
const KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;
/** Correctness fixes, always installed on webgpu. */
const FIXES = ['PadV2', 'Cast', 'Transpose'] as const;
type KName = (typeof KERNELS)[number] | (typeof FIXES)[number];
const stock = new Map<KName, tf.KernelConfig>();
let enabled = false;
let fixesInstalled = false;

function geometry(convInfo: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: convInfo.batchSize,
    inH: convInfo.inHeight,
    inW: convInfo.inWidth,
    inC: convInfo.inChannels,
    outH: convInfo.outHeight,
    outW: convInfo.outWidth,
    outC: convInfo.outChannels,
    kH: convInfo.filterHeight,
    kW: convInfo.filterWidth,
    strideH: convInfo.strideHeight,
    strideW: convInfo.strideWidth,
    dilH: convInfo.dilationHeight,
    dilW: convInfo.dilationWidth,
    padTop: convInfo.padInfo.top,
    padLeft: convInfo.padInfo.left,
  };
}

function fallback(name: KName, args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const k = stock.get(name);
  if (!k) throw new Error(`stock webgpu kernel ${name} missing`);
  return k.kernelFunc(args);
}

const fits = (g: ConvGeometry, M: number, N: number) => Math.ceil(M / 64) <= 65535 && Math.ceil(N / 64) <= 65535 && g.batch > 0;

function conv2d(args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as { strides: number | [number, number]; pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dilations: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  if (a.dataFormat === 'NCHW' || x.dtype !== 'float32') return fallback('Conv2D', args);
  const ci = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const g = geometry(ci);
  if (!fits(g, g.batch * g.outH * g.outW, g.outC)) return fallback('Conv2D', args);
  const backend = args.backend as unknown as WebGpuBackendLike;
  const M = g.batch * g.outH * g.outW;
  const plan = planSplitK(M, g.outC, g.kH * g.kW * g.inC);
  const outShape = [g.batch, g.outH, g.outW, g.outC];
  return runSplit(backend, conv2dForwardProgram(g, plan), [x, filter], outShape, plan.splits);
}

/** Runs a (possibly split-K) GEMM program and, if split, adds its partial sums into outShape. */
function runSplit(backend: WebGpuBackendLike, program: WgslProgram, inputs: TensorInfo[], outShape: number[], splits: number): TensorInfo {
  if (splits === 1) {
    const out = backend.makeTensorInfo(outShape, 'float32');
    return backend.runWebGPUProgram(program, inputs, 'float32', undefined, out);
  }
  const partial = backend.runWebGPUProgram(program, inputs, 'float32');
  const out = backend.runWebGPUProgram(new SplitSumProgram(outShape, splits), [partial], 'float32');
  backend.disposeData(partial.dataId);
  return out;
}

function conv2dBackpropInput(args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as { inputShape: [number, number, number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  if (a.dataFormat === 'NCHW' || dy.dtype !== 'float32') return fallback('Conv2DBackpropInput', args);
  const ci = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const g = geometry(ci);
  if (!fits(g, g.batch * g.inH * g.inW, g.inC)) return fallback('Conv2DBackpropInput', args);
  const backend = args.backend as unknown as WebGpuBackendLike;
  return backend.runWebGPUProgram(conv2dBackpropInputProgram(g), [dy, filter], 'float32');
}

function conv2dBackpropFilter(args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const a = args.attrs as unknown as { filterShape: [number, number, number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  if (a.dataFormat === 'NCHW' || x.dtype !== 'float32') return fallback('Conv2DBackpropFilter', args);
  const ci = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const g = geometry(ci);
  const M = g.kH * g.kW * g.inC;
  const K = g.batch * g.outH * g.outW;
  if (!fits(g, M, g.outC) || K === 0) return fallback('Conv2DBackpropFilter', args);
  const backend = args.backend as unknown as WebGpuBackendLike;
  const plan = planSplitK(M, g.outC, K);
  return runSplit(backend, conv2dBackpropFilterProgram(g, plan), [x, dy], a.filterShape, plan.splits);
}

/** PadV2: ours for rank 5-6 (the stock program does not compile there), stock below. */
function padV2(args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const a = args.attrs as unknown as { paddings: [number, number][]; constantValue: number };
  if (x.shape.length < 5 || x.dtype !== 'float32' || x.shape.some((d) => d === 0)) return fallback('PadV2', args);
  const backend = args.backend as unknown as WebGpuBackendLike;
  const program = new PadProgram(x.shape, a.paddings);
  return backend.runWebGPUProgram(program, [x], 'float32', [{ type: 'float32', data: [a.constantValue] }]);
}

/** Cast: int32/bool -> float32 gets its own f32 buffer (see core/tf/webgpu-fix-programs.ts); all else stock. */
function cast(args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as { dtype: string };
  if (dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return fallback('Cast', args);
  const backend = args.backend as unknown as WebGpuBackendLike;
  const values = backend.tensorMap.get(x.dataId)?.values;
  if (values != null) {
    return backend.makeTensorInfo(x.shape, 'float32', Float32Array.from(values));
  }
  if (x.shape.some((d) => d === 0)) return backend.makeTensorInfo(x.shape, 'float32', new Float32Array(0));
  return backend.runWebGPUProgram(new ToFloatProgram(x.shape), [x], 'float32');
}

/** Transpose: ours for int32/bool on the GPU; float32 and CPU-resident values stay stock. */
function transpose(args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as unknown as { perm: number[] };
  const backend = args.backend as unknown as WebGpuBackendLike;
  if ((x.dtype !== 'int32' && x.dtype !== 'bool') || backend.tensorMap.get(x.dataId)?.values != null || x.shape.some((d) => d === 0))
    return fallback('Transpose', args);
  return backend.runWebGPUProgram(new PermuteProgram(x.shape, perm), [x], x.dtype);
}

const OURS: Record<KName, tf.KernelFunc> = {
  Transpose: transpose,
  Cast: cast,
  PadV2: padV2,
  Conv2D: conv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
};

/**
 * Swap FedSeg's WGSL conv kernels and GPU-side Sum/Mean gradients (core/tf/webgpu-grads.ts) in (true), or
 * restore tfjs's stock webgpu kernels and gradients (false). Idempotent.
 */
export function setFedSegWebGpuKernels(on: boolean): void {
  for (const name of [...KERNELS, ...FIXES]) {
    if (!stock.has(name)) {
      const k = tf.getKernel(name, 'webgpu');
      if (!k) throw new Error(`tfjs-backend-webgpu registers no ${name} kernel; is it loaded?`);
      stock.set(name, k);
    }
  }
  if (!fixesInstalled) {
    for (const name of FIXES) {
      tf.unregisterKernel(name, 'webgpu');
      tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: OURS[name] });
    }
    fixesInstalled = true;
  }
  installWebGpuReductionGradients();
  setGpuReductionGradients(on);
  if (on === enabled) return;
  for (const name of KERNELS) {
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(on ? { kernelName: name, backendName: 'webgpu', kernelFunc: OURS[name] } : stock.get(name)!);
  }
  enabled = on;
}

export function fedSegWebGpuKernelsEnabled(): boolean {
  return enabled;
}
