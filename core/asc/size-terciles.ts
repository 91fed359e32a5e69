// Object-size terciles for the ASCNet experiment (docs/algorithms.md §8: "the learned rate correlates
// positively with object size"; docs/ascnet.md "Cross-validation on a stored dataset"). The objects are
// the 4-connected components of one ground-truth class plane (core/morphology/components.ts). Each
// object gets its area, its Dice against the predicted components of the same class that overlap it
// (0 when none does: a missed object), the fraction of its pixels predicted, and the learned rates at
// its pixels (ASC models). Objects are split into size terciles by area cut points (tercileCuts) and
// summarised per tercile: object Dice (mean over objects), pixel recall, median and mean rate over the
// objects' pixels; "rate grows with size" means the median rate rises strictly from the small to the
// medium to the large tercile, and Spearman's rho between an object's area and its mean rate is given.
import { FedSegError } from '../contract/errors.js';
import { labelComponents4 } from '../morphology/components.js';

export interface ObjectRecord {
  /** Pixels of the ground-truth component. */
  area: number;
  /** 2|G n P| / (|G| + |P|), P = the predicted components overlapping G; 0 when none overlaps. */
  dice: number;
  /** Pixels of G predicted as the class. */
  hit: number;
  /** The learned rate at G's pixels (ASC models), else null. */
  rates: Float32Array | null;
}

export const TERCILES = ['small', 'medium', 'large'] as const;
export type Tercile = (typeof TERCILES)[number];

export interface TercileStats {
  tercile: Tercile;
  objects: number;
  /** Smallest and largest object area in the tercile (pixels); null when it is empty. */
  minArea: number | null;
  maxArea: number | null;
  /** Mean object Dice; null when the tercile is empty. */
  dice: number | null;
  /** Predicted fraction of the tercile's object pixels. */
  recall: number | null;
  medianRate: number | null;
  meanRate: number | null;
}

export interface TercileSummary {
  /** Area cut points: small <= cuts[0] < medium <= cuts[1] < large. */
  cuts: [number, number];
  terciles: TercileStats[];
  /** Median rate strictly rising small -> medium -> large; null without rates or with an empty tercile. */
  rateGrowsWithSize: boolean | null;
  /** Spearman's rho between object area and the object's mean rate (average ranks for ties); null below 3 objects or without rates. */
  spearman: number | null;
}

function check(plane: Uint8Array, n: number, what: string): void {
  if (!(plane instanceof Uint8Array) || plane.length !== n) throw new FedSegError('SHAPE_MISMATCH', `size terciles: ${what} must be a Uint8Array of ${n} pixels`);
}

/** The objects of one class plane of one image (ground truth `gt`, prediction `pred`, optional rate map). */
export function objectRecords(gt: Uint8Array, pred: Uint8Array, h: number, w: number, rate: Float32Array | null = null): ObjectRecord[] {
  const n = h * w;
  check(gt, n, 'the ground truth');
  check(pred, n, 'the prediction');
  if (rate && rate.length !== n) throw new FedSegError('SHAPE_MISMATCH', `size terciles: the rate map has ${rate.length} values, ${n} expected`);
  const g = labelComponents4(gt, h, w);
  const p = labelComponents4(pred, h, w);
  const gArea = new Int32Array(g.count + 1);
  const pArea = new Int32Array(p.count + 1);
  const hit = new Int32Array(g.count + 1);
  for (let i = 0; i < n; i++) {
    gArea[g.labels[i]!]!++;
    pArea[p.labels[i]!]!++;
    if (g.labels[i]! && pred[i]) hit[g.labels[i]!]!++;
  }
  // Predicted components overlapping each object (a set per object; objects rarely touch many).
  const touching = Array.from({ length: g.count + 1 }, () => new Set<number>());
  for (let i = 0; i < n; i++) if (g.labels[i]! && p.labels[i]!) touching[g.labels[i]!]!.add(p.labels[i]!);
  const rateAt: number[][] = rate ? Array.from({ length: g.count + 1 }, () => []) : [];
  if (rate) for (let i = 0; i < n; i++) if (g.labels[i]!) rateAt[g.labels[i]!]!.push(rate[i]!);
  const out: ObjectRecord[] = [];
  for (let k = 1; k <= g.count; k++) {
    let predArea = 0;
    for (const c of touching[k]!) predArea += pArea[c]!;
    out.push({ area: gArea[k]!, dice: (2 * hit[k]!) / (gArea[k]! + predArea), hit: hit[k]!, rates: rate ? Float32Array.from(rateAt[k]!) : null });
  }
  return out;
}

/** Area cut points of the terciles: the areas at ranks ceil(n/3) and ceil(2n/3) (1-based) of the sorted areas. */
export function tercileCuts(areas: readonly number[]): [number, number] {
  if (areas.length === 0) throw new FedSegError('INVALID_INPUT', 'size terciles: no objects in the ground truth');
  const s = [...areas].sort((a, b) => a - b);
  const n = s.length;
  return [s[Math.ceil(n / 3) - 1]!, s[Math.ceil((2 * n) / 3) - 1]!];
}

export function tercileOf(area: number, cuts: readonly [number, number]): Tercile {
  return area <= cuts[0] ? 'small' : area <= cuts[1] ? 'medium' : 'large';
}

function median(v: Float32Array): number {
  const s = v.slice().sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function ranks(v: readonly number[]): number[] {
  const idx = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    for (let k = i; k <= j; k++) r[idx[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson of average ranks); null when either side is constant or n < 3. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new FedSegError('SHAPE_MISMATCH', 'spearman: x and y differ in length');
  const n = x.length;
  if (n < 3) return null;
  const rx = ranks(x);
  const ry = ranks(y);
  const mx = rx.reduce((a, b) => a + b, 0) / n;
  const my = ry.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

/** Per-tercile statistics of a set of objects (pooled over images and folds by the caller). */
export function tercileSummary(objects: readonly ObjectRecord[], cuts: [number, number] = tercileCuts(objects.map((o) => o.area))): TercileSummary {
  const withRates = objects.length > 0 && objects.every((o) => o.rates !== null);
  const terciles = TERCILES.map((t): TercileStats => {
    const os = objects.filter((o) => tercileOf(o.area, cuts) === t);
    if (os.length === 0) return { tercile: t, objects: 0, minArea: null, maxArea: null, dice: null, recall: null, medianRate: null, meanRate: null };
    const area = os.reduce((a, o) => a + o.area, 0);
    let medianRate: number | null = null;
    let meanRate: number | null = null;
    if (withRates) {
      const all = new Float32Array(area);
      let off = 0;
      for (const o of os) {
        all.set(o.rates!, off);
        off += o.rates!.length;
      }
      medianRate = median(all);
      meanRate = all.reduce((a, b) => a + b, 0) / all.length;
    }
    return {
      tercile: t, objects: os.length, minArea: Math.min(...os.map((o) => o.area)), maxArea: Math.max(...os.map((o) => o.area)),
      dice: os.reduce((a, o) => a + o.dice, 0) / os.length, recall: os.reduce((a, o) => a + o.hit, 0) / area, medianRate, meanRate,
    };
  });
  const meds = terciles.map((t) => t.medianRate);
  const rateGrowsWithSize = withRates && meds.every((m) => m !== null) ? meds[0]! < meds[1]! && meds[1]! < meds[2]! : null;
  const rho = withRates ? spearman(objects.map((o) => o.area), objects.map((o) => o.rates!.reduce((a, b) => a + b, 0) / o.rates!.length)) : null;
  return { cuts, terciles, rateGrowsWithSize, spearman: rho };
}
