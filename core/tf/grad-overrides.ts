// FedSeg's gradient overrides (global: they apply on every backend). Installed once by core/tf/tf.ts.
//
// Why (measured in docs/measured.md §1–2, tfjs 4.22):
//  * Conv2D: the stock backward calls Conv2DBackpropFilter (missing on wasm; ~135 s on cpu for a
//    4×128²×32→32 conv) and Conv2DBackpropInput (slow on wasm), and has no second-order gradient.
//    Here, on wasm and cpu, both are forward convs (core/tf/conv-grad.ts): fast and differentiable to
//    any order. Other backends keep their own backprop kernels, which get 2nd-order gradients here.
//  * MaxPool: the wasm MaxPoolGrad kernel drops entries, and the stock gradient has no 2nd order.
//  * GatherNd has no gradient in tfjs; ScatterNd's is added so the gatherND gradient is itself
//    differentiable (bilinear sampling in the adaptive-scale conv, ASCNet, Zhang et al. ISBI 2020).
//  * Sigmoid/Tanh/Exp/Softmax/Elu/MaxPool save their OUTPUT, which the engine stores detached, so the
//    stock second-order gradient is silently wrong (5%, 4%, 7% off). These recompute y from the input.
//  * AvgPool: the stock AvgPoolGrad divides by the full window even where 'same' padding makes the
//    forward divide by fewer in-bounds entries: wrong at borders. Replaced by the exact adjoint.
//  * Comparison/logical ops get zero gradients so masks (maxpool routing, where(x>0)) can sit inside
//    a differentiated gradient.
//  * ResizeNearestNeighbor / ResizeBilinear: the stock gradients are WRONG in tfjs 4.22 (nearest on cpu;
//    half-pixel centres on wasm; transposed shape on cpu for non-square bilinear). Replaced by the exact
//    adjoint of the forward kernel (core/tf/resize-grad.ts).
//  * ResizeNearestNeighborGrad / ResizeBilinearGrad / AvgPoolGrad / MaxPoolGrad get gradients (they are
//    linear in dy; their adjoint is the forward op), so upsampling and pooling work at 2nd order.
import { tf } from './tfjs.js';
import { resizeGrad } from './resize-grad.js';
import { avgPoolGradComposite, checkConvAttrs, convFilterGrad, convInputGrad, maxPoolGatherRouted, maxPoolGradComposite, type Conv2DAttrs, type PoolAttrs } from './conv-grad.js';

type T = tf.Tensor;
type T4 = tf.Tensor4D;
type Attrs = Record<string, unknown>;

const reg = (kernelName: string, gradFunc: (dy: T, saved: T[], attrs: Attrs) => Record<string, () => T>, inputsToSave: string[]) =>
  tf.registerGradient({
    kernelName,
    inputsToSave,
    gradFunc: (dy, saved, attrs) => gradFunc(dy as T, saved, attrs as unknown as Attrs),
  });

const convAttrs = (a: Attrs): Conv2DAttrs => a as unknown as Conv2DAttrs;

let installed = false;

/**
 * Backends where conv backward runs as FedSeg's forward-conv composites (conv-grad.ts): wasm (its own
 * kernels are missing/slow) and cpu (its filter kernel is pathological). Elsewhere (webgpu with FedSeg's
 * WGSL kernels, tfjs-node) the backend's Conv2DBackpropInput/Filter kernels run; they are taped with the
 * overrides below, so second order works on every backend.
 */
const COMPOSITE_CONV_BACKENDS = new Set(['wasm', 'cpu']);
let convMode: 'auto' | 'composite' | 'kernels' = 'auto';

/**
 * How conv2d's backward runs: 'auto' (composites on wasm/cpu, backend kernels elsewhere), or forced
 * 'composite' / 'kernels' everywhere (for tests and benchmarks). Returns the previous mode.
 */
export function setConvGradMode(mode: 'auto' | 'composite' | 'kernels'): 'auto' | 'composite' | 'kernels' {
  const prev = convMode;
  convMode = mode;
  return prev;
}

const useComposite = () => (convMode === 'auto' ? COMPOSITE_CONV_BACKENDS.has(tf.getBackend()) : convMode === 'composite');

function kernelAttrs(a: Conv2DAttrs, extra: Record<string, unknown>): tf.NamedAttrMap {
  return { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode, dilations: 1, ...extra } as unknown as tf.NamedAttrMap;
}

function inputGrad(xShape: [number, number, number, number], dy: T4, w: T4, a: Conv2DAttrs): T {
  if (useComposite()) return convInputGrad(xShape, dy, w, a);
  checkConvAttrs(a, 'conv2d input gradient');
  return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, kernelAttrs(a, { inputShape: xShape })) as T;
}

function filterGrad(x: T4, dy: T4, wShape: [number, number, number, number], a: Conv2DAttrs): T {
  if (useComposite()) return convFilterGrad(x, dy, wShape, a);
  checkConvAttrs(a, 'conv2d filter gradient');
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, kernelAttrs(a, { filterShape: wShape })) as T;
}

/** The kernels whose gradients FedSeg replaces (for docs and tests). */
export const OVERRIDDEN_GRADIENTS = [
  'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad',
  'ResizeNearestNeighbor', 'ResizeBilinear', 'ResizeNearestNeighborGrad', 'ResizeBilinearGrad', 'GatherNd', 'ScatterNd', 'Sigmoid', 'Tanh', 'Exp',
  'Softmax', 'Elu', 'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd',
  'LogicalOr', 'LogicalNot', 'IsNan', 'IsInf', 'IsFinite',
] as const;

export function installGradOverrides(): void {
  if (installed) return;
  installed = true;

  reg('Conv2D', (dy, [x, w], a) => ({
    x: () => inputGrad((x as T4).shape, dy as T4, w as T4, convAttrs(a)),
    filter: () => filterGrad(x as T4, dy as T4, (w as T4).shape, convAttrs(a)),
  }), ['x', 'filter']);

  // y = Conv2DBackpropInput(dy0, W) = conv2dTranspose. Linear in both inputs:
  //   d/d dy0 = conv2d(g, W) ; d/dW = filterGrad(x = g, dy = dy0).
  reg('Conv2DBackpropInput', (g, [dy0, w], a) => ({
    dy: () => tf.conv2d(g as T4, w as T4, convAttrs(a).strides, convAttrs(a).pad as 'same', 'NHWC', 1, convAttrs(a).dimRoundingMode),
    filter: () => filterGrad(g as T4, dy0 as T4, (w as T4).shape, convAttrs(a)),
  }), ['dy', 'filter']);

  // y = Conv2DBackpropFilter(x, dy0) (shape of W). d/dx = inputGrad(dy0, g) ; d/d dy0 = conv2d(x, g).
  reg('Conv2DBackpropFilter', (g, [x, dy0], a) => ({
    x: () => inputGrad((x as T4).shape, dy0 as T4, g as T4, convAttrs(a)),
    dy: () => tf.conv2d(x as T4, g as T4, convAttrs(a).strides, convAttrs(a).pad as 'same', 'NHWC', 1, convAttrs(a).dimRoundingMode),
  }), ['x', 'dy']);

  reg('MaxPool', (dy, [x], a) => ({
    x: () => maxPoolGradComposite(dy as T4, x as T4, a as unknown as PoolAttrs),
  }), ['x']);

  // MaxPoolGrad(dy0, x, y) is linear in dy0 with a fixed (piecewise-constant) routing; its adjoint
  // gathers g at each output's routed input. Routing is locally constant in x and y: zero gradient.
  reg('MaxPoolGrad', (g, [dy0, x], a) => ({
    dy: () => maxPoolGatherRouted(g as T4, x as T4, a as unknown as PoolAttrs),
    input: () => tf.zerosLike(x as T),
    output: () => tf.zerosLike(dy0 as T),
  }), ['dy', 'input']);

  reg('AvgPool', (dy, [x], a) => ({
    x: () => avgPoolGradComposite(dy as T4, (x as T4).shape, a as unknown as PoolAttrs),
  }), ['x']);

  // AvgPoolGrad (only reached when called directly): linear in dy; adjoint = avgPool when no padding.
  reg('AvgPoolGrad', (g, _saved, a) => {
    const p = a as unknown as PoolAttrs;
    return { dy: () => tf.avgPool(g as T4, p.filterSize, p.strides, p.pad as 'same', p.dimRoundingMode), input: () => tf.zerosLike(g) };
  }, []);

  for (const [k, kind] of [['ResizeNearestNeighbor', 'nearest'], ['ResizeBilinear', 'bilinear']] as const) {
    reg(k, (dy, [images], a) => ({
      images: () => resizeGrad(kind, dy as T4, (images as T4).shape[1], (images as T4).shape[2], a.alignCorners as boolean, a.halfPixelCenters as boolean),
    }), ['images']);
  }

  reg('ResizeNearestNeighborGrad', (g, [dy0], a) => ({
    dy: () => tf.image.resizeNearestNeighbor(g as T4, [(dy0 as T4).shape[1], (dy0 as T4).shape[2]], a.alignCorners as boolean, a.halfPixelCenters as boolean),
    images: () => tf.zerosLike(g),
  }), ['dy']);

  reg('ResizeBilinearGrad', (g, [dy0], a) => ({
    dy: () => tf.image.resizeBilinear(g as T4, [(dy0 as T4).shape[1], (dy0 as T4).shape[2]], a.alignCorners as boolean, a.halfPixelCenters as boolean),
    images: () => tf.zerosLike(g),
  }), ['dy']);

  reg('GatherNd', (dy, [params, indices]) => ({
    params: () => tf.scatterND(indices as T, dy, (params as T).shape),
    indices: () => tf.zeros((indices as T).shape),
  }), ['params', 'indices']);

  reg('ScatterNd', (dy, [indices]) => ({
    updates: () => tf.gatherND(dy, indices as T),
    indices: () => tf.zeros((indices as T).shape),
  }), ['indices']);

  reg('Sigmoid', (dy, [x]) => ({
    x: () => {
      const y = tf.sigmoid(x as T);
      return tf.mul(dy, tf.mul(y, tf.sub(1, y)));
    },
  }), ['x']);
  reg('Tanh', (dy, [x]) => ({ x: () => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(x as T)))) }), ['x']);
  reg('Exp', (dy, [x]) => ({ x: () => tf.mul(dy, tf.exp(x as T)) }), ['x']);
  reg('Softmax', (dy, [logits], a) => ({
    logits: () => {
      const dim = a.dim as number;
      const y = tf.softmax(logits as T, dim);
      const dyy = tf.mul(dy, y);
      return tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y));
    },
  }), ['logits']);
  reg('Elu', (dy, [x]) => ({
    x: () => tf.mul(dy, tf.where(tf.greater(x as T, 0), tf.onesLike(x as T), tf.exp(x as T))),
  }), ['x']);

  for (const k of ['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr']) {
    reg(k, (_dy, [a, b]) => ({ a: () => tf.zeros((a as T).shape), b: () => tf.zeros((b as T).shape) }), ['a', 'b']);
  }
  for (const k of ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite']) {
    reg(k, (_dy, [x]) => ({ x: () => tf.zeros((x as T).shape) }), ['x']);
  }
}

