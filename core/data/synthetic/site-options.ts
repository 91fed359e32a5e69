// Validation of the options shared by the multi-site synthetic generators (fundus.ts, prostate.ts):
// every generator takes `sites`, `perSite`, `size` and `seed`, with the same bounds and
// the same FedSegError messages; a generator's own integer options are checked in between.
import { FedSegError } from '../../contract/errors.js';

export interface SiteOptions {
  sites: number;
  perSite: number;
  size: number;
  seed: number;
}

/** An extra integer option: [name, value, lo, hi] (inclusive bounds). */
export type IntOption = [name: string, value: number, lo: number, hi: number];

/**
 * Throws INVALID_ARGUMENT naming `what` and the first bad option, checked in this order: sites in
 * [1, 64], perSite in [1, 100000], size in [16, 2048], then `extra` in order, then seed finite.
 */
export function checkSiteOptions(o: SiteOptions, what: string, extra: readonly IntOption[] = []): void {
  const ints: IntOption[] = [['sites', o.sites, 1, 64], ['perSite', o.perSite, 1, 100000], ['size', o.size, 16, 2048], ...extra];
  for (const [n, v, lo, hi] of ints) {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new FedSegError('INVALID_ARGUMENT', `${what}: ${n} must be an integer in [${lo}, ${hi}], got ${v}`);
    }
  }
  if (!Number.isFinite(o.seed)) throw new FedSegError('INVALID_ARGUMENT', `${what}: seed must be finite, got ${o.seed}`);
}
