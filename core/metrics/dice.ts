// Dice coefficient of two binary masks (docs/algorithms.md §6): Dice = 2 |G n P| / (|G| + |P|).
// Empty-mask policy: both empty -> 1 (perfect agreement on "nothing there"); one empty -> 0.
// (medpy's dc returns nan for two empty masks; FedSeg defines it, see docs/numerics.md.)
import { FedSegError } from '../contract/errors.js';

function checkPair(a: Uint8Array, b: Uint8Array, fn: string): void {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: masks must be Uint8Array of 0/1 values`);
  }
  if (a.length !== b.length) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: masks differ in size (${a.length} vs ${b.length} pixels)`);
  }
}

/** Dice of two 0/1 masks of equal length. Throws on mismatched sizes or non-binary values. */
export function dice(a: Uint8Array, b: Uint8Array): number {
  checkPair(a, b, 'dice');
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x > 1 || y > 1) {
      throw new FedSegError('INVALID_INPUT', `dice: ${x > 1 ? 'first' : 'second'} mask is not binary (value ${x > 1 ? x : y} at index ${i})`);
    }
    inter += x & y;
    sa += x;
    sb += y;
  }
  if (sa + sb === 0) return 1;
  return (2 * inter) / (sa + sb);
}
