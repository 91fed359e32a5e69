// The privacy accountant of site-level differential privacy (docs/security.md §8): Rényi DP (Mironov,
// CSF 2017) of the Gaussian mechanism WITHOUT subsampling, because every enrolled train site takes part
// in every round. One round adds N(0, (z C)^2) to the sum of the sites' clipped deltas (each of L2 norm
// <= C), so adding or removing one site moves the sum by at most C and the round is (a, a / (2 z^2))-RDP
// for every order a > 1; R rounds compose to R a / (2 z^2). The conversion to (epsilon, delta) is the
// tight one of Canonne, Kamath & Steinke 2020 (Prop. 12; Balle et al. 2020, Thm 21), as Opacus uses:
//   epsilon = min over a of  rdp(a) + log((a - 1) / a) - (log(delta) + log(a)) / (a - 1)
// on a fixed grid of orders (RDP_ORDERS). Every order gives a valid bound, so the grid only decides how
// tight it is. Pure maths, no I/O: in core/contract because the hub (which may import only
// core/contract/**) and the app both read it; scripts/golden/make_privacy_golden.py checks the numbers.
import type { PrivacyBudget } from './hub-protocol.js';

/** The parameters of site-level DP (hub config `dp`). */
export interface DpParams {
  /** z: the noise standard deviation in units of clipNorm (on the sum of clipped deltas). */
  readonly noiseMultiplier: number;
  /** C: every update's delta is clipped to this L2 norm. */
  readonly clipNorm: number;
  /** The delta of (epsilon, delta)-DP. */
  readonly delta: number;
}

/** Orders a = 1 + 10^(k/100), k = -300..500 (a - 1 from 1e-3 to 1e5); the same grid in the golden script. */
export const RDP_ORDERS: readonly number[] = Array.from({ length: 801 }, (_, i) => 1 + 10 ** ((i - 300) / 100));

/** RDP of one round of the Gaussian mechanism with sensitivity 1 and noise multiplier z, at order a. */
export function gaussianRdp(order: number, noiseMultiplier: number): number {
  return order / (2 * noiseMultiplier * noiseMultiplier);
}

/** (epsilon, delta) from the RDP curve `rdp(a)` over `orders` (the tight conversion above); epsilon >= 0. */
export function rdpToEpsilon(rdp: (order: number) => number, delta: number, orders: readonly number[] = RDP_ORDERS): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  let best = { epsilon: Infinity, order: NaN };
  const logDelta = Math.log(delta);
  for (const a of orders) {
    if (!(a > 1)) continue;
    const eps = rdp(a) + Math.log((a - 1) / a) - (logDelta + Math.log(a)) / (a - 1);
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** epsilon after `rounds` rounds of the Gaussian mechanism with noise multiplier z (no subsampling). */
export function gaussianEpsilon(noiseMultiplier: number, rounds: number, delta: number): { epsilon: number; order: number } {
  if (!(noiseMultiplier > 0)) throw new RangeError(`noiseMultiplier must be > 0, got ${noiseMultiplier}`);
  if (!(Number.isInteger(rounds) && rounds >= 0)) throw new RangeError(`rounds must be a non-negative integer, got ${rounds}`);
  if (rounds === 0) return { epsilon: 0, order: NaN };
  return rdpToEpsilon((a) => rounds * gaussianRdp(a, noiseMultiplier), delta);
}

/** What the hub announces (Welcome.privacy, /status privacy): epsilon of one round and of the whole run. */
export function privacyBudget(dp: DpParams, rounds: number): PrivacyBudget {
  return {
    mechanism: 'gaussian', noiseMultiplier: dp.noiseMultiplier, clipNorm: dp.clipNorm, delta: dp.delta,
    epsilonPerRound: gaussianEpsilon(dp.noiseMultiplier, 1, dp.delta).epsilon,
    epsilonTotal: gaussianEpsilon(dp.noiseMultiplier, rounds, dp.delta).epsilon,
  };
}
