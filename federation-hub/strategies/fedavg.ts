// FedAvg (McMahan et al., AISTATS 2017 "Communication-Efficient Learning of Deep Networks from
// Decentralized Data"; docs/algorithms.md §1): each round every ready train site trains locally from
// the global model and the hub averages by sample count, theta = sum_k (N_k / N) theta_k, with every
// update checked (names, shapes, finite values) and optionally norm-clipped (weighted-average.ts).
// Needs nothing from the sites beyond their updates.
import { FedSegError } from '../../core/contract/errors.js';
import type { NamedArray } from '../../core/contract/weights.js';
import { FedAvgAccumulator } from '../weighted-average.js';
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

  aggregator(global: NamedArray[]): Aggregator {
    return new FedAvgAccumulator(global, this.ctx.config.clipNorm);
  }
}
