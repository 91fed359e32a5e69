// The interface every aggregation strategy of the hub implements. A strategy decides what a round
// needs from the sites (ELCFS: their amplitude windows first), what it sends them before local training
// (ELCFS: the spectrum bank), which local training they run (the train_ins mode) and how updates are
// combined. The round runner (round-runner.ts) owns quorum, deadlines, checkpoints and evaluation and
// knows no strategy by name; strategies know no sockets. New strategies (robust aggregators, FedDG-GA)
// are new files registered in strategies/index.ts.
import type { DecodedFrame, HubMessage, TrainMode } from '../../core/contract/hub-protocol.js';
import type { NamedArray } from '../../core/contract/weights.js';
import type { HubState } from '../state.js';
import type { UpdateVerdict } from '../weighted-average.js';
import type { AggregationSettings } from './aggregators.js';

/** What a strategy may know of a connected site. */
export interface StrategySite {
  readonly name: string;
  readonly role: 'train' | 'eval';
  /** The largest message this site accepts (its Hello's capabilities, or the protocol default). */
  readonly maxPayload: number;
  /** Free per-site memory of the strategy (e.g. which bank version was sent). */
  readonly notes: Map<string, unknown>;
}

/**
 * The hub settings strategies read (a part of HubConfig), with how updates are combined and the bounds
 * on any one site's pull (docs/security.md §7-8; strategies/aggregators.ts).
 */
export interface StrategySettings extends AggregationSettings {
  readonly train: { readonly alpha: number };
  readonly model: { readonly inChannels: number };
  /** Windows every source contributes to a bank (docs/security.md §3); 0 = all. */
  readonly spectrumPerSource: number;
  /** The largest window half-width the hub accepts. */
  readonly spectrumMaxHalfWidth: number;
  /** The most windows one site may upload. */
  readonly spectrumMaxWindows: number;
  /** The run's rounds (FedDG-GA's step size decays over them). */
  readonly rounds?: number | undefined;
  /** FedDG-GA's initial step size s (docs/feddg-ga.md §1). */
  readonly gaStepSize?: number | undefined;
}

export interface StrategyContext {
  readonly config: StrategySettings;
  readonly state: HubState;
  log(line: string): void;
  send(site: StrategySite, msg: HubMessage, weights?: NamedArray[] | Uint8Array): void;
  /** Tell the round runner that readiness may have changed. */
  changed(): void;
}

/** Folds validated updates into the new global model. */
export interface Aggregator {
  /**
   * Validates and folds one update in; throws FedSegError('BAD_UPDATE') and changes nothing on a bad one.
   * `site`: who sent it, for its enrolled sample bound and the audit log; `metrics`: what it reported
   * with the update (FedDG-GA reads its validation losses there).
   */
  add(update: NamedArray[], numSamples: number, site?: string, metrics?: Readonly<Record<string, number>>): UpdateVerdict;
  readonly count: number;
  readonly totalSamples: number;
  result(): NamedArray[];
  /**
   * Per-site values the strategy adds to the round's record after result() (FedDG-GA: ga_weight,
   * ga_gap), shown with the site's reported metrics.
   */
  siteMetrics?(): Record<string, Record<string, number>>;
}

export interface Strategy {
  /** The name in configs, the status page and the audit log. */
  readonly name: string;
  /** The paper it follows, for people. */
  readonly cites: string;
  /** What sites run locally each round. */
  readonly localMode: TrainMode;
  /** A train site may take part in the next round. */
  ready(site: StrategySite): boolean;
  /** Whether a newly joined train site still owes the strategy something (reported in Welcome). */
  owes(site: StrategySite): boolean;
  /** Called once a site was welcomed (strategy-specific requests go out here). */
  onJoin(site: StrategySite): void;
  /** Called right before a site is sent its train_ins. */
  beforeTrain(site: StrategySite): void;
  /** A message only the strategy understands; false when it is not one. Throws to reject it. */
  onMessage(site: StrategySite, frame: DecodedFrame): boolean;
  /** A fresh aggregator for one round starting from `global`. */
  aggregator(global: NamedArray[]): Aggregator;
}
