// Fold assignment: deterministic for a seed, different for another seed, every image in exactly one
// test fold, fold sizes within one of each other, train and test disjoint; too few images is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignFolds, foldSplit } from './folds.js';

test('folds are deterministic, disjoint, balanced and cover every image', () => {
  const a = assignFolds(23, 5, 7);
  assert.deepEqual(a, assignFolds(23, 5, 7));
  assert.notDeepEqual(a, assignFolds(23, 5, 8));
  const sizes = [0, 0, 0, 0, 0];
  for (const f of a) sizes[f]!++;
  assert.deepEqual([...sizes].sort(), [4, 5, 5, 5, 4].sort());
  const seen = new Set<number>();
  for (let f = 0; f < 5; f++) {
    const { train, test: held } = foldSplit(a, f);
    assert.equal(train.length + held.length, 23);
    assert.ok(held.every((i) => !train.includes(i)), 'train and test are disjoint');
    for (const i of held) {
      assert.ok(!seen.has(i), `image ${i} is held out twice`);
      seen.add(i);
    }
  }
  assert.equal(seen.size, 23, 'every image is held out once');
  // Not simply the identity order.
  assert.notDeepEqual([...a], Array.from({ length: 23 }, (_, i) => i % 5));
});

test('folds: too few images or folds are errors', () => {
  assert.throws(() => assignFolds(3, 5, 0), /5 folds need at least 5 images, the dataset has 3/);
  assert.throws(() => assignFolds(10, 1, 0), /at least 2 folds/);
});
