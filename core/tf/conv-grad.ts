// Convolution and max-pool backward passes written with FORWARD ops only (conv2d, pad, slice, reshape,
// transpose, reverse, mul, add, equal), so that
//   * they run fast on the wasm backend (its Conv2D forward is XNNPACK; its Conv2DBackpropInput is slow
//     and it has no Conv2DBackpropFilter kernel at all), and
//   * they are differentiable to any order (every op used has a gradient), which the episodic
//     meta-learning step needs (MAML-style d/dθ L(θ − β∇L)).
// The maths is the standard adjoint of a strided, padded cross-correlation (NHWC, filter [kh,kw,ci,co]):
//   y[b,i,j,o] = Σ_{ky,kx,c} xp[b, i·s+ky, j·s+kx, c] · W[ky,kx,c,o]    (xp = x zero-padded by padInfo)
//   dx = corr(pad(zins(dy)), rot180(W)ᵀ)                                   (zins: insert s-1 zeros)
//   dW[ky,kx,c,o] = Σ_{b,i,j} xp[b, i·s+ky, j·s+kx, c] · dy[b,i,j,o] = corr(xpᵀ, zins(dy)ᵀ)
// See docs/backends.md and docs/measured.md §1–2 for the measured speed and the higher-order checks.
import { tf } from './tfjs.js';
import { FedSegError } from '../contract/errors.js';

type T4 = tf.Tensor4D;
export type PadArg = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type Rounding = 'floor' | 'round' | 'ceil' | undefined;

export interface Conv2DAttrs {
  strides: number | [number, number];
  pad: PadArg;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: Rounding;
}

function pair(v: number | [number, number] | undefined, dflt = 1): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === 'number' ? [v, v] : v;
}

export function checkConvAttrs(a: Conv2DAttrs, what: string): void {
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') {
    throw new FedSegError('UNSUPPORTED', `${what}: only NHWC data format is supported, got ${a.dataFormat}`);
  }
  const [dh, dw] = pair(a.dilations);
  if (dh !== 1 || dw !== 1) {
    throw new FedSegError('UNSUPPORTED', `${what}: dilation rates > 1 have no gradient (got [${dh}, ${dw}]); use the adaptive-scale conv or space-to-batch`);
  }
}

/** Insert (s-1) zeros between rows/columns: [B,H,W,C] -> [B,(H-1)sh+1,(W-1)sw+1,C]. Differentiable. */
export function zeroInsert(t: T4, sh: number, sw: number): T4 {
  if (sh === 1 && sw === 1) return t;
  const [b, h, w, c] = t.shape;
  const r = tf.reshape(t, [b, h, 1, w, 1, c]);
  const p = tf.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  const full = tf.reshape(p, [b, h * sh, w * sw, c]) as T4;
  return tf.slice(full, [0, 0, 0, 0], [b, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/** Pad (positive) or crop (negative) rows/columns of an NHWC tensor. */
function padOrCrop(t: T4, top: number, bottom: number, left: number, right: number, value = 0): T4 {
  let r = t;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [b, h, w, c] = r.shape;
    const t0 = Math.max(0, -top), l0 = Math.max(0, -left);
    r = tf.slice(r, [0, t0, l0, 0], [b, h - t0 - Math.max(0, -bottom), w - l0 - Math.max(0, -right), c]);
  }
  const pt = Math.max(0, top), pb = Math.max(0, bottom), pl = Math.max(0, left), pr = Math.max(0, right);
  if (pt || pb || pl || pr) r = tf.pad(r, [[0, 0], [pt, pb], [pl, pr], [0, 0]], value);
  return r;
}

/** Stride-1 'valid' correlation of x (padded by the given non-negative-or-negative amounts) with w. */
function corrPadded(x: T4, w: T4, top: number, bottom: number, left: number, right: number): T4 {
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) {
    if (top + bottom + left + right === 0) return tf.conv2d(x, w, 1, 'valid');
    return tf.conv2d(x, w, 1, [[0, 0], [top, bottom], [left, right], [0, 0]]);
  }
  return tf.conv2d(padOrCrop(x, top, bottom, left, right), w, 1, 'valid');
}

/**
 * rot180 of the filter's spatial taps (= tf.reverse(w, [0, 1])) as a [kh·kw]² permutation matMul:
 * exact for finite weights and ~40× faster than the wasm Reverse kernel (1 ms vs 45–55 ms for
 * 3×3×256×256), which dominated dx for wide layers.
 */
function flipTaps(w: T4): T4 {
  const [kh, kw, ci, co] = w.shape;
  const n = kh * kw;
  if (n === 1) return w;
  const p = new Float32Array(n * n);
  for (let i = 0; i < n; i++) p[i * n + (n - 1 - i)] = 1;
  return tf.reshape(tf.matMul(tf.tensor2d(p, [n, n]), tf.reshape(w, [n, ci * co])), w.shape) as T4;
}

function convInfo(xShape: [number, number, number, number], wShape: [number, number, number, number], a: Conv2DAttrs) {
  return tf.backend_util.computeConv2DInfo(xShape, wShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
}

/** dL/dx of conv2d(x, w, strides, pad) given dy. Forward convs only. */
export function convInputGrad(xShape: [number, number, number, number], dy: T4, w: T4, a: Conv2DAttrs): T4 {
  checkConvAttrs(a, 'conv2d input gradient');
  return tf.tidy(() => {
    const info = convInfo(xShape, w.shape, a);
    const [kh, kw] = [w.shape[0], w.shape[1]];
    const [, H, W] = xShape;
    const dyz = zeroInsert(dy, info.strideHeight, info.strideWidth);
    const [, hz, wz] = dyz.shape;
    const wf = tf.transpose(flipTaps(w), [0, 1, 3, 2]) as T4;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    return corrPadded(dyz, wf, top, H + info.padInfo.top - hz, left, W + info.padInfo.left - wz);
  });
}

/** dL/dW of conv2d(x, w, strides, pad) given dy: one stride-1 forward conv of xᵀ with zins(dy)ᵀ. */
export function convFilterGrad(x: T4, dy: T4, wShape: [number, number, number, number], a: Conv2DAttrs): T4 {
  checkConvAttrs(a, 'conv2d filter gradient');
  return tf.tidy(() => {
    const info = convInfo(x.shape, wShape, a);
    const [kh, kw] = [wShape[0], wShape[1]];
    const [, H, W] = x.shape;
    const dyz = zeroInsert(dy, info.strideHeight, info.strideWidth);
    const [, hz, wz] = dyz.shape;
    const xt = tf.transpose(x, [3, 1, 2, 0]) as T4; // [ci, H, W, B]
    const dyt = tf.transpose(dyz, [1, 2, 0, 3]) as T4; // [hz, wz, B, co]
    const top = info.padInfo.top, left = info.padInfo.left;
    const out = corrPadded(xt, dyt, top, hz + kh - 1 - H - top, left, wz + kw - 1 - W - left); // [ci, kh, kw, co]
    return tf.transpose(out, [1, 2, 0, 3]) as T4;
  });
}

// Pool taps use rank ≤ 4 slices/pads only: the wasm Slice kernel falls back to a slow generic path
// above rank 4 (measured: a 2×2 maxPool gradient at 4×128²×32 took 7.7 s with 6-D slices).

/** Rows ky + i·sh (i < oh), cols kx + j·sw of xp, for a window tap (ky, kx). Needs ky + oh·sh <= rows. */
function tap(xp: T4, ky: number, kx: number, oh: number, ow: number, sh: number, sw: number): T4 {
  const [b, hp, wp, c] = xp.shape;
  let src = xp, by = ky, bx = kx;
  if (!(hp === oh * sh && wp === ow * sw && ky < sh && kx < sw)) {
    src = tf.slice(xp, [0, ky, kx, 0], [b, oh * sh, ow * sw, c]);
    by = 0;
    bx = 0;
  }
  if (sh === 1 && sw === 1) return src;
  const rows = tf.slice(tf.reshape(src, [b * oh, sh, ow * sw * c]), [0, by, 0], [b * oh, 1, ow * sw * c]);
  const cols = tf.slice(tf.reshape(rows, [b * oh * ow, sw, c]), [0, bx, 0], [b * oh * ow, 1, c]);
  return tf.reshape(cols, [b, oh, ow, c]) as T4;
}

/** Adjoint of tap(): place g at rows ky + i·sh, cols kx + j·sw of an [B,hp,wp,C] zero tensor. */
function untap(g: T4, ky: number, kx: number, hp: number, wp: number, sh: number, sw: number): T4 {
  const [b, oh, ow, c] = g.shape;
  let z: T4 = g;
  if (sh !== 1 || sw !== 1) {
    const cols = tf.pad(tf.reshape(g, [b * oh * ow, 1, c]), [[0, 0], [0, sw - 1], [0, 0]]);
    const rows = tf.pad(tf.reshape(cols, [b * oh, 1, ow * sw * c]), [[0, 0], [0, sh - 1], [0, 0]]);
    z = tf.reshape(rows, [b, oh * sh, ow * sw, c]) as T4;
  }
  return tf.pad(z, [[0, 0], [ky, hp - ky - oh * sh], [kx, wp - kx - ow * sw], [0, 0]]);
}

/**
 * Σ_taps untap(parts[t]) into [B,hp,wp,C]. When the windows tile the padded input exactly
 * (kernel == stride) this is an interleave by two concats, with no zero padding and no AddN.
 */
function scatterTaps(parts: T4[], kh: number, kw: number, sh: number, sw: number, hp: number, wp: number): T4 {
  const [b, oh, ow, c] = parts[0]!.shape;
  if (kh === sh && kw === sw && hp === oh * sh && wp === ow * sw) {
    if (parts.length === 1) return parts[0]!;
    const rowBlocks: tf.Tensor[] = [];
    for (let ky = 0; ky < kh; ky++) {
      const row = tf.concat(parts.slice(ky * kw, (ky + 1) * kw).map((p) => tf.reshape(p, [b * oh * ow, 1, c])), 1);
      rowBlocks.push(tf.reshape(row, [b * oh, 1, ow * sw * c]));
    }
    return tf.reshape(tf.concat(rowBlocks, 1), [b, hp, wp, c]) as T4;
  }
  const placed: T4[] = [];
  let i = 0;
  for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) placed.push(untap(parts[i++]!, ky, kx, hp, wp, sh, sw));
  return placed.length === 1 ? placed[0]! : (tf.addN(placed) as T4);
}

/**
 * Padded [rows, cols] a pooling needs so every tap slice fits: exactly [oh·sh, ow·sw] when the kernel
 * fits in a stride in both directions (taps are then direct block offsets), else k − 1 + o·s.
 */
function poolExtent(kh: number, kw: number, sh: number, sw: number, oh: number, ow: number): [number, number] {
  return kh <= sh && kw <= sw ? [oh * sh, ow * sw] : [kh - 1 + oh * sh, kw - 1 + ow * sw];
}

export interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: PadArg;
  dimRoundingMode?: Rounding;
}

interface Routing {
  masks: T4[]; // one [B,oh,ow,C] 0/1 mask per window tap (ky-major), each output has exactly one 1
  kh: number; kw: number; sh: number; sw: number; oh: number; ow: number;
  hp: number; wp: number; top: number; left: number;
}

/** Which input each max-pool output came from: the FIRST maximal entry in row-major window order. */
function maxPoolRouting(x: T4, a: PoolAttrs): Routing {
  const info = tf.backend_util.computePool2DInfo(x.shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const [, H, W] = x.shape;
  const top = info.padInfo.top, left = info.padInfo.left;
  const [hp, wp] = poolExtent(kh, kw, sh, sw, oh, ow);
  const xp = padOrCrop(x, top, hp - H - top, left, wp - W - left, -Infinity);
  const y = tf.maxPool(x, [kh, kw], [sh, sw], a.pad as 'same', a.dimRoundingMode);
  let taken: T4 | null = null;
  const masks: T4[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      let m = tf.cast(tf.equal(tap(xp, ky, kx, oh, ow, sh, sw), y), 'float32') as T4;
      if (taken) m = tf.mul(m, tf.sub(1, taken));
      taken = taken ? (tf.add(taken, m) as T4) : m;
      masks.push(m);
    }
  }
  return { masks, kh, kw, sh, sw, oh, ow, hp, wp, top, left };
}

/**
 * dL/dx of maxPool(x) given dy. Each output routes its gradient to the FIRST maximal input of its
 * window in row-major window order (the tfjs cpu convention, which matters after relu where ties are
 * common). Composite of forward ops; replaces the wasm MaxPoolGrad kernel, which drops entries.
 */
export function maxPoolGradComposite(dy: T4, x: T4, a: PoolAttrs): T4 {
  return tf.tidy(() => {
    const r = maxPoolRouting(x, a);
    const sum = scatterTaps(r.masks.map((m) => tf.mul(dy, m) as T4), r.kh, r.kw, r.sh, r.sw, r.hp, r.wp);
    return padOrCrop(sum, -r.top, x.shape[1] + r.top - r.hp, -r.left, x.shape[2] + r.left - r.wp);
  });
}

/** Adjoint of maxPoolGradComposite wrt dy: out[b,i,j,c] = g at the routed input of output (i,j). */
export function maxPoolGatherRouted(g: T4, x: T4, a: PoolAttrs): T4 {
  return tf.tidy(() => {
    const r = maxPoolRouting(x, a);
    const [, H, W] = x.shape;
    const gp = padOrCrop(g, r.top, r.hp - H - r.top, r.left, r.wp - W - r.left, 0);
    const parts: T4[] = [];
    let i = 0;
    for (let ky = 0; ky < r.kh; ky++) {
      for (let kx = 0; kx < r.kw; kx++) parts.push(tf.mul(tap(gp, ky, kx, r.oh, r.ow, r.sh, r.sw), r.masks[i++]!));
    }
    return parts.length === 1 ? parts[0]! : (tf.addN(parts) as T4);
  });
}

/**
 * dL/dx of avgPool(x) given dy. tfjs's avgPool divides each window sum by the number of IN-BOUNDS
 * entries ('same' padding is excluded), but its stock AvgPoolGrad divides by the full window size,
 * so the stock gradient is wrong wherever a window overlaps the padding (measured: adjoint identity
 * off by 10–50% on 4×5 and 5×5 inputs, cpu and wasm). This is the exact adjoint: Σ_taps untap(dy/count).
 */
export function avgPoolGradComposite(dy: T4, xShape: [number, number, number, number], a: PoolAttrs): T4 {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(xShape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const [, H, W] = xShape;
    const top = info.padInfo.top, left = info.padInfo.left;
    const [hp, wp] = poolExtent(kh, kw, sh, sw, oh, ow);
    const valid = (o: number, s: number, k: number, pad: number, n: number) => {
      let c = 0;
      for (let t = 0; t < k; t++) if (o * s + t - pad >= 0 && o * s + t - pad < n) c++;
      return c;
    };
    const inv = new Float32Array(oh * ow);
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) inv[i * ow + j] = 1 / Math.max(1, valid(i, sh, kh, top, H) * valid(j, sw, kw, left, W));
    }
    const dyc = tf.mul(dy, tf.tensor4d(inv, [1, oh, ow, 1])) as T4;
    const sum = scatterTaps(new Array<T4>(kh * kw).fill(dyc), kh, kw, sh, sw, hp, wp);
    return padOrCrop(sum, -top, H + top - hp, -left, W + left - wp);
  });
}
