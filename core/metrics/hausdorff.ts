// 95th-percentile Hausdorff distance and average surface distance exactly as medpy.metric.binary
// (hd95, asd, assd) computes them (docs/algorithms.md §6):
//   surface(M) = M XOR binary_erosion(M, 3x3 cross, 1 iteration, border 0)
//   d(result -> reference) = EDT(NOT surface(reference)) sampled at surface(result) pixels
//   hd95 = numpy.percentile(concat(d(res -> ref), d(ref -> res)), 95)   (linear interpolation)
//   asd  = mean(d(result -> reference))    (one direction, as medpy's asd)
//   assd = mean(asd(a, b), asd(b, a))
// The exact Euclidean distance transform is Felzenszwalb & Huttenlocher's (Theory of Computing 2012)
// linear-time lower envelope of parabolas, separable: columns first, then rows, with optional pixel
// spacing [row spacing, column spacing] (scipy's `sampling`, in numpy axis order).
// medpy raises on an empty mask; so do these functions (FedSegError INVALID_INPUT). The evaluation's
// empty-mask policy lives in evaluate.ts.
import { FedSegError } from '../contract/errors.js';
import { erodeUnchecked } from '../morphology/binary.js';
import { checkMask } from '../morphology/validate.js';

function checkSpacing(spacing: [number, number] | undefined, fn: string): [number, number] {
  if (spacing === undefined) return [1, 1];
  if (!Array.isArray(spacing) || spacing.length !== 2 || !spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: spacing must be [rowSpacing, colSpacing] with finite positive values, got ${JSON.stringify(spacing)}`);
  }
  return spacing;
}

function surface(mask: Uint8Array, h: number, w: number): Uint8Array {
  const er = erodeUnchecked(mask, h, w);
  for (let i = 0; i < er.length; i++) er[i] = mask[i]! ^ er[i]!;
  return er;
}

/**
 * Euclidean distances from each `query` pixel to the nearest `feature` pixel (feature non-empty),
 * in query raster order. Squared distances come from the FH envelope; only rows holding query
 * pixels run the row pass.
 */
function surfaceDistances(query: Uint8Array, feature: Uint8Array, h: number, w: number, sy: number, sx: number, out: Float64Array, outOff: number): number {
  const INF = Number.POSITIVE_INFINITY;
  // Column pass: vertical distance (in rows) to the nearest feature in the same column.
  const g = new Float64Array(h * w);
  for (let x = 0; x < w; x++) g[x] = feature[x] ? 0 : INF;
  for (let y = 1; y < h; y++) {
    const r = y * w;
    for (let x = 0; x < w; x++) g[r + x] = feature[r + x] ? 0 : g[r - w + x]! + 1;
  }
  for (let y = h - 2; y >= 0; y--) {
    const r = y * w;
    for (let x = 0; x < w; x++) {
      const below = g[r + w + x]! + 1;
      if (below < g[r + x]!) g[r + x] = below;
    }
  }
  // Row pass (FH lower envelope) on f(q) = (sy * g(q))^2, weights sx^2 (q - p)^2.
  const v = new Int32Array(w);
  const z = new Float64Array(w + 1);
  const f = new Float64Array(w);
  const sx2 = sx * sx;
  let n = outOff;
  for (let y = 0; y < h; y++) {
    const r = y * w;
    let any = false;
    for (let x = 0; x < w; x++) {
      if (query[r + x]) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    let k = -1;
    for (let q = 0; q < w; q++) {
      const gq = g[r + q]!;
      if (gq === INF) continue;
      const fq = (sy * gq) * (sy * gq);
      f[q] = fq;
      while (k >= 0) {
        const p = v[k]!;
        const s = (fq + sx2 * q * q - (f[p]! + sx2 * p * p)) / (2 * sx2 * (q - p));
        if (s <= z[k]!) k--;
        else {
          k++;
          v[k] = q;
          z[k] = s;
          z[k + 1] = INF;
          break;
        }
      }
      if (k < 0) {
        k = 0;
        v[0] = q;
        z[0] = -INF;
        z[1] = INF;
      }
    }
    // k >= 0 always: the feature set is non-empty and every column reaches it, so some g is finite.
    let j = 0;
    for (let x = 0; x < w; x++) {
      if (!query[r + x]) continue;
      while (z[j + 1]! < x) j++;
      const p = v[j]!;
      const dx = sx * (x - p);
      out[n++] = Math.sqrt(dx * dx + f[p]!);
    }
  }
  return n - outOff;
}

interface Prepared {
  sa: Uint8Array;
  sb: Uint8Array;
  na: number;
  nb: number;
  /** Size of the cropped grid the surfaces live on. */
  ch: number;
  cw: number;
  sy: number;
  sx: number;
}

/**
 * Validates, then crops both masks to their joint bounding box grown by one pixel (clipped to the
 * image). Exact: every surface pixel lies inside the crop, Euclidean distances do not depend on the
 * grid around them, and erosion at the crop edge sees the same zeros (margin) or the same image
 * border (border_value 0) as on the full image.
 */
function prepare(a: Uint8Array, b: Uint8Array, h: number, w: number, spacing: [number, number] | undefined, fn: string): Prepared {
  checkMask(a, h, w, fn, 'first mask (result)');
  checkMask(b, h, w, fn, 'second mask (reference)');
  const [sy, sx] = checkSpacing(spacing, fn);
  let ca = 0;
  let cb = 0;
  let y0 = h;
  let y1 = -1;
  let x0 = w;
  let x1 = -1;
  for (let y = 0; y < h; y++) {
    const r = y * w;
    let rowAny = false;
    for (let x = 0; x < w; x++) {
      const va = a[r + x]!;
      const vb = b[r + x]!;
      if (va | vb) {
        ca += va;
        cb += vb;
        rowAny = true;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
    if (rowAny) {
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  if (ca === 0 || cb === 0) {
    throw new FedSegError('INVALID_INPUT', `${fn}: the ${ca === 0 ? 'first (result)' : 'second (reference)'} mask is empty; surface distances are undefined (see evaluateMasks for the empty-mask policy)`);
  }
  y0 = Math.max(0, y0 - 1);
  x0 = Math.max(0, x0 - 1);
  y1 = Math.min(h - 1, y1 + 1);
  x1 = Math.min(w - 1, x1 + 1);
  const ch = y1 - y0 + 1;
  const cw = x1 - x0 + 1;
  const cropA = new Uint8Array(ch * cw);
  const cropB = new Uint8Array(ch * cw);
  for (let y = 0; y < ch; y++) {
    const src = (y + y0) * w + x0;
    cropA.set(a.subarray(src, src + cw), y * cw);
    cropB.set(b.subarray(src, src + cw), y * cw);
  }
  const sa = surface(cropA, ch, cw);
  const sb = surface(cropB, ch, cw);
  let na = 0;
  let nb = 0;
  for (let i = 0; i < sa.length; i++) {
    na += sa[i]!;
    nb += sb[i]!;
  }
  return { sa, sb, na, nb, ch, cw, sy, sx };
}

/** numpy.percentile(values, q) with the default 'linear' method (values are sorted in place). */
export function percentileLinear(values: Float64Array, q: number): number {
  const n = values.length;
  if (n === 0) throw new FedSegError('INVALID_INPUT', 'percentile of an empty array');
  values.sort();
  const vi = (n - 1) * (q / 100);
  if (vi >= n - 1) return values[n - 1]!;
  const lo = Math.floor(vi);
  const gamma = vi - lo;
  const a = values[lo]!;
  const b = values[lo + 1]!;
  const diff = b - a;
  // numpy's _lerp: a + diff * t, but b - diff * (1 - t) when t >= 0.5.
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** Surface distances result -> reference (medpy __surface_distances), in raster order of result's surface. */
export function surfaceDistancesOf(result: Uint8Array, reference: Uint8Array, h: number, w: number, spacing?: [number, number]): Float64Array {
  const p = prepare(result, reference, h, w, spacing, 'surfaceDistances');
  const out = new Float64Array(p.na);
  surfaceDistances(p.sa, p.sb, p.ch, p.cw, p.sy, p.sx, out, 0);
  return out;
}

/** medpy.metric.binary.hd95(result, reference, voxelspacing=spacing). Symmetric in its arguments. */
export function hd95(a: Uint8Array, b: Uint8Array, h: number, w: number, spacing?: [number, number]): number {
  const p = prepare(a, b, h, w, spacing, 'hd95');
  const all = new Float64Array(p.na + p.nb);
  surfaceDistances(p.sa, p.sb, p.ch, p.cw, p.sy, p.sx, all, 0);
  surfaceDistances(p.sb, p.sa, p.ch, p.cw, p.sy, p.sx, all, p.na);
  return percentileLinear(all, 95);
}

/** medpy.metric.binary.hd (maximum of both directed Hausdorff distances). */
export function hausdorff(a: Uint8Array, b: Uint8Array, h: number, w: number, spacing?: [number, number]): number {
  const p = prepare(a, b, h, w, spacing, 'hausdorff');
  const all = new Float64Array(p.na + p.nb);
  surfaceDistances(p.sa, p.sb, p.ch, p.cw, p.sy, p.sx, all, 0);
  surfaceDistances(p.sb, p.sa, p.ch, p.cw, p.sy, p.sx, all, p.na);
  let m = 0;
  for (let i = 0; i < all.length; i++) if (all[i]! > m) m = all[i]!;
  return m;
}

/** medpy.metric.binary.asd(result, reference): mean distance result surface -> reference surface (NOT symmetric). */
export function asd(result: Uint8Array, reference: Uint8Array, h: number, w: number, spacing?: [number, number]): number {
  const p = prepare(result, reference, h, w, spacing, 'asd');
  const d = new Float64Array(p.na);
  surfaceDistances(p.sa, p.sb, p.ch, p.cw, p.sy, p.sx, d, 0);
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  return s / d.length;
}

/** medpy.metric.binary.assd: mean(asd(a, b), asd(b, a)). Symmetric. */
export function assd(a: Uint8Array, b: Uint8Array, h: number, w: number, spacing?: [number, number]): number {
  return (asd(a, b, h, w, spacing) + asd(b, a, h, w, spacing)) / 2;
}
