// The hub's strategies by name (config key `strategy`, `fedseg-hub start --strategy NAME`), with what
// the configuration must satisfy for each: exactly core/contract/strategy-names.ts's names.
import { FedSegError } from '../../core/contract/errors.js';
import { ElcfsStrategy } from './elcfs.js';
import { FedAvgStrategy } from './fedavg.js';
import { ElcfsGaStrategy, FedAvgGaStrategy } from './feddg-ga.js';
import type { Strategy, StrategyContext } from './strategy.js';

export interface StrategyDefinition {
  make(ctx: StrategyContext): Strategy;
  /** Fewest train sites per round (quorum) the strategy works with, and why. */
  minSites: number;
  why: string;
}

export const STRATEGIES: Readonly<Record<string, StrategyDefinition>> = {
  fedavg: { make: (ctx) => new FedAvgStrategy(ctx), minSites: 1, why: 'averaging needs one update' },
  elcfs: { make: (ctx) => new ElcfsStrategy(ctx), minSites: 2, why: "each site interpolates towards another site's spectra" },
  'fedavg-ga': { make: (ctx) => new FedAvgGaStrategy(ctx), minSites: 2, why: 'the generalisation adjustment weighs sites against each other' },
  'elcfs-ga': { make: (ctx) => new ElcfsGaStrategy(ctx), minSites: 2, why: "each site interpolates towards another site's spectra, and the adjustment weighs sites against each other" },
};

export function createStrategy(name: string, ctx: StrategyContext): Strategy {
  const def = STRATEGIES[name];
  if (!def) throw new FedSegError('INVALID_ARGUMENT', `unknown strategy '${name}' (known: ${Object.keys(STRATEGIES).join(', ')})`);
  return def.make(ctx);
}
