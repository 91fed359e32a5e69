// k-fold cross-validation folds for the ASCNet experiment on a stored dataset (docs/ascnet.md
// "Cross-validation on a stored dataset"; docs/algorithms.md §8: the paper's Table 1 numbers are the
// targets, a fold-to-fold spread says which differences are noise). Every image is in exactly one test
// fold; the assignment is a seeded permutation (core/rng.ts), dealt round-robin, so fold sizes differ
// by at most one and the same seed always gives the same folds.
import { FedSegError } from '../contract/errors.js';
import { createRng } from '../rng.js';

/** fold[i] in [0, k) for each of the n images. */
export function assignFolds(n: number, k: number, seed: number): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new FedSegError('INVALID_ARGUMENT', `folds: need at least 2 folds, got ${k}`);
  if (!Number.isInteger(n) || n < k) throw new FedSegError('INVALID_INPUT', `folds: ${k} folds need at least ${k} images, the dataset has ${n}`);
  const order = createRng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const fold = new Int32Array(n);
  order.forEach((img, pos) => (fold[img] = pos % k));
  return fold;
}

/** Image indices (ascending) held out in fold f, and those trained on. */
export function foldSplit(fold: Int32Array, f: number): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  fold.forEach((g, i) => (g === f ? test : train).push(i));
  if (test.length === 0) throw new FedSegError('INVALID_ARGUMENT', `folds: fold ${f} is empty`);
  return { train, test };
}
