// FedDG-GA (Zhang et al., CVPR 2023 "Federated Domain Generalization with Generalization Adjustment";
// docs/feddg-ga.md): the hub weights each site by its generalisation gap instead of its sample count.
// Site k reports with every update the validation loss of the global model it received and of its
// locally trained model (core/run/participation.ts); the gap of round r is
//   G_k = L_k(global_r) - L_k(local_r)
// (global_r reaches the site with round r+1's instructions, so G_k of round r is known at round r+1),
// and the weights used at round r+1 are (docs/feddg-ga.md §1, Eq. GA)
//   w_k <- clip01(w_k + (d_r / K) * G_k / max_j |G_j|),  then renormalised to sum 1,
//   d_r = s * (1 - (r - 1) / R)   (r = 1..R, s = gaStepSize, default 0.2),
// starting from equal weights 1/K. fedavg-ga trains locally as FedAvg, elcfs-ga as ELCFS; both then
// aggregate the (checked, clipped) updates with these weights, capped by maxSiteShare like any other
// (§3). Timing and what the hub keeps across a restart (meta `ga/round/<r>`): docs/feddg-ga.md §4.
import { FedSegError } from '../../core/contract/errors.js';
import type { NamedArray } from '../../core/contract/weights.js';
import type { HubState } from '../state.js';
import type { UpdateVerdict } from '../weighted-average.js';
import { createAggregator, noiseSeedOf } from './aggregators.js';
import { ElcfsStrategy } from './elcfs.js';
import { FedAvgStrategy } from './fedavg.js';
import type { Aggregator, Strategy, StrategyContext } from './strategy.js';

export const GA_DEFAULTS = { stepSize: 0.2, valFraction: 0.2 } as const;
/** The strategies that aggregate with FedDG-GA weights (the hub config's checks and defaults, docs/feddg-ga.md §5). */
export const GA_STRATEGIES: readonly string[] = ['fedavg-ga', 'elcfs-ga'];
export const isGaStrategy = (name: string): boolean => GA_STRATEGIES.includes(name);
/** The metrics a site reports its validation losses in (1 - mean Dice, docs/feddg-ga.md §2). */
export const VAL_LOSS_GLOBAL = 'val_loss_global';
export const VAL_LOSS_LOCAL = 'val_loss_local';

/** The step size used with round r's gaps (1-based, of R rounds): s (1 - (r - 1) / R), from s down to s / R. */
export function gaStep(stepSize: number, round: number, rounds: number): number {
  if (!(round >= 1 && rounds >= 1)) throw new FedSegError('INVALID_ARGUMENT', `gaStep: round ${round} of ${rounds}`);
  return stepSize * Math.max(0, 1 - (round - 1) / rounds);
}

/**
 * One generalisation adjustment: the weights after the gaps of one round. `weights` are the weights the
 * sites had (a site without one enters at 1/K); a site without a gap (undefined) keeps its weight
 * before the renormalisation. Returns weights >= 0 summing to 1 over `sites`.
 */
export function adjustWeights(sites: readonly string[], weights: ReadonlyMap<string, number>, gaps: ReadonlyMap<string, number | undefined>, step: number): Map<string, number> {
  const K = sites.length;
  if (K === 0) return new Map();
  const known = sites.map((k) => gaps.get(k)).filter((g): g is number => g !== undefined && Number.isFinite(g));
  const maxAbs = Math.max(0, ...known.map(Math.abs));
  const w = sites.map((k) => {
    const base = weights.get(k) ?? 1 / K;
    const g = gaps.get(k);
    const moved = g !== undefined && Number.isFinite(g) && maxAbs > 0 ? base + (step / K) * (g / maxAbs) : base;
    return Math.min(1, Math.max(0, moved));
  });
  const total = w.reduce((a, b) => a + b, 0);
  return new Map(sites.map((k, i) => [k, total > 0 ? w[i]! / total : 1 / K]));
}

/**
 * What one round leaves for the next (kept in the hub state, meta `ga/round/<r>`, so a restarted hub that
 * re-runs an open round uses the same inputs): the weight of every site seen so far (a site absent from
 * a round keeps its last weight for when it returns) and the local validation losses of this round.
 */
interface GaRecord {
  weights: Record<string, number>;
  localLoss: Record<string, number>;
}

const recordKey = (round: number) => `ga/round/${round}`;

const numbersIn01 = (o: unknown): o is Record<string, number> =>
  !!o && typeof o === 'object' && Object.values(o).every((v) => typeof v === 'number' && v >= 0 && v <= 1);

function readRecord(state: HubState, round: number): GaRecord | null {
  const raw = state.getMeta(recordKey(round));
  if (!raw) return null;
  try {
    const r = JSON.parse(raw) as Partial<GaRecord> | null;
    return r && numbersIn01(r.weights) && numbersIn01(r.localLoss) ? { weights: r.weights, localLoss: r.localLoss } : null;
  } catch {
    return null;
  }
}

/** The GA aggregator of one round: holds the updates (buffered, checked, clipped) and weighs them at result(). */
class GaAggregator implements Aggregator {
  private readonly inner: Aggregator;
  private readonly reported = new Map<string, { global?: number | undefined; local?: number | undefined }>();
  private readonly perSite = new Map<string, Record<string, number>>();

  constructor(global: NamedArray[], private readonly ctx: StrategyContext, private readonly round: number, private readonly stepSize: number) {
    const st = ctx.state;
    const bounds = new Map(st.listSites().map((x) => [x.name, x.maxSamples]));
    this.inner = createAggregator(global, ctx.config, {
      sampleBound: (site) => bounds.get(site) ?? null,
      audit: (event, site, detail) => st.audit(event, site, null, null, detail),
      log: (l) => ctx.log(l),
      noiseSeed: () => noiseSeedOf(st, ctx.config.dp?.seed),
      weights: (sites) => this.weights(sites),
    });
  }

  get count(): number {
    return this.inner.count;
  }

  get totalSamples(): number {
    return this.inner.totalSamples;
  }

  add(update: NamedArray[], numSamples: number, site?: string, metrics?: Readonly<Record<string, number>>): UpdateVerdict {
    const v = this.inner.add(update, numSamples, site, metrics);
    if (site !== undefined) this.reported.set(site, { global: this.lossOf(metrics, VAL_LOSS_GLOBAL, site), local: this.lossOf(metrics, VAL_LOSS_LOCAL, site) });
    return v;
  }

  result(): NamedArray[] {
    return this.inner.result();
  }

  /** ga_weight (and ga_gap where known) per site, for the round record (after result()). */
  siteMetrics(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.perSite);
  }

  /**
   * A reported validation loss, or undefined when absent or not a number in [0, 1]: a site's own claim,
   * so an absurd value counts as no gap (audited and logged) instead of steering the weights.
   */
  private lossOf(metrics: Readonly<Record<string, number>> | undefined, key: string, site: string): number | undefined {
    const v = metrics?.[key];
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1) return v;
    const detail = `round ${this.round}: ${key} ${String(v)} is not in [0, 1]; ignored by the generalisation adjustment (no gap)`;
    this.ctx.state.audit('ga_loss_ignored', site, null, null, detail);
    this.ctx.log(`site ${site}: ${detail}`);
    return undefined;
  }

  /** This round's weights from the previous round's weights and gaps; recorded for the next round. */
  private weights(held: readonly (string | undefined)[]): number[] {
    const sites = held.map((s, i) => s ?? `#${i}`);
    const prev = this.round > 1 ? readRecord(this.ctx.state, this.round - 1) : null;
    let w: Map<string, number>;
    let gaps = new Map<string, number | undefined>();
    if (!prev) {
      w = new Map(sites.map((k) => [k, 1 / sites.length]));
    } else {
      // Round r-1's gap: L(global_{r-1}), reported now, minus L(local_{r-1}), reported then.
      gaps = new Map(sites.map((k) => {
        const g = this.reported.get(k)?.global;
        const l = prev.localLoss[k];
        return [k, g !== undefined && l !== undefined ? g - l : undefined] as const;
      }));
      const step = gaStep(this.stepSize, this.round - 1, Math.max(this.round - 1, this.ctx.config.rounds ?? 1));
      w = adjustWeights(sites, new Map(Object.entries(prev.weights)), gaps, step);
      const shown = [...sites].sort().map((k) => `${k} ${gaps.get(k) === undefined ? 'n/a' : gaps.get(k)!.toFixed(4)}`).join(', ');
      this.ctx.state.audit('ga_gaps', null, null, null, `round ${this.round - 1} generalisation gaps: ${shown}; step ${step.toPrecision(4)}`);
    }
    const localLoss: Record<string, number> = {};
    for (const k of sites) {
      const l = this.reported.get(k)?.local;
      if (l !== undefined) localLoss[k] = l;
    }
    const record: GaRecord = { weights: { ...prev?.weights, ...Object.fromEntries(w) }, localLoss };
    this.ctx.state.setMeta(recordKey(this.round), JSON.stringify(record));
    for (const k of sites) {
      const g = gaps.get(k);
      this.perSite.set(k, { ga_weight: w.get(k)!, ...(g !== undefined ? { ga_gap: g } : {}) });
    }
    const line = [...sites].sort().map((k) => `${k} ${w.get(k)!.toFixed(4)}`).join(', ');
    this.ctx.log(`round ${this.round}: FedDG-GA weights ${line}`);
    this.ctx.state.audit('ga_weights', null, null, null, `round ${this.round}: ${line}`);
    return sites.map((k) => w.get(k)!);
  }
}

function gaAggregator(ctx: StrategyContext, global: NamedArray[]): Aggregator {
  return new GaAggregator(global, ctx, ctx.state.lastCompletedRound() + 1, ctx.config.gaStepSize ?? GA_DEFAULTS.stepSize);
}

export class FedAvgGaStrategy extends FedAvgStrategy {
  override readonly name: string = 'fedavg-ga';
  override readonly cites: string = 'FedDG-GA, Zhang et al. 2023 (FedAvg local training)';
  override aggregator(global: NamedArray[]): Aggregator {
    return gaAggregator(this.ctx, global);
  }
}

export class ElcfsGaStrategy extends ElcfsStrategy {
  override readonly name: string = 'elcfs-ga';
  override readonly cites: string = 'FedDG-GA, Zhang et al. 2023, with ELCFS local training (Liu et al. 2021)';
  override readonly localMode: Strategy['localMode'] = 'elcfs';
  override aggregator(global: NamedArray[]): Aggregator {
    return gaAggregator(this.ctx, global);
  }
}
