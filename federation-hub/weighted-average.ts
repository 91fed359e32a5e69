// FedAvg (McMahan et al. 2017; FedDG docs/algorithms.md §1): theta = sum_k (N_k / N) theta_k, N_k = site k's
// training-sample count. Streaming: each update is checked and folded into a float64 running sum as it
// arrives, so memory is O(params) (one accumulator + the update being folded), never O(sites x params).
// Update checks (a bad update is rejected with a reason; the round goes on): every name of the global
// model present with the same shape and no extra names, all values finite, sample count positive;
// optional L2 norm clipping of the update delta (theta_k - theta) to `clipNorm`. This is the plain case;
// sample bounds, share caps, the round's median clip, median / trimmed mean and DP noise need the round's
// updates together and live in federation-hub/strategies/aggregators.ts (docs/security.md §7).
import { FedSegError } from '../core/contract/errors.js';
import type { NamedArray } from '../core/contract/weights.js';

export interface UpdateVerdict {
  /** L2 norm of theta_k - theta (before clipping). */
  deltaNorm: number;
  /** Scale applied to the delta (1 = not clipped); a buffered aggregator may clip further once the round is in. */
  scale: number;
  /** The samples the update counts for: the claim, or the site's bound when it claimed more. */
  counted?: number;
}

/** A sample count is a positive integer. */
export function checkSampleCount(numSamples: number): void {
  if (!Number.isInteger(numSamples) || numSamples < 1) throw new FedSegError('BAD_UPDATE', `sample count must be a positive integer, got ${numSamples}`);
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks that the update has exactly the global model's names with the same shapes; returns it keyed by name. */
export function checkNamesAndShapes(global: NamedArray[], update: NamedArray[]): Map<string, NamedArray> {
  const byName = new Map<string, NamedArray>();
  for (const u of update) byName.set(u.name, u);
  if (byName.size !== update.length) throw new FedSegError('BAD_UPDATE', 'update has duplicate weight names');
  for (const g of global) {
    const u = byName.get(g.name);
    if (!u) throw new FedSegError('BAD_UPDATE', `update lacks weight '${g.name}'`);
    if (!sameShape(u.shape, g.shape) || u.data.length !== g.data.length) throw new FedSegError('BAD_UPDATE', `weight '${g.name}' has shape [${u.shape}], expected [${g.shape}]`);
  }
  if (byName.size !== global.length) {
    const known = new Set(global.map((g) => g.name));
    const extra = update.find((u) => !known.has(u.name));
    throw new FedSegError('BAD_UPDATE', `update has unknown weight '${extra?.name}'`);
  }
  return byName;
}

/** Full check: names, shapes and every value finite. */
export function checkUpdate(global: NamedArray[], update: NamedArray[]): Map<string, NamedArray> {
  const byName = checkNamesAndShapes(global, update);
  for (const g of global) {
    const d = byName.get(g.name)!.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]!)) throw new FedSegError('BAD_UPDATE', `weight '${g.name}' holds a non-finite value (${d[i]}) at index ${i}`);
    }
  }
  return byName;
}

/**
 * s += w * u over one weight array, returning sum((u - g)^2). A non-finite u[i] adds 0 (so s stays
 * finite and a rollback with -w restores it) and makes the returned sum non-finite: u and g are float32,
 * so u - g is finite exactly when u is. Two interleaved partial sums shorten the add chain; a small
 * function of its own keeps the loop in V8's optimised tier (~2x faster than two separate passes).
 */
function foldChecked(s: Float64Array, u: Float32Array, g: Float32Array, w: number): number {
  const n = s.length;
  let p0 = 0, p1 = 0, i = 0;
  for (; i + 1 < n; i += 2) {
    const a = u[i]!, b = u[i + 1]!;
    const t0 = a - g[i]!, t1 = b - g[i + 1]!;
    p0 += t0 * t0;
    p1 += t1 * t1;
    s[i] = s[i]! + w * (t0 - t0 === 0 ? a : 0);
    s[i + 1] = s[i + 1]! + w * (t1 - t1 === 0 ? b : 0);
  }
  for (; i < n; i++) {
    const a = u[i]!;
    const t = a - g[i]!;
    p0 += t * t;
    s[i] = s[i]! + w * (t - t === 0 ? a : 0);
  }
  return p0 + p1;
}

/** Streaming sample-weighted average. */
export class FedAvgAccumulator {
  private readonly sums: Float64Array[];
  private samples = 0;
  private updates = 0;

  constructor(private readonly global: NamedArray[], private readonly clipNorm?: number) {
    if (clipNorm !== undefined && !(clipNorm > 0)) throw new FedSegError('INVALID_ARGUMENT', `clipNorm must be > 0, got ${clipNorm}`);
    this.sums = global.map((g) => new Float64Array(g.data.length));
  }

  get count(): number {
    return this.updates;
  }

  get totalSamples(): number {
    return this.samples;
  }

  /** Validates and folds one update in; throws FedSegError('BAD_UPDATE') and leaves the sum untouched. */
  add(update: NamedArray[], numSamples: number): UpdateVerdict {
    checkSampleCount(numSamples);
    const byName = checkNamesAndShapes(this.global, update);
    const us = this.global.map((g) => byName.get(g.name)!.data);
    const w = numSamples;
    let sq = 0;
    if (this.clipNorm === undefined) {
      // One fused sweep per weight array: squared delta and fold-in together (each value read once). A
      // non-finite value adds 0 to the sum and makes the array's squared delta non-finite; the arrays
      // folded in so far are then rolled back (float64 subtraction of the same products: error <= 1 ulp
      // of float64, far below float32 precision) and the update is rejected naming the value.
      for (let k = 0; k < us.length; k++) {
        const part = foldChecked(this.sums[k]!, us[k]!, this.global[k]!.data, w);
        if (!Number.isFinite(part) || !Number.isFinite(sq + part)) {
          for (let j = 0; j <= k; j++) foldChecked(this.sums[j]!, us[j]!, this.global[j]!.data, -w);
          checkUpdate(this.global, update); // throws naming the non-finite weight and index
          throw new FedSegError('BAD_UPDATE', 'update delta norm overflows');
        }
        sq += part;
      }
      this.samples += w;
      this.updates++;
      return { deltaNorm: Math.sqrt(sq), scale: 1 };
    }
    // With clipping the global norm is needed first: pass 1 = norm (and finiteness), pass 2 = fold in.
    for (let k = 0; k < us.length; k++) {
      const u = us[k]!;
      const gd = this.global[k]!.data;
      for (let i = 0; i < gd.length; i++) {
        const t = u[i]! - gd[i]!;
        sq += t * t;
      }
    }
    if (!Number.isFinite(sq)) {
      checkUpdate(this.global, update);
      throw new FedSegError('BAD_UPDATE', 'update delta norm overflows');
    }
    const deltaNorm = Math.sqrt(sq);
    const scale = deltaNorm > this.clipNorm ? this.clipNorm / deltaNorm : 1;
    for (let k = 0; k < us.length; k++) {
      const s = this.sums[k]!;
      const u = us[k]!;
      const gd = this.global[k]!.data;
      for (let i = 0; i < s.length; i++) s[i] = s[i]! + w * (gd[i]! + scale * (u[i]! - gd[i]!));
    }
    this.samples += w;
    this.updates++;
    return { deltaNorm, scale };
  }

  /** The average; throws when nothing was accepted. */
  result(): NamedArray[] {
    if (this.updates === 0) throw new FedSegError('INVALID_ARGUMENT', 'FedAvg of zero updates');
    const inv = 1 / this.samples;
    return this.global.map((g, k) => {
      const s = this.sums[k]!;
      const out = new Float32Array(s.length);
      for (let i = 0; i < s.length; i++) out[i] = s[i]! * inv;
      return { name: g.name, shape: [...g.shape], data: out };
    });
  }
}

/** Pure (non-streaming) FedAvg of complete updates, for tests and small callers. */
export function fedAvg(global: NamedArray[], updates: { arrays: NamedArray[]; numSamples: number }[], clipNorm?: number): NamedArray[] {
  const acc = new FedAvgAccumulator(global, clipNorm);
  for (const u of updates) acc.add(u.arrays, u.numSamples);
  return acc.result();
}
