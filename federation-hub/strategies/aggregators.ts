// How a round's updates become the next global model, so that one site cannot take a federation over
// (docs/security.md §7) and, optionally, so that the model reveals little about any one site
// (docs/security.md §8). Used by every strategy through Strategy.aggregator (fedavg, and elcfs, which
// inherits it). In order, per update:
//   1. checked like plain FedAvg (names, shapes, finite values; weighted-average.ts);
//   2. its sample count bounded: a claim above the site's enrolled bound (add-site --samples N), or
//      above maxSamplesPerSite for a site enrolled without one, counts as the bound (audited);
//   3. its delta theta_k - theta clipped: to clipNorm when set, else (3+ updates) to clipFactor x the
//      round's median delta norm; under DP to dp.clipNorm;
// then the round is combined by `aggregator`:
//   mean          FedAvg by the bounded counts, no site above maxSiteShare of the weight (3+ updates,
//                 never below 1/n; the excess is spread over the others in proportion to their counts);
//   median        coordinate-wise median of the clipped deltas, unweighted;
//   trimmed-mean  coordinate-wise mean after dropping the k largest and k smallest values,
//                 k = ceil(trimFraction n) but at most (n-1)/2, unweighted.
// The robust ones are unweighted on purpose: a weight is a site's own claim, and a weighted median lets
// the site that claims the most samples place the median itself. Under DP (mean only): equal weights
// (counts would leak through the weights), and N(0, (z C / n)^2) added to every coordinate of the mean.
// Steps 3 and the combination need the whole round, so these aggregators buffer the updates: memory is
// O(sites x params) (the decoded float32 updates), where plain FedAvg streams in O(params); the
// streaming accumulator is kept for the plain case (mean, no share cap, no median clip, no DP).
import { createHash, randomBytes } from 'node:crypto';
import { FedSegError } from '../../core/contract/errors.js';
import type { DpParams } from '../../core/contract/privacy.js';
import type { NamedArray } from '../../core/contract/weights.js';
import { checkNamesAndShapes, checkSampleCount, checkUpdate, FedAvgAccumulator, type UpdateVerdict } from '../weighted-average.js';
import { GaussianNoise } from './gaussian-noise.js';
import type { Aggregator } from './strategy.js';

export const AGGREGATOR_NAMES = ['mean', 'median', 'trimmed-mean'] as const;
export type AggregatorName = (typeof AGGREGATOR_NAMES)[number];

/** The hub config's defaults for these keys (federation-hub/config.ts). */
export const AGGREGATION_DEFAULTS = { aggregator: 'mean', trimFraction: 0.2, maxSamplesPerSite: 100000, maxSiteShare: 0.5, clipFactor: 10, dpDelta: 1e-5 } as const;

/**
 * The largest sample bound (maxSamplesPerSite, add-site --samples): far above any dataset, and low enough
 * that a round's total stays an exact integer (below 2^53) for millions of sites, as the status schema needs.
 */
export const MAX_SAMPLE_BOUND = 1e9;

/** The fewest updates a median clip or a share cap applies to. */
export const ROBUST_MIN_UPDATES = 3;

export interface DpSettings extends DpParams {
  /** Seed of the noise; without it the hub draws one and keeps it in its state file. */
  readonly seed?: number | undefined;
}

export interface AggregationSettings {
  readonly aggregator?: AggregatorName | undefined;
  readonly trimFraction?: number | undefined;
  readonly maxSamplesPerSite?: number | undefined;
  readonly maxSiteShare?: number | undefined;
  readonly clipFactor?: number | undefined;
  readonly clipNorm?: number | undefined;
  readonly dp?: DpSettings | undefined;
}

export interface AggregationHooks {
  /** The site's enrolled bound (add-site --samples), or null. */
  sampleBound?(site: string): number | null;
  /** An entry of the hub's audit log. */
  audit?(event: string, site: string | null, detail: string): void;
  log?(line: string): void;
  /** The run's noise seed (DP only). */
  noiseSeed?(): string;
  /**
   * Weights of the held updates, in the order they were added (by sender), instead of their sample
   * counts (FedDG-GA, docs/feddg-ga.md §1); called once, at result(). The checks, the clips (median
   * clip or clipNorm) and the share cap still apply; only with aggregator 'mean' and no dp.
   */
  weights?(sites: readonly (string | undefined)[]): number[];
}

// ------------------------------------------------------------------------------------- the pure parts
/** The median of values (sorted in place); the mean of the two middle values for an even count. */
export function medianOf(values: Float64Array | number[]): number {
  const n = values.length;
  if (n === 0) throw new FedSegError('INVALID_ARGUMENT', 'median of no values');
  (values as Float64Array).sort((a, b) => a - b);
  return n % 2 ? values[(n - 1) / 2]! : (values[n / 2 - 1]! + values[n / 2]!) / 2;
}

/** Values dropped at EACH end by the trimmed mean of n values: ceil(fraction n), at most (n-1)/2, so one always remains. */
export function trimCount(n: number, fraction: number): number {
  if (!(fraction >= 0 && fraction < 0.5)) throw new FedSegError('INVALID_ARGUMENT', `trimFraction must be in [0, 0.5), got ${fraction}`);
  return Math.max(0, Math.min(Math.ceil(fraction * n - 1e-9), Math.floor((n - 1) / 2)));
}

/** The mean of values (sorted in place) without the k largest and the k smallest. */
export function trimmedMeanOf(values: Float64Array | number[], k: number): number {
  const n = values.length;
  if (n - 2 * k < 1) throw new FedSegError('INVALID_ARGUMENT', `cannot trim ${k} from each end of ${n} values`);
  (values as Float64Array).sort((a, b) => a - b);
  let s = 0;
  for (let i = k; i < n - k; i++) s += values[i]!;
  return s / (n - 2 * k);
}

/**
 * Weights normalised to sum 1 with none above max(maxShare, 1/n) (water-filling: a capped weight is set
 * to the cap and the rest renormalised among the others, until none exceeds). Below 3 weights, or with
 * maxShare >= 1, the plain normalised weights: with two sites a cap of 1/2 would make every two-site
 * federation an unweighted one, and no rule tells which of two sites is the honest one.
 */
export function capShares(weights: readonly number[], maxShare: number): number[] {
  const n = weights.length;
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new FedSegError('INVALID_ARGUMENT', 'weights must sum to more than 0');
  const plain = weights.map((w) => w / total);
  if (n < ROBUST_MIN_UPDATES || maxShare >= 1) return plain;
  const cap = Math.max(maxShare, 1 / n);
  const capped = new Set<number>();
  let shares = plain;
  for (;;) {
    const free = weights.map((_, i) => i).filter((i) => !capped.has(i));
    const freeTotal = free.reduce((a, i) => a + weights[i]!, 0);
    const rest = 1 - capped.size * cap;
    shares = weights.map((w, i) => (capped.has(i) ? cap : freeTotal > 0 ? (rest * w) / freeTotal : rest / free.length));
    const over = free.filter((i) => shares[i]! > cap);
    if (over.length === 0) return capped.size === 0 ? plain : shares;
    for (const i of over) capped.add(i);
  }
}

/** The round's clip bound: clipFactor x the median delta norm, from 3 updates on and clipFactor > 0. */
export function medianClipBound(norms: readonly number[], clipFactor: number): number | undefined {
  if (norms.length < ROBUST_MIN_UPDATES || !(clipFactor > 0)) return undefined;
  return clipFactor * medianOf(Float64Array.from(norms));
}

/** sha-256 of a model's names, shapes and values: what the DP noise of its round is keyed by. */
export function modelDigest(arrays: NamedArray[]): string {
  const h = createHash('sha256');
  for (const a of arrays) {
    h.update(`${a.name}[${a.shape.join(',')}]`);
    h.update(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  }
  return h.digest('hex');
}

/** The run's noise seed: the configured one, else a random one drawn once and kept in the hub's meta table. */
export function noiseSeedOf(meta: { getMeta(k: string): string | null; setMeta(k: string, v: string): void }, seed: number | undefined): string {
  if (seed !== undefined) return `seed:${seed}`;
  let s = meta.getMeta('dpNoiseSeed');
  if (!s) {
    s = `random:${randomBytes(32).toString('hex')}`;
    meta.setMeta('dpNoiseSeed', s);
  }
  return s;
}

// ------------------------------------------------------------------------------------- aggregators
interface Resolved {
  aggregator: AggregatorName;
  trimFraction: number;
  maxSamplesPerSite: number;
  maxSiteShare: number;
  clipFactor: number;
  clipNorm: number | undefined;
  dp: DpSettings | undefined;
}

function resolve(s: AggregationSettings): Resolved {
  const r: Resolved = {
    aggregator: s.aggregator ?? AGGREGATION_DEFAULTS.aggregator,
    trimFraction: s.trimFraction ?? AGGREGATION_DEFAULTS.trimFraction,
    maxSamplesPerSite: s.maxSamplesPerSite ?? AGGREGATION_DEFAULTS.maxSamplesPerSite,
    maxSiteShare: s.maxSiteShare ?? AGGREGATION_DEFAULTS.maxSiteShare,
    clipFactor: s.clipFactor ?? AGGREGATION_DEFAULTS.clipFactor,
    clipNorm: s.clipNorm,
    dp: s.dp,
  };
  if (!AGGREGATOR_NAMES.includes(r.aggregator)) throw new FedSegError('INVALID_ARGUMENT', `unknown aggregator '${r.aggregator}' (known: ${AGGREGATOR_NAMES.join(', ')})`);
  trimCount(3, r.trimFraction);
  if (!(Number.isInteger(r.maxSamplesPerSite) && r.maxSamplesPerSite >= 1)) throw new FedSegError('INVALID_ARGUMENT', `maxSamplesPerSite must be a positive integer, got ${r.maxSamplesPerSite}`);
  if (!(r.maxSiteShare > 0 && r.maxSiteShare <= 1)) throw new FedSegError('INVALID_ARGUMENT', `maxSiteShare must be in (0, 1], got ${r.maxSiteShare}`);
  if (!(r.clipFactor >= 0)) throw new FedSegError('INVALID_ARGUMENT', `clipFactor must be >= 0, got ${r.clipFactor}`);
  if (r.clipNorm !== undefined && !(r.clipNorm > 0)) throw new FedSegError('INVALID_ARGUMENT', `clipNorm must be > 0, got ${r.clipNorm}`);
  if (r.dp) {
    if (r.aggregator !== 'mean') throw new FedSegError('INVALID_ARGUMENT', `dp needs aggregator 'mean' (its noise is calibrated to a mean), not '${r.aggregator}'`);
    if (!(r.dp.noiseMultiplier > 0 && r.dp.clipNorm > 0 && r.dp.delta > 0 && r.dp.delta < 1)) throw new FedSegError('INVALID_ARGUMENT', 'dp needs noiseMultiplier > 0, clipNorm > 0 and delta in (0, 1)');
  }
  return r;
}

/** The site's count, or its bound when it claimed more (audited). */
function boundSamples(claim: number, site: string | undefined, s: Resolved, hooks: AggregationHooks): number {
  checkSampleCount(claim);
  const enrolled = site !== undefined ? hooks.sampleBound?.(site) ?? null : null;
  const bound = enrolled ?? s.maxSamplesPerSite;
  if (claim <= bound) return claim;
  const why = enrolled !== null ? 'its enrolled bound (add-site --samples)' : 'maxSamplesPerSite';
  hooks.audit?.('samples_clamped', site ?? null, `claimed ${claim} samples; counted ${bound}, ${why}`);
  hooks.log?.(`site ${site ?? '?'}: claimed ${claim} samples, counted ${bound} (${why})`);
  return bound;
}

/** Plain FedAvg, streaming (weighted-average.ts), with the sample bounds. */
class StreamingMean implements Aggregator {
  private readonly acc: FedAvgAccumulator;
  constructor(private readonly global: NamedArray[], private readonly s: Resolved, private readonly hooks: AggregationHooks) {
    this.acc = new FedAvgAccumulator(global, s.clipNorm);
  }

  get count(): number {
    return this.acc.count;
  }

  get totalSamples(): number {
    return this.acc.totalSamples;
  }

  add(update: NamedArray[], numSamples: number, site?: string): UpdateVerdict {
    checkSampleCount(numSamples);
    checkNamesAndShapes(this.global, update); // before the bound: a malformed update is not audited as a clamp
    const counted = boundSamples(numSamples, site, this.s, this.hooks);
    return { ...this.acc.add(update, counted), counted };
  }

  result(): NamedArray[] {
    return this.acc.result();
  }
}

interface Held {
  site: string | undefined;
  /** The update's arrays in the global model's order (the decoded frame's, not copied). */
  arrays: Float32Array[];
  norm: number;
  samples: number;
  scale: number;
}

/** Every other case: the round's updates are held until result(). */
class BufferedAggregator implements Aggregator {
  private readonly held: Held[] = [];
  private samples = 0;

  constructor(private readonly global: NamedArray[], private readonly s: Resolved, private readonly hooks: AggregationHooks) {}

  get count(): number {
    return this.held.length;
  }

  get totalSamples(): number {
    return this.samples;
  }

  add(update: NamedArray[], numSamples: number, site?: string): UpdateVerdict {
    checkSampleCount(numSamples);
    const byName = checkNamesAndShapes(this.global, update);
    const arrays = this.global.map((g) => byName.get(g.name)!.data as Float32Array);
    let sq = 0;
    this.global.forEach((g, k) => {
      const u = arrays[k]!;
      const gd = g.data;
      for (let i = 0; i < gd.length; i++) {
        const t = u[i]! - gd[i]!;
        sq += t * t;
      }
    });
    if (!Number.isFinite(sq)) {
      checkUpdate(this.global, update); // throws naming the non-finite weight and index
      throw new FedSegError('BAD_UPDATE', 'update delta norm overflows');
    }
    const norm = Math.sqrt(sq);
    const counted = boundSamples(numSamples, site, this.s, this.hooks);
    const clip = this.s.dp ? Math.min(this.s.dp.clipNorm, this.s.clipNorm ?? Infinity) : this.s.clipNorm;
    const scale = clip !== undefined && norm > clip ? clip / norm : 1;
    this.held.push({ site, arrays, norm, samples: counted, scale });
    this.samples += counted;
    return { deltaNorm: norm, scale, counted };
  }

  result(): NamedArray[] {
    const n = this.held.length;
    if (n === 0) throw new FedSegError('INVALID_ARGUMENT', 'aggregate of zero updates');
    if (!this.s.dp && this.s.clipNorm === undefined) this.clipToMedian();
    if (this.s.dp) return this.noisyMean();
    if (this.s.aggregator === 'mean') return this.weightedMean();
    return this.coordinatewise();
  }

  /** Step 3 without clipNorm: deltas far longer than the round's others are scaled down to clipFactor x their median. */
  private clipToMedian(): void {
    const bound = medianClipBound(this.held.map((h) => h.norm), this.s.clipFactor);
    if (bound === undefined) return;
    for (const h of this.held) {
      if (h.norm <= bound) continue;
      h.scale = bound / h.norm;
      const detail = `delta norm ${h.norm.toPrecision(4)} > ${this.s.clipFactor} x the round's median delta norm ${(bound / this.s.clipFactor).toPrecision(4)}; scaled by ${h.scale.toPrecision(4)}`;
      this.hooks.audit?.('update_clipped', h.site ?? null, detail);
      this.hooks.log?.(`site ${h.site ?? '?'}: ${detail}`);
    }
  }

  private out(f: (k: number, i: number, g: number) => number): NamedArray[] {
    return this.global.map((g, k) => {
      const out = new Float32Array(g.data.length);
      for (let i = 0; i < out.length; i++) out[i] = f(k, i, g.data[i]!);
      return { name: g.name, shape: [...g.shape], data: out };
    });
  }

  /** FedAvg by bounded, share-capped counts. An unclipped update enters as itself, so one update is returned exactly. */
  private weightedMean(): NamedArray[] {
    const raw = this.hooks.weights ? this.hooks.weights(this.held.map((h) => h.site)) : this.held.map((h) => h.samples);
    if (raw.length !== this.held.length || raw.some((w) => !(w >= 0) || !Number.isFinite(w)) || !(raw.reduce((a, b) => a + b, 0) > 0))
      throw new FedSegError('INVALID_ARGUMENT', `aggregation weights must be ${this.held.length} finite values >= 0 with a positive sum`);
    const total = raw.reduce((a, b) => a + b, 0);
    const plain = raw.map((w) => w / total);
    const shares = capShares(raw, this.s.maxSiteShare);
    this.held.forEach((h, j) => {
      if (shares[j]! < plain[j]!) {
        const detail = `share of the round's weight ${plain[j]!.toPrecision(4)} capped to ${shares[j]!.toPrecision(4)} (maxSiteShare ${this.s.maxSiteShare})`;
        this.hooks.audit?.('share_capped', h.site ?? null, detail);
        this.hooks.log?.(`site ${h.site ?? '?'}: ${detail}`);
      }
    });
    const held = this.held;
    return this.out((k, i, g) => {
      let s = 0;
      for (let j = 0; j < held.length; j++) {
        const h = held[j]!;
        const u = h.arrays[k]![i]!;
        s += shares[j]! * (h.scale === 1 ? u : g + h.scale * (u - g));
      }
      return s;
    });
  }

  /** Coordinate-wise median or trimmed mean of the clipped deltas. */
  private coordinatewise(): NamedArray[] {
    const held = this.held;
    const n = held.length;
    const col = new Float64Array(n);
    const k = this.s.aggregator === 'trimmed-mean' ? trimCount(n, this.s.trimFraction) : -1;
    return this.out((a, i, g) => {
      for (let j = 0; j < n; j++) col[j] = held[j]!.scale * (held[j]!.arrays[a]![i]! - g);
      return g + (k < 0 ? medianOf(col) : trimmedMeanOf(col, k));
    });
  }

  /** Site-level DP: the equal-weight mean of deltas clipped to dp.clipNorm, plus N(0, (z C / n)^2) per coordinate. */
  private noisyMean(): NamedArray[] {
    const dp = this.s.dp!;
    const held = this.held;
    const n = held.length;
    const std = (dp.noiseMultiplier * dp.clipNorm) / n;
    const seed = this.hooks.noiseSeed?.();
    if (!seed) throw new FedSegError('INVALID_ARGUMENT', 'dp needs a noise seed');
    const noise = new GaussianNoise(seed, modelDigest(this.global));
    this.hooks.audit?.('dp_noise', null, `${n} update(s) clipped to ${dp.clipNorm}, equal weights; noise std ${std.toPrecision(4)} per coordinate (z ${dp.noiseMultiplier})`);
    return this.out((k, i, g) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += held[j]!.scale * (held[j]!.arrays[k]![i]! - g);
      return g + s / n + std * noise.normal();
    });
  }
}

/** The aggregator for one round starting from `global`. */
export function createAggregator(global: NamedArray[], settings: AggregationSettings, hooks: AggregationHooks = {}): Aggregator {
  const s = resolve(settings);
  // External weights (FedDG-GA) only mean something to the weighted mean: DP takes equal weights and the
  // coordinate-wise aggregators none, so either would silently drop them.
  if (hooks.weights && (s.dp || s.aggregator !== 'mean'))
    throw new FedSegError('INVALID_ARGUMENT', `per-site aggregation weights need aggregator 'mean' without dp (got ${s.dp ? 'dp' : `'${s.aggregator}'`})`);
  const medianClipOff = s.clipFactor === 0 || s.clipNorm !== undefined;
  if (!s.dp && s.aggregator === 'mean' && s.maxSiteShare >= 1 && medianClipOff && !hooks.weights) return new StreamingMean(global, s, hooks);
  return new BufferedAggregator(global, s, hooks);
}
