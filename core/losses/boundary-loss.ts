// Boundary-oriented episodic contrastive loss of FedDG (Eq. 5-7; docs/algorithms.md §4).
//
// Per structure s (fundus: disc, cup) and per image, two region masks from the ground truth:
//   boundary = M - erode(M, 1),  background ring = dilate(M, 5) - M   (3x3 cross, outside = 0).
// Masked average pooling of the features Z: h = sum(m * Z) / sum(m) (one F-d vector per image and
// region). Empty regions are dropped from the set (the reference divided by zero -> NaN).
// The set for structure s = boundary and background vectors of the raw images (Z_x, from theta) and of
// their interpolated counterparts (Z_t, from theta'); labels boundary / background.
// NT-Xent as pytorch-metric-learning's NTXentLoss (what the reference used): L2-normalised embeddings,
// cosine similarity s, temperature tau; positives = all ordered pairs (a, p), a != p, same label;
//   l_ap = -log( e^{s_ap/tau} / (e^{s_ap/tau} + sum_{n in Neg(a)} e^{s_an/tau}) )
//        = softplus( logsumexp_{n in Neg(a)} (s_an/tau) - s_ap/tau )      (max-shifted inside logsumexp)
// and the loss is the mean over all positive pairs (0 when there are no positive or no negative pairs).
// L_boundary = sum over structures; the caller weights it by gamma = 0.1.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { MaskU8 } from '../contract/image.js';
import { boundaryRing, backgroundRing } from '../morphology/rings.js';
import { maskPlane } from '../masks/convert.js';

export const NTXENT_TAU = 0.05;
export const BOUNDARY_GAMMA = 0.1;
export const BACKGROUND_RING_ITERATIONS = 5;
/** Same as torch.nn.functional.normalize's eps. */
const NORM_EPS = 1e-12;
const MASKED = -1e30;

/**
 * NT-Xent over embeddings [N, F] with integer labels (pytorch-metric-learning semantics, see header).
 * Returns a scalar; 0 when no positive pair or no negative pair exists.
 */
export function ntXentLoss(emb: tf.Tensor2D, labels: ArrayLike<number>, tau = NTXENT_TAU): tf.Scalar {
  if (emb.rank !== 2) throw new FedSegError('SHAPE_MISMATCH', `ntXentLoss: embeddings must be [N, F], got [${emb.shape}]`);
  const n = emb.shape[0];
  if (labels.length !== n) throw new FedSegError('SHAPE_MISMATCH', `ntXentLoss: ${labels.length} labels for ${n} embeddings`);
  if (!(tau > 0)) throw new FedSegError('INVALID_ARGUMENT', `ntXentLoss: temperature must be > 0, got ${tau}`);
  const pos = new Float32Array(n * n);
  const negAdd = new Float32Array(n * n);
  let nPos = 0;
  let nNeg = 0;
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      const same = labels[a] === labels[b];
      if (same && a !== b) {
        pos[a * n + b] = 1;
        nPos++;
      }
      if (!same) nNeg++;
      negAdd[a * n + b] = same ? MASKED : 0;
    }
  if (nPos === 0 || nNeg === 0) return tf.scalar(0);
  return tf.tidy(() => {
    const sq = tf.sum(tf.square(emb), 1, true);
    const e = tf.div(emb, tf.sqrt(tf.maximum(sq, NORM_EPS * NORM_EPS)));
    const s = tf.div(tf.matMul(e, e, false, true), tau);
    // logsumexp over each anchor's negatives (tf.logSumExp shifts by the row max).
    const negLse = tf.logSumExp(tf.add(s, tf.tensor2d(negAdd, [n, n])), 1, true);
    const l = tf.softplus(tf.sub(negLse, s));
    return tf.div(tf.sum(tf.mul(l, tf.tensor2d(pos, [n, n]))), nPos) as tf.Scalar;
  });
}

/** Constant region data for a batch, computed once from the ground-truth masks (no tensors). */
export interface BoundaryRegions {
  batch: number;
  height: number;
  width: number;
  structures: number;
  /** [B, R, H*W] with R = 2 * structures; region r = 2s (boundary) or 2s+1 (background ring); each
   *  row holds 1/|region| on the region's pixels (all 0 for an empty region). */
  weights: Float32Array;
  /** [B * R]: false where the region is empty (dropped from the contrastive set). */
  present: boolean[];
}

/** Region masks for every image and structure of a batch (morphology from core/morphology). */
export function boundaryRegions(masks: MaskU8[], bgIterations = BACKGROUND_RING_ITERATIONS): BoundaryRegions {
  if (masks.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'boundaryRegions: empty batch');
  const { width: w, height: h, classes } = masks[0]!;
  const hw = h * w;
  const r = 2 * classes;
  const weights = new Float32Array(masks.length * r * hw);
  const present: boolean[] = [];
  masks.forEach((m, b) => {
    if (m.width !== w || m.height !== h || m.classes !== classes || m.data.length !== hw * classes)
      throw new FedSegError('SHAPE_MISMATCH', `boundaryRegions: mask ${b} is ${m.width}x${m.height}x${m.classes}, batch is ${w}x${h}x${classes}`);
    for (let s = 0; s < classes; s++) {
      const ch = maskPlane(m, s);
      const rings = [boundaryRing(ch, h, w), backgroundRing(ch, h, w, bgIterations)];
      rings.forEach((ring, k) => {
        let count = 0;
        for (let i = 0; i < hw; i++) count += ring[i]!;
        present.push(count > 0);
        if (count === 0) return;
        const base = (b * r + 2 * s + k) * hw;
        const inv = 1 / count;
        for (let i = 0; i < hw; i++) if (ring[i]) weights[base + i] = inv;
      });
    }
  });
  return { batch: masks.length, height: h, width: w, structures: classes, weights, present };
}

/** Masked average pooling: Z [B,H,W,F] -> [B, R, F] (empty regions give zero rows). */
export function maskedAveragePool(z: tf.Tensor4D, regions: BoundaryRegions): tf.Tensor3D {
  const [b, h, w, f] = z.shape;
  if (b !== regions.batch || h !== regions.height || w !== regions.width)
    throw new FedSegError('SHAPE_MISMATCH', `maskedAveragePool: features [${z.shape}] do not match regions ${regions.batch}x${regions.height}x${regions.width}`);
  return tf.tidy(() => {
    const m = tf.tensor3d(regions.weights, [b, 2 * regions.structures, h * w]);
    return tf.matMul(m, tf.reshape(z, [b, h * w, f])) as tf.Tensor3D;
  });
}

/**
 * L_boundary (before the gamma weight): sum over structures of NT-Xent over the present boundary and
 * background vectors of Z_x and of each Z_t in `zt` (one or more interpolated views of the same batch).
 */
export function boundaryLoss(zx: tf.Tensor4D, zt: tf.Tensor4D | tf.Tensor4D[], regions: BoundaryRegions, tau = NTXENT_TAU): tf.Scalar {
  const views = [zx, ...(Array.isArray(zt) ? zt : [zt])];
  for (const v of views)
    if (v.shape.some((d, i) => d !== zx.shape[i])) throw new FedSegError('SHAPE_MISMATCH', `boundaryLoss: Z shapes differ ([${zx.shape}] vs [${v.shape}])`);
  const { batch, structures } = regions;
  const r = 2 * structures;
  const f = zx.shape[3];
  return tf.tidy(() => {
    const pooled = views.map((v) => tf.reshape(maskedAveragePool(v, regions), [batch * r, f]));
    let total: tf.Scalar = tf.scalar(0);
    for (let s = 0; s < structures; s++) {
      // Row selection as a constant matrix product (differentiable everywhere, no gather gradient needed).
      const rows: number[] = [];
      const labels: number[] = [];
      for (const label of [1, 0])
        for (let i = 0; i < batch; i++) {
          const row = i * r + 2 * s + (label === 1 ? 0 : 1);
          if (regions.present[row]) rows.push(row);
        }
      for (const row of rows) labels.push(row % 2 === 0 ? 1 : 0);
      if (rows.length === 0) continue;
      const sel = new Float32Array(rows.length * batch * r);
      rows.forEach((row, k) => (sel[k * batch * r + row] = 1));
      const selT = tf.tensor2d(sel, [rows.length, batch * r]);
      const emb = tf.concat(pooled.map((p) => tf.matMul(selT, p)), 0) as tf.Tensor2D;
      const allLabels = views.flatMap(() => labels);
      total = tf.add(total, ntXentLoss(emb, allLabels, tau));
    }
    return total;
  });
}
