// The reference 2D U-Net of FedDG (docs/algorithms.md §3; authors' networks/unet2d.py `Unet2D`), NHWC.
//
// Encoder block i (width w_i = base * 2^(i-1), i = 1..depth; all but the first start with a 2x2
// max-pool): conv3x3 -> IN (no ReLU); conv3x3 -> IN -> ReLU; conv3x3 -> IN -> ReLU.
// Decoder block j (width p = base * 2^j, j = depth-1..1): (not the first) conv3x3 2p->p -> IN -> ReLU;
// nearest x2 upsample; conv1x1 p->p/2 -> IN -> ReLU; concat [skip, up]; conv3x3 p->p -> IN -> ReLU.
// Head: conv1x1 2*base -> classes, sigmoid. Z = last decoder output (2*base channels, full resolution).
// InstanceNorm: no affine parameters, eps 1e-5, biased variance per sample and channel.
// Init: conv weights He-normal fan_out (std sqrt(2 / (Cout k k))), biases U(-1/sqrt(fan_in), +1/sqrt(fan_in)).
// Weight names follow the reference's PyTorch state_dict ('convd1.conv1.weight', ..., 'seg1.bias');
// filters are stored HWIO ([k, k, Cin, Cout]) as tfjs expects.
//
// The forward pass is a pure function of the weight map, so the meta step runs it with theta and theta'.
// `activation: 'softplus'` and `pooling: 'avg'` exist only to make the network smooth for numerical
// derivative checks (docs/measured.md §2: ReLU/max-pool kinks make finite differences of gradients meaningless).
import { tf } from '../tf/tf.js';
import { createRng } from '../rng.js';
import { FedSegError } from '../contract/errors.js';
import type { ForwardOutput, SegModel, WeightMap } from './seg-model.js';

export interface UNetConfig {
  inChannels: number;
  classes: number;
  /** Width of the first encoder block (reference 16). */
  baseWidth?: number;
  /** Number of encoder blocks (reference 5). Input H and W must be divisible by 2^(depth-1). */
  depth?: number;
  /** Nonlinearity; 'softplus' only for smooth derivative checks. Default 'relu'. */
  activation?: 'relu' | 'softplus';
  /** Down-sampling; 'avg' only for smooth derivative checks. Default 'max'. */
  pooling?: 'max' | 'avg';
}

export type ResolvedUNetConfig = Required<UNetConfig>;

export interface WeightShape {
  name: string;
  shape: number[];
  /** 'conv' filters are He-normal, 'bias' uniform. */
  role: 'filter' | 'bias';
  fanIn: number;
  fanOut: number;
}

export const IN_EPS = 1e-5;

function checkInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new FedSegError('INVALID_ARGUMENT', `createUNet: ${what} must be an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

export function resolveUNetConfig(cfg: UNetConfig): ResolvedUNetConfig {
  if (cfg === null || typeof cfg !== 'object') throw new FedSegError('INVALID_ARGUMENT', 'createUNet: config object required');
  const activation = cfg.activation ?? 'relu';
  const pooling = cfg.pooling ?? 'max';
  if (activation !== 'relu' && activation !== 'softplus')
    throw new FedSegError('INVALID_ARGUMENT', `createUNet: activation must be 'relu' or 'softplus', got ${String(activation)}`);
  if (pooling !== 'max' && pooling !== 'avg')
    throw new FedSegError('INVALID_ARGUMENT', `createUNet: pooling must be 'max' or 'avg', got ${String(pooling)}`);
  return {
    inChannels: checkInt(cfg.inChannels, 'inChannels', 1, 64),
    classes: checkInt(cfg.classes, 'classes', 1, 64),
    baseWidth: checkInt(cfg.baseWidth ?? 16, 'baseWidth', 2, 256),
    depth: checkInt(cfg.depth ?? 5, 'depth', 2, 7),
    activation,
    pooling,
  };
}

function conv(name: string, k: number, cin: number, cout: number): WeightShape[] {
  return [
    { name: `${name}.weight`, shape: [k, k, cin, cout], role: 'filter', fanIn: cin * k * k, fanOut: cout * k * k },
    { name: `${name}.bias`, shape: [cout], role: 'bias', fanIn: cin * k * k, fanOut: cout * k * k },
  ];
}

/** Every weight of the U-Net in a stable order, with shapes; allocates nothing. */
export function unetWeightShapes(config: UNetConfig): WeightShape[] {
  const c = resolveUNetConfig(config);
  const out: WeightShape[] = [];
  const w = (i: number) => c.baseWidth * 2 ** (i - 1);
  for (let i = 1; i <= c.depth; i++) {
    const cin = i === 1 ? c.inChannels : w(i - 1);
    out.push(...conv(`convd${i}.conv1`, 3, cin, w(i)), ...conv(`convd${i}.conv2`, 3, w(i), w(i)), ...conv(`convd${i}.conv3`, 3, w(i), w(i)));
  }
  for (let j = c.depth - 1; j >= 1; j--) {
    const p = c.baseWidth * 2 ** j;
    if (j !== c.depth - 1) out.push(...conv(`convu${j}.conv1`, 3, 2 * p, p));
    out.push(...conv(`convu${j}.conv2`, 1, p, p / 2), ...conv(`convu${j}.conv3`, 3, p, p));
  }
  out.push(...conv('seg1', 1, 2 * c.baseWidth, c.classes));
  return out;
}

export function countParams(shapes: { shape: number[] }[]): number {
  return shapes.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Mean over H and W per sample and channel, [B,H,W,C] -> [B,1,1,C], as a batched matMul with a
 * 1/(HW) row: on wasm this is 1.5-6x faster than tf.mean over axes [1, 2] (which transposes first),
 * and it is differentiable to any order.
 */
export function channelMean(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const row = tf.fill([1, 1, h * w], 1 / (h * w));
    return tf.reshape(tf.matMul(row, tf.reshape(x, [b, h * w, c])), [b, 1, 1, c]) as tf.Tensor4D;
  });
}

let fusedNormGrad = false;

/**
 * Runs fn with instance norm using its closed-form backward
 *   dx = r * (dy - mean(dy) - y * mean(dy * y)),   r = 1/sqrt(var + eps)
 * (one custom-gradient node instead of autodiff through moments: fewer full-size ops). First-order
 * only (the saved y and r are constants to an outer tape), so the exact second-order meta step and
 * any nested differentiation must not use it; the default everywhere else is plain autodiff.
 */
export function withFusedNormGradient<T>(fn: () => T): T {
  const prev = fusedNormGrad;
  fusedNormGrad = true;
  try {
    return fn();
  } finally {
    fusedNormGrad = prev;
  }
}

const fusedInstanceNorm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const x4 = x as tf.Tensor4D;
  const xc = tf.sub(x4, channelMean(x4)) as tf.Tensor4D;
  const r = tf.rsqrt(tf.add(channelMean(tf.square(xc)), IN_EPS));
  const y = tf.mul(xc, r) as tf.Tensor4D;
  save([y, r]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [ys, rs] = saved as [tf.Tensor4D, tf.Tensor4D];
      const d = dy as tf.Tensor4D;
      return tf.mul(rs, tf.sub(tf.sub(d, channelMean(d)), tf.mul(ys, channelMean(tf.mul(d, ys) as tf.Tensor4D))));
    },
  };
});

/** Instance norm without affine parameters: per sample and channel over H, W; biased variance. */
export function instanceNorm(x: tf.Tensor4D, eps = IN_EPS): tf.Tensor4D {
  if (fusedNormGrad && eps === IN_EPS) return fusedInstanceNorm(x) as tf.Tensor4D;
  return tf.tidy(() => {
    const xc = tf.sub(x, channelMean(x));
    return tf.mul(xc, tf.rsqrt(tf.add(channelMean(tf.square(xc) as tf.Tensor4D), eps))) as tf.Tensor4D;
  });
}

/**
 * Nearest-neighbour x2 upsampling by broadcasting ([B,H,1,W,1,C] * ones[1,1,2,1,2,1]). Equals
 * tf.image.resizeNearestNeighbor(x, [2H, 2W]) exactly, but its gradient is a plain sum, correct on every
 * backend and to any order (tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad is wrong when B > 1 or C > 1).
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const six = tf.mul(tf.reshape(x, [b, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1]));
    return tf.reshape(six, [b, 2 * h, 2 * w, c]) as tf.Tensor4D;
  });
}

export interface UNetModel extends SegModel {
  readonly config: ResolvedUNetConfig;
  readonly shapes: WeightShape[];
  readonly paramCount: number;
}

/** The reference U-Net as a SegModel (see file header). */
export function createUNet(config: UNetConfig): UNetModel {
  const c = resolveUNetConfig(config);
  const shapes = unetWeightShapes(c);
  const shapeOf = new Map(shapes.map((s) => [s.name, s.shape]));
  const act = (x: tf.Tensor4D): tf.Tensor4D => (c.activation === 'relu' ? tf.relu(x) : tf.softplus(x));
  const pool = (x: tf.Tensor4D): tf.Tensor4D => (c.pooling === 'max' ? tf.maxPool(x, 2, 2, 'valid') : tf.avgPool(x, 2, 2, 'valid'));
  const down = 2 ** (c.depth - 1);

  function get(weights: WeightMap, name: string): tf.Tensor {
    const t = weights[name];
    if (!t) throw new FedSegError('INVALID_ARGUMENT', `U-Net forward: weight '${name}' is missing from the weight map`);
    const want = shapeOf.get(name)!;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      throw new FedSegError('SHAPE_MISMATCH', `U-Net forward: weight '${name}' has shape [${t.shape}], expected [${want}]`);
    return t;
  }
  function convLayer(weights: WeightMap, name: string, x: tf.Tensor4D): tf.Tensor4D {
    const w = get(weights, `${name}.weight`) as tf.Tensor4D;
    const b = get(weights, `${name}.bias`);
    return tf.add(tf.conv2d(x, w, 1, 'same'), b) as tf.Tensor4D;
  }
  /**
   * conv -> InstanceNorm. The conv bias is a per-channel constant that the norm's mean subtraction
   * removes exactly (IN(x + b) = IN(x)), so it is not added: same output, its gradient is exactly 0
   * (PyTorch computes float noise there), and the forward/backward saves an add and a reduction per layer.
   */
  function convIN(weights: WeightMap, name: string, x: tf.Tensor4D): tf.Tensor4D {
    const w = get(weights, `${name}.weight`) as tf.Tensor4D;
    return instanceNorm(tf.conv2d(x, w, 1, 'same'));
  }

  function forward(weights: WeightMap, x: tf.Tensor4D): ForwardOutput {
    if (!x || x.rank !== 4) throw new FedSegError('SHAPE_MISMATCH', `U-Net forward: input must be [B,H,W,C], got rank ${x?.rank}`);
    const [, h, w, ch] = x.shape;
    if (ch !== c.inChannels) throw new FedSegError('SHAPE_MISMATCH', `U-Net forward: input has ${ch} channels, model expects ${c.inChannels}`);
    if (h % down !== 0 || w % down !== 0)
      throw new FedSegError('SHAPE_MISMATCH', `U-Net forward: input ${h}x${w} must be divisible by ${down} (2^(depth-1), depth ${c.depth})`);
    // Validate every weight up front so a bad map fails before any compute.
    for (const s of shapes) get(weights, s.name);
    const res = tf.tidy(() => {
      const skips: tf.Tensor4D[] = [];
      let h1: tf.Tensor4D = x;
      for (let i = 1; i <= c.depth; i++) {
        if (i > 1) h1 = pool(h1);
        h1 = convIN(weights, `convd${i}.conv1`, h1);
        h1 = act(convIN(weights, `convd${i}.conv2`, h1));
        h1 = act(convIN(weights, `convd${i}.conv3`, h1));
        skips.push(h1);
      }
      let y = skips[c.depth - 1]!;
      for (let j = c.depth - 1; j >= 1; j--) {
        if (j !== c.depth - 1) y = act(convIN(weights, `convu${j}.conv1`, y));
        const up = upsampleNearest2x(y);
        const u = act(convIN(weights, `convu${j}.conv2`, up));
        y = tf.concat([skips[j - 1]!, u], 3);
        y = act(convIN(weights, `convu${j}.conv3`, y));
      }
      const logits = convLayer(weights, 'seg1', y);
      const probs = tf.sigmoid(logits);
      return { probs, features: y, logits };
    });
    return res;
  }

  return {
    kind: 'unet',
    inChannels: c.inChannels,
    classes: c.classes,
    config: c,
    shapes,
    paramCount: countParams(shapes),
    init(seed: number): WeightMap {
      const rng = createRng(seed);
      const out: WeightMap = {};
      for (const s of shapes) {
        const n = s.shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n);
        if (s.role === 'filter') {
          const std = Math.sqrt(2 / s.fanOut);
          for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
        } else {
          const bound = 1 / Math.sqrt(s.fanIn);
          for (let i = 0; i < n; i++) data[i] = rng.uniform(-bound, bound);
        }
        out[s.name] = tf.tensor(data, s.shape, 'float32');
      }
      return out;
    },
    forward: (weights, x) => forward(weights, x),
  };
}
