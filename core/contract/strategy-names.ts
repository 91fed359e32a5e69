// The hub's aggregation strategies by name, for the parties that never import the hub
// (federation-hub/strategies/index.ts registers exactly these; a test keeps the two lists equal):
// the experiment runner (`fedseg experiment --methods`), the app's views, reports.
//   fedavg    FedAvg (docs/algorithms.md §1)
//   elcfs     FedDG / ELCFS: FedAvg + the spectrum bank, episodic local training (docs/algorithms.md §2, §5)
//   fedavg-ga FedDG-GA: FedAvg with weights adjusted from each site's generalisation gap (docs/feddg-ga.md)
//   elcfs-ga  ELCFS local training with the FedDG-GA aggregation (docs/feddg-ga.md)
export const STRATEGY_NAMES = ['fedavg', 'elcfs', 'fedavg-ga', 'elcfs-ga'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** A short label for tables and reports. */
export const STRATEGY_LABELS: Readonly<Record<StrategyName, string>> = {
  fedavg: 'FedAvg',
  elcfs: 'ELCFS',
  'fedavg-ga': 'FedAvg+GA',
  'elcfs-ga': 'ELCFS+GA',
};

export function isStrategyName(s: string): s is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(s);
}
