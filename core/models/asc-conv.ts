// Adaptive-scale convolution (ASCNet, Zhang et al., ISBI 2020, arXiv 1907.03241, Eq. 3-6;
// docs/algorithms.md §7):
//
//   y(p) = b + sum_{p_n in {-1,0,1}^2} W(p_n) . x(p + r(p) p_n)
//
// x(.) is read by bilinear interpolation (Eq. 4-5) with zero padding: a corner outside the image reads
// 0, in-bounds corners keep their bilinear weights. The rate r(p) >= 0 is one float per pixel
// ([B,H,W,1]), shared by all output channels. Gradients reach x, W, b AND r (through the bilinear
// weights: d/dr of a tap = ky * dI/dy + kx * dI/dx). With a constant integer r this is exactly a
// dilated 3x3 conv with dilation r (r = 1: a plain 'same' conv; r = 0: a 1x1 conv with the summed taps).
//
// Nothing 9x larger than x is ever materialised: each tap is sampled ([N,C]), multiplied by its
// [C,Co] slice of W and accumulated. Two implementations, same maths:
// - 'ops'  : pure tfjs ops (gatherND of the bilinear corners from a zero-padded copy of x, then
//            matMul). Works on every backend and is differentiable to any order (its gatherND
//            carries its own scatterND gradient; second order uses the ScatterNd gradient core/tf
//            registers). Taps on an axis (ky = 0 or kx = 0) gather 2 corners, diagonal taps 4, the
//            centre tap none.
// The 'fused' backward reuses the forward's read-back x and bilinear corners (kept by the op's
// closure; corners are cached per rate buffer, so all layers sharing one rate field compute them once).
// - 'fused': a tf.customGrad op whose sampling / transposed sampling / rate gradient run as tight JS
//            loops over the typed arrays of synchronous backends (wasm, cpu), and whose matMuls run on
//            the backend. First-order gradients only. This is the fast path (bench/asc.bench.ts).
// 'auto' (default) picks 'fused' on wasm/cpu and 'ops' elsewhere (webgpu cannot read data synchronously).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';

export type AscImpl = 'auto' | 'ops' | 'fused';

export interface AscConvOptions {
  impl?: AscImpl;
}

/** The 9 taps in filter order: index t = (ky + 1) * 3 + (kx + 1), ky = row offset, kx = column offset. */
export const ASC_TAPS: ReadonlyArray<readonly [number, number]> = [
  [-1, -1], [-1, 0], [-1, 1],
  [0, -1], [0, 0], [0, 1],
  [1, -1], [1, 0], [1, 1],
];

type ShapeLike = Pick<tf.Tensor, 'rank' | 'shape' | 'dtype'>;

function checkShapes(x: ShapeLike, rate: ShapeLike, filter: ShapeLike, bias: ShapeLike | undefined): void {
  if (x.rank !== 4) throw new FedSegError('SHAPE_MISMATCH', `ascConv2d: x must be [B,H,W,C], got shape [${x.shape.join(',')}]`);
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const rs = rate.shape;
  if (rate.rank !== 4 || rs[0] !== b || rs[1] !== h || rs[2] !== w || rs[3] !== 1) {
    throw new FedSegError('SHAPE_MISMATCH', `ascConv2d: rate must be [${b},${h},${w},1] to match x, got [${rs.join(',')}]`);
  }
  const fs = filter.shape;
  if (filter.rank !== 4 || fs[0] !== 3 || fs[1] !== 3 || fs[2] !== c) {
    throw new FedSegError('SHAPE_MISMATCH', `ascConv2d: filter must be [3,3,${c},Cout], got [${fs.join(',')}]`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== fs[3])) {
    throw new FedSegError('SHAPE_MISMATCH', `ascConv2d: bias must be [${fs[3]}], got [${bias.shape.join(',')}]`);
  }
  for (const [n, t] of [['x', x], ['rate', rate], ['filter', filter]] as const) {
    if (t.dtype !== 'float32') throw new FedSegError('INVALID_ARGUMENT', `ascConv2d: ${n} must be float32, got ${t.dtype}`);
  }
}

function resolveImpl(impl: AscImpl | undefined): 'ops' | 'fused' {
  if (impl === 'ops' || impl === 'fused') return impl;
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' ? 'fused' : 'ops';
}

/** Adaptive-scale 3x3 conv. x [B,H,W,C], rate [B,H,W,1] (>= 0 expected), filter [3,3,C,Co], bias [Co]. */
export function ascConv2d(x: tf.Tensor4D, rate: tf.Tensor4D, filter: tf.Tensor4D, bias?: tf.Tensor1D, opts: AscConvOptions = {}): tf.Tensor4D {
  checkShapes(x, rate, filter, bias);
  if (resolveImpl(opts.impl) !== 'fused') return ascConv2dOps(x, rate, filter, bias);
  const be = tf.getBackend();
  if (be !== 'wasm' && be !== 'cpu') throw new FedSegError('UNSUPPORTED', `ascConv2d impl 'fused' needs a synchronous backend (wasm or cpu), not '${be}'; use impl 'ops'`);
  return ascConv2dFused(x, rate, filter, bias);
}

/**
 * Dilated 3x3 'same' conv with an integer (or any constant) rate that trains on every backend:
 * the ASC conv with a constant rate field (tfjs has no gradient for dilated conv2d).
 */
export function dilatedConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | undefined, dilation: number, opts: AscConvOptions = {}): tf.Tensor4D {
  if (!Number.isFinite(dilation) || dilation < 0) throw new FedSegError('INVALID_ARGUMENT', `dilatedConv2d: dilation must be a finite number >= 0, got ${dilation}`);
  const [b, h, w] = x.shape;
  if (resolveImpl(opts.impl) === 'fused') {
    const be = tf.getBackend();
    if (be !== 'wasm' && be !== 'cpu') throw new FedSegError('UNSUPPORTED', `dilatedConv2d impl 'fused' needs a synchronous backend (wasm or cpu), not '${be}'; use impl 'ops'`);
    checkShapes(x, { rank: 4, shape: [b, h, w, 1], dtype: 'float32' }, filter, bias);
    return fusedOp(x, null, dilation, filter, bias);
  }
  return tf.tidy(() => {
    const r = tf.fill([b, h, w, 1], dilation) as tf.Tensor4D;
    return ascConv2dOps(x, r, filter, bias);
  });
}

// ---------------------------------------------------------------------------------------------
// 'ops' implementation (gatherND bilinear, any backend, any order of differentiation)

/**
 * gatherND whose index input gets a float32 zero gradient. The indices here are computed from the
 * rate (floor of the sampling position), so they sit on the tape's path from r; tfjs's tape demands
 * float32 gradients for every input on that path, and a zerosLike(int32 indices) fails that check.
 * The params gradient is scatterND (the transposed gather), itself differentiable.
 */
const gatherNdRows = tf.customGrad((...args: (tf.Tensor | ((s: tf.Tensor[]) => void))[]) => {
  const params = args[0] as tf.Tensor;
  const indices = args[1] as tf.Tensor;
  const save = args[2] as (s: tf.Tensor[]) => void;
  save([indices]);
  const shape = params.shape;
  return {
    value: tf.gatherND(params, indices),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.scatterND(saved[0]!, dy, shape), tf.zeros(saved[0]!.shape, 'float32')],
  };
});

/** Per-axis sampling data for one offset sign: clamped position, floor and fractional weight. */
function axisSample(base: tf.Tensor, k: number, rate: tf.Tensor, size: number): { lo: tf.Tensor; frac: tf.Tensor } {
  // Clamp to [-1, size]: positions beyond read only zero padding; the padded copy of x has one zero
  // row/column before and two after, so both corners floor(p) and floor(p)+1 always exist.
  const p = tf.clipByValue(tf.add(base, tf.mul(rate, k)), -1, size);
  const lo = tf.floor(p);
  return { lo, frac: tf.sub(p, lo) };
}

export function ascConv2dOps(x: tf.Tensor4D, rate: tf.Tensor4D, filter: tf.Tensor4D, bias?: tf.Tensor1D): tf.Tensor4D {
  checkShapes(x, rate, filter, bias);
  return tf.tidy(() => {
    const [B, H, W, C] = x.shape;
    const Co = filter.shape[3];
    const N = B * H * W;
    const Hp = H + 3;
    const Wp = W + 3;
    if (B * Hp * Wp > 1 << 24) {
      throw new FedSegError('UNSUPPORTED', `ascConv2d 'ops': ${B}x${H}x${W} is too large (flat float32 gather indices are exact only below 2^24 padded pixels); split the batch`);
    }
    const xp = tf.reshape(tf.pad(x, [[0, 0], [1, 2], [1, 2], [0, 0]]), [B * Hp * Wp, C]);
    const ii = tf.reshape(tf.range(0, H, 1, 'float32'), [1, H, 1, 1]);
    const jj = tf.reshape(tf.range(0, W, 1, 'float32'), [1, 1, W, 1]);
    const bOff = tf.reshape(tf.mul(tf.range(0, B, 1, 'float32'), Hp * Wp), [B, 1, 1, 1]);
    const rows = new Map<number, { base: tf.Tensor; frac: tf.Tensor | null }>();
    const cols = new Map<number, { base: tf.Tensor; frac: tf.Tensor | null }>();
    rows.set(0, { base: tf.add(tf.mul(tf.add(ii, 1), Wp), bOff), frac: null });
    cols.set(0, { base: tf.add(jj, 1), frac: null });
    for (const k of [-1, 1]) {
      const ry = axisSample(ii, k, rate, H);
      rows.set(k, { base: tf.add(tf.mul(tf.add(ry.lo, 1), Wp), bOff), frac: ry.frac });
      const rx = axisSample(jj, k, rate, W);
      cols.set(k, { base: tf.add(rx.lo, 1), frac: rx.frac });
    }
    const outs: tf.Tensor[] = [];
    const w2 = tf.reshape(filter, [9, C, Co]);
    const tapW = (t: number) => tf.reshape(tf.slice(w2, [t, 0, 0], [1, C, Co]), [C, Co]);
    ASC_TAPS.forEach(([ky, kx], t) => {
      if (ky === 0 && kx === 0) {
        outs.push(tf.matMul(tf.reshape(x, [N, C]), tapW(t)));
        return;
      }
      const row = rows.get(ky)!;
      const col = cols.get(kx)!;
      const base = tf.add(row.base, col.base); // [B,H,W,1] flat index of corner (lo_y, lo_x) in xp
      let offsets: number[];
      let weights: tf.Tensor;
      if (row.frac && col.frac) {
        const fy = row.frac;
        const fx = col.frac;
        const gy = tf.sub(1, fy);
        const gx = tf.sub(1, fx);
        offsets = [0, 1, Wp, Wp + 1];
        weights = tf.concat([tf.mul(gy, gx), tf.mul(gy, fx), tf.mul(fy, gx), tf.mul(fy, fx)], 3);
      } else if (col.frac) {
        offsets = [0, 1];
        weights = tf.concat([tf.sub(1, col.frac), col.frac], 3);
      } else {
        offsets = [0, Wp];
        weights = tf.concat([tf.sub(1, row.frac!), row.frac!], 3);
      }
      const m = offsets.length;
      const idx = tf.cast(tf.reshape(tf.add(base, tf.tensor1d(offsets)), [N, m, 1]), 'int32');
      const g = gatherNdRows(xp, idx) as tf.Tensor3D; // [N, m, C]
      const s = tf.sum(tf.mul(g, tf.reshape(weights, [N, m, 1])), 1); // [N, C]
      outs.push(tf.matMul(s as tf.Tensor2D, tapW(t)));
    });
    // Pairwise adds, not addN: a 9-input addN needs 10 storage buffers in one WebGPU shader, over
    // the default per-stage limit of 8 (the tfjs webgpu backend then silently returns garbage).
    let y = outs[0]!;
    for (let i = 1; i < outs.length; i++) y = tf.add(y, outs[i]!);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [B, H, W, Co]) as tf.Tensor4D;
  });
}

// ---------------------------------------------------------------------------------------------
// 'fused' implementation (JS sampling loops + backend matMuls, first-order custom gradient)

interface Geo {
  B: number;
  H: number;
  W: number;
  C: number;
}

/**
 * Bilinear corners of one tap at every pixel. For each pixel p and corner k (k < m, m = 4 for a
 * diagonal tap, 2 for a tap on an axis, whose other fractional weight is always 0): the flat row
 * q[p*m+k] into x, the weight f and its derivative d = df/dr. Out-of-image corners get f = d = 0 and
 * q = p (a valid row whose value is multiplied by 0): zero padding without branches in the inner loops.
 */
interface Corners {
  m: number;
  q: Int32Array;
  f: Float32Array;
  d: Float32Array;
}

function tapCorners(rd: Float32Array | null, rConst: number, g: Geo, ky: number, kx: number): Corners {
  const { B, H, W } = g;
  const N = B * H * W;
  const m = ky !== 0 && kx !== 0 ? 4 : 2;
  const c: Corners = { m, q: new Int32Array(N * m), f: new Float32Array(N * m), d: new Float32Array(N * m) };
  const { q, f, d } = c;
  // Corner k -> (row step, col step): diagonal (0,0),(0,1),(1,0),(1,1); ky = 0: (0,0),(0,1); kx = 0: (0,0),(1,0).
  const steps: [number, number][] = m === 4 ? [[0, 0], [0, 1], [1, 0], [1, 1]] : ky === 0 ? [[0, 0], [0, 1]] : [[0, 0], [1, 0]];
  let p = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++, p++) {
        const r = rd ? rd[p]! : rConst;
        const py = i + ky * r;
        const px = j + kx * r;
        const y0 = Math.floor(py);
        const x0 = Math.floor(px);
        const wy = py - y0;
        const wx = px - x0;
        for (let k = 0; k < m; k++) {
          const [sy, sx] = steps[k]!;
          const yc = y0 + sy;
          const xc = x0 + sx;
          const o = p * m + k;
          if (yc < 0 || yc >= H || xc < 0 || xc >= W) {
            q[o] = p;
            f[o] = 0;
            d[o] = 0;
            continue;
          }
          const fy = sy ? wy : 1 - wy;
          const fx = sx ? wx : 1 - wx;
          q[o] = (b * H + yc) * W + xc;
          f[o] = fy * fx;
          d[o] = (sy ? ky : -ky) * fx + fy * (sx ? kx : -kx);
        }
      }
    }
  }
  return c;
}

/**
 * Corners for all 9 taps (null for the centre), cached per rate buffer: every ASC layer of a network
 * shares one rate field, and the tensors saved for the backward pass are clones sharing its dataId,
 * so the corners are computed once per forward+backward instead of twice per layer. Only caches when
 * the maps are small (N <= CACHE_MAX_PIXELS, ~37 MB); larger inputs recompute per layer.
 */
let CACHE_MAX_PIXELS = 1 << 17;

/** Sets the largest B*H*W whose corners are cached (default 2^17); returns the previous value. For tests/benchmarks. */
export function setAscCornerCacheLimit(pixels: number): number {
  const prev = CACHE_MAX_PIXELS;
  CACHE_MAX_PIXELS = Math.max(0, Math.floor(pixels));
  return prev;
}
const cornerCache = new WeakMap<object, { key: string; corners: (Corners | null)[] }>();
const constCache = new Map<string, (Corners | null)[]>();

function allCorners(rate: tf.Tensor | null, rConst: number, g: Geo): (t: number) => Corners {
  const N = g.B * g.H * g.W;
  const key = `${g.B}x${g.H}x${g.W}:${rConst}`;
  const rd = (): Float32Array | null => (rate ? readF32(rate) : null);
  if (N > CACHE_MAX_PIXELS) {
    // Large maps: one tap's corners alive at a time (a diagonal tap needs 12 bytes x 4 per pixel).
    const r = rd();
    return (t) => tapCorners(r, rConst, g, ASC_TAPS[t]![0], ASC_TAPS[t]![1]);
  }
  let corners = rate ? cornerCache.get(rate.dataId)?.key === key ? cornerCache.get(rate.dataId)!.corners : undefined : constCache.get(key);
  if (!corners) {
    const r = rd();
    corners = ASC_TAPS.map(([ky, kx]) => (ky === 0 && kx === 0 ? null : tapCorners(r, rConst, g, ky, kx)));
    if (rate) cornerCache.set(rate.dataId, { key, corners });
    else {
      if (constCache.size >= 16) constCache.clear();
      constCache.set(key, corners);
    }
  }
  const c = corners;
  return (t) => c[t]!;
}

/** S[p, :] = sum_k f_k x[q_k, :] (layout [N, C]). */
function sampleWith(xd: Float32Array, cs: Corners, N: number, C: number, out: Float32Array): void {
  const { q, f } = cs;
  if (cs.m === 4) {
    for (let p = 0; p < N; p++) {
      const k = p * 4;
      const q0 = q[k]! * C, q1 = q[k + 1]! * C, q2 = q[k + 2]! * C, q3 = q[k + 3]! * C;
      const f0 = f[k]!, f1 = f[k + 1]!, f2 = f[k + 2]!, f3 = f[k + 3]!;
      const o = p * C;
      for (let c = 0; c < C; c++) out[o + c] = f0 * xd[q0 + c]! + f1 * xd[q1 + c]! + f2 * xd[q2 + c]! + f3 * xd[q3 + c]!;
    }
  } else {
    for (let p = 0; p < N; p++) {
      const k = p * 2;
      const q0 = q[k]! * C, q1 = q[k + 1]! * C;
      const f0 = f[k]!, f1 = f[k + 1]!;
      const o = p * C;
      for (let c = 0; c < C; c++) out[o + c] = f0 * xd[q0 + c]! + f1 * xd[q1 + c]!;
    }
  }
}

/** Exported for benchmarks/tests: bilinear sample of one tap, out [N*C] overwritten. */
export function sampleTapJs(xd: Float32Array, rd: Float32Array | null, rConst: number, g: Geo, ky: number, kx: number, out: Float32Array): void {
  const N = g.B * g.H * g.W;
  sampleWith(xd, tapCorners(rd, rConst, g, ky, kx), N, g.C, out);
}

/**
 * Backward of one tap given gS = dL/dS [N,C]: dx[q_k] += f_k gS (transposed sampling),
 * dr[p] += sum_c gS[p,c] sum_k d_k x[q_k,c], and S^T recomputed into sT ([C, N], for dW = S^T dy).
 */
function backWith(xd: Float32Array, cs: Corners, N: number, C: number, gS: Float32Array, dx: Float32Array, dr: Float32Array | null, sT: Float32Array): void {
  const { q, f, d } = cs;
  if (cs.m === 4) {
    for (let p = 0; p < N; p++) {
      const k = p * 4;
      const q0 = q[k]! * C, q1 = q[k + 1]! * C, q2 = q[k + 2]! * C, q3 = q[k + 3]! * C;
      const f0 = f[k]!, f1 = f[k + 1]!, f2 = f[k + 2]!, f3 = f[k + 3]!;
      const d0 = d[k]!, d1 = d[k + 1]!, d2 = d[k + 2]!, d3 = d[k + 3]!;
      const o = p * C;
      let dsum = 0;
      for (let c = 0; c < C; c++) {
        const gv = gS[o + c]!;
        const x0 = xd[q0 + c]!, x1 = xd[q1 + c]!, x2 = xd[q2 + c]!, x3 = xd[q3 + c]!;
        sT[c * N + p] = f0 * x0 + f1 * x1 + f2 * x2 + f3 * x3;
        dsum += gv * (d0 * x0 + d1 * x1 + d2 * x2 + d3 * x3);
        dx[q0 + c] = dx[q0 + c]! + f0 * gv;
        dx[q1 + c] = dx[q1 + c]! + f1 * gv;
        dx[q2 + c] = dx[q2 + c]! + f2 * gv;
        dx[q3 + c] = dx[q3 + c]! + f3 * gv;
      }
      if (dr) dr[p] = dr[p]! + dsum;
    }
  } else {
    for (let p = 0; p < N; p++) {
      const k = p * 2;
      const q0 = q[k]! * C, q1 = q[k + 1]! * C;
      const f0 = f[k]!, f1 = f[k + 1]!;
      const d0 = d[k]!, d1 = d[k + 1]!;
      const o = p * C;
      let dsum = 0;
      for (let c = 0; c < C; c++) {
        const gv = gS[o + c]!;
        const x0 = xd[q0 + c]!, x1 = xd[q1 + c]!;
        sT[c * N + p] = f0 * x0 + f1 * x1;
        dsum += gv * (d0 * x0 + d1 * x1);
        dx[q0 + c] = dx[q0 + c]! + f0 * gv;
        dx[q1 + c] = dx[q1 + c]! + f1 * gv;
      }
      if (dr) dr[p] = dr[p]! + dsum;
    }
  }
}

// Synchronous readback on purpose: only the 'fused' impl reads tensors, and it runs only on wasm/cpu
// (resolveImpl picks 'ops' elsewhere; an explicit 'fused' on another backend is refused above), where
// dataSync is a plain copy. The fused op is a customGrad kernel and cannot await.
function readF32(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/**
 * The fused op. rate null = constant rate rConst (no rate input, no rate gradient: dilated conv).
 * Inputs in order: x, [rate], filter, [bias].
 */
function fusedOp(x: tf.Tensor4D, rate: tf.Tensor4D | null, rConst: number, filter: tf.Tensor4D, bias: tf.Tensor1D | undefined): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const Co = filter.shape[3];
  const N = B * H * W;
  const geo: Geo = { B, H, W, C };
  const inputs: tf.Tensor[] = [x];
  if (rate) inputs.push(rate);
  inputs.push(filter);
  if (bias) inputs.push(bias);
  const op = tf.customGrad((...args: (tf.Tensor | ((s: tf.Tensor[]) => void))[]) => {
    const save = args[args.length - 1] as (s: tf.Tensor[]) => void;
    const xs = args.slice(0, -1) as tf.Tensor[];
    const xT = xs[0] as tf.Tensor4D;
    const rT = rate ? (xs[1] as tf.Tensor4D) : null;
    const fT = xs[rate ? 2 : 1] as tf.Tensor4D;
    const bT = bias ? (xs[rate ? 3 : 2] as tf.Tensor1D) : undefined;
    // Only the filter is saved as a tensor: x's values and the rate's bilinear corners are kept by this
    // closure (on wasm a saved tensor is a copy, whose new buffer would miss the corner cache).
    save([fT]);
    const xd = readF32(xT);
    const corners = allCorners(rT, rConst, geo);
    const w9 = tf.reshape(fT, [9, C, Co]);
    const tapW = (t: number) => tf.reshape(tf.slice(w9, [t, 0, 0], [1, C, Co]), [C, Co]) as tf.Tensor2D;
    const s = new Float32Array(N * C);
    const outs: tf.Tensor[] = [];
    ASC_TAPS.forEach(([ky, kx], t) => {
      if (ky === 0 && kx === 0) {
        outs.push(tf.matMul(tf.reshape(xT, [N, C]) as tf.Tensor2D, tapW(t)));
        return;
      }
      sampleWith(xd, corners(t), N, C, s);
      outs.push(tf.matMul(tf.tensor2d(s, [N, C]), tapW(t)));
    });
    let y = tf.addN(outs);
    if (bT) y = tf.add(y, bT);
    const value = tf.reshape(y, [B, H, W, Co]) as tf.Tensor4D;
    const gradFunc = (dy: tf.Tensor4D, saved: tf.Tensor[]): tf.Tensor[] => {
      // This backward runs JS loops on read-back values: its outputs are constants to an outer tape.
      // A higher-order gradient through this op (e.g. the exact ELCFS meta-gradient) therefore drops
      // the ASC layers' second-order terms; use impl 'ops' for that. (An outer tape is also active in
      // the first-order ELCFS step, whose nested inner gradient is detached, so we cannot refuse here.)
      const sf = saved[0] as tf.Tensor4D;
      const xd2 = xd;
      const corners2 = corners;
      const dy2 = tf.reshape(dy, [N, Co]) as tf.Tensor2D;
      // W_t^T for every tap, [9, Co, C] (tiny; wasm matMul with transposeB is ~7x slower than a plain one).
      const wT = tf.transpose(tf.reshape(sf, [9, C, Co]), [0, 2, 1]);
      const twT = (t: number) => tf.reshape(tf.slice(wT, [t, 0, 0], [1, Co, C]), [Co, C]) as tf.Tensor2D;
      const dxAcc = new Float32Array(N * C);
      const drAcc = rate ? new Float32Array(N) : null;
      const sT = new Float32Array(N * C);
      const dWs: tf.Tensor[] = [];
      let dxCentre: tf.Tensor | null = null;
      ASC_TAPS.forEach(([ky, kx], t) => {
        if (ky === 0 && kx === 0) {
          dxCentre = tf.matMul(dy2, twT(t));
          // x^T written in JS (a transposeA matMul is slow on wasm).
          for (let p = 0; p < N; p++) for (let c = 0; c < C; c++) sT[c * N + p] = xd2[p * C + c]!;
          dWs.push(tf.matMul(tf.tensor2d(sT, [C, N]), dy2));
          return;
        }
        const gS = readF32(tf.matMul(dy2, twT(t)));
        backWith(xd2, corners2(t), N, C, gS, dxAcc, drAcc, sT);
        dWs.push(tf.matMul(tf.tensor2d(sT, [C, N]), dy2));
      });
      const dx = tf.reshape(tf.add(tf.tensor2d(dxAcc, [N, C]), dxCentre!), [B, H, W, C]);
      const grads: tf.Tensor[] = [dx];
      if (drAcc) grads.push(tf.tensor4d(drAcc, [B, H, W, 1]));
      grads.push(tf.reshape(tf.stack(dWs), [3, 3, C, Co]));
      if (bias) grads.push(tf.sum(dy2, 0));
      return grads;
    };
    return { value, gradFunc };
  });
  return op(...inputs) as tf.Tensor4D;
}

export function ascConv2dFused(x: tf.Tensor4D, rate: tf.Tensor4D, filter: tf.Tensor4D, bias?: tf.Tensor1D): tf.Tensor4D {
  checkShapes(x, rate, filter, bias);
  const be = tf.getBackend();
  if (be !== 'wasm' && be !== 'cpu') {
    throw new FedSegError('UNSUPPORTED', `ascConv2d impl 'fused' needs a synchronous backend (wasm or cpu), not '${be}'; use impl 'ops'`);
  }
  return fusedOp(x, rate, 0, filter, bias);
}
