// The optimiser a run continues with: its stored Adam state when that state belongs to this network
// (same weight names and shapes), else a fresh Adam with the network's defaults (docs/algorithms.md
// §1: lr 1e-3, betas 0.9/0.999 for the U-Nets; §7: beta2 0.9, eps 1e-7 for the softmax networks).
// The learning rate is the run's.
import type { NamedArray } from '../contract/weights.js';
import type { Network } from '../models/registry.js';
import { Adam } from '../train/adam.js';
import { SOFTMAX_ADAM } from '../train/softmax-step.js';

export function optimiserFor(net: Network, lr: number, stored: NamedArray[] | null): Adam {
  if (stored) {
    const a = Adam.fromNamedArrays(stored, { lr });
    if (a.mismatch(net.shapes) === null) return a;
    a.dispose();
  }
  return new Adam(net.output === 'softmax' ? { ...SOFTMAX_ADAM, lr } : { lr });
}
