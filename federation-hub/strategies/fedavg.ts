// FedAvg (McMahan et al., AISTATS 2017 "Communication-Efficient Learning of Deep Networks from
// Decentralized Data"; docs/algorithms.md §1): each round every ready train site trains locally from
// the global model and the hub averages by sample count, theta = sum_k (N_k / N) theta_k, with every
// update checked (names, shapes, finite values), its count bounded and its share and delta capped, or
// combined by a robust aggregator or with DP noise (strategies/aggregators.ts, docs/security.md §7).
// Needs nothing from the sites beyond their updates.
import { FedSegError } from '../../core/contract/errors.js';
import type { NamedArray } from '../../core/contract/weights.js';
import { createAggregator, noiseSeedOf } from './aggregators.js';
import type { Aggregator, Strategy, StrategyContext, StrategySite } from './strategy.js';

export class FedAvgStrategy implements Strategy {
  readonly name: string = 'fedavg';
  readonly cites: string = 'FedAvg, McMahan et al. 2017';
  readonly localMode: Strategy['localMode'] = 'fedavg';

  constructor(protected readonly ctx: StrategyContext) {}

  ready(_site: StrategySite): boolean {
    return true;
  }

  owes(_site: StrategySite): boolean {
    return false;
  }

  onJoin(_site: StrategySite): void {}

  beforeTrain(_site: StrategySite): void {}

  onMessage(_site: StrategySite, frame: { msg: { kind: string } }): boolean {
    if (frame.msg.kind === 'spectrum_res') throw new FedSegError('PROTOCOL_ERROR', `this run does not use spectra (${this.name} strategy)`);
    return false;
  }

  /** The round's aggregator (strategies/aggregators.ts: bounds, clip, mean/median/trimmed mean, DP; docs/security.md §7-8). */
  aggregator(global: NamedArray[]): Aggregator {
    const c = this.ctx.config;
    const st = this.ctx.state;
    const bounds = new Map(st.listSites().map((x) => [x.name, x.maxSamples]));
    // What a stopped hub's status reports (federation-hub/status.ts); never the seed.
    st.setMeta('dp', c.dp ? JSON.stringify({ noiseMultiplier: c.dp.noiseMultiplier, clipNorm: c.dp.clipNorm, delta: c.dp.delta }) : '');
    return createAggregator(global, c, {
      sampleBound: (site) => bounds.get(site) ?? null,
      audit: (event, site, detail) => st.audit(event, site, null, null, detail),
      log: (l) => this.ctx.log(l),
      noiseSeed: () => noiseSeedOf(st, c.dp?.seed),
    });
  }
}
