import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryDilation, binaryErosion } from './binary.js';
import { backgroundRing, boundaryRing } from './rings.js';
import { keepLargestComponent, labelComponents4 } from './components.js';
import { FedSegError } from '../contract/errors.js';

const grid = (rows: string[]): Uint8Array => Uint8Array.from(rows.join('').split('').map((c) => (c === '#' ? 1 : 0)));
const show = (m: Uint8Array, w: number): string[] => {
  const out: string[] = [];
  for (let i = 0; i < m.length; i += w) out.push(Array.from(m.subarray(i, i + w), (v) => (v ? '#' : '.')).join(''));
  return out;
};

test('erosion with the 3x3 cross and border 0', () => {
  const m = grid(['###..', '###..', '###..', '.....']);
  assert.deepEqual(show(binaryErosion(m, 4, 5), 5), ['.....', '.#...', '.....', '.....']);
  // Full image erodes from the border inwards (border_value = 0).
  const full = new Uint8Array(25).fill(1);
  assert.deepEqual(show(binaryErosion(full, 5, 5, 2), 5), ['.....', '.....', '..#..', '.....', '.....']);
});

test('dilation with the 3x3 cross, iterations grow a diamond', () => {
  const m = new Uint8Array(25);
  m[12] = 1;
  assert.deepEqual(show(binaryDilation(m, 5, 5), 5), ['.....', '..#..', '.###.', '..#..', '.....']);
  assert.deepEqual(show(binaryDilation(m, 5, 5, 2), 5), ['..#..', '.###.', '#####', '.###.', '..#..']);
});

test('rings', () => {
  const m = grid(['.....', '.###.', '.###.', '.###.', '.....']);
  assert.deepEqual(show(boundaryRing(m, 5, 5), 5), ['.....', '.###.', '.#.#.', '.###.', '.....']);
  assert.deepEqual(show(backgroundRing(m, 5, 5, 1), 5), ['.###.', '#...#', '#...#', '#...#', '.###.']);
});

test('4-connected labels in raster order; diagonal pixels are separate', () => {
  const m = grid(['#.#', '.#.', '##.']);
  const { labels, count } = labelComponents4(m, 3, 3);
  assert.equal(count, 3);
  assert.deepEqual(Array.from(labels), [1, 0, 2, 0, 3, 0, 3, 3, 0]);
  assert.deepEqual(show(keepLargestComponent(m, 3, 3), 3), ['...', '.#.', '##.']);
  assert.deepEqual(Array.from(keepLargestComponent(new Uint8Array(9), 3, 3)), new Array(9).fill(0));
});

test('bad masks throw FedSegError naming the problem', () => {
  assert.throws(() => binaryErosion(new Uint8Array(5), 2, 3), (e: unknown) => e instanceof FedSegError && e.code === 'SHAPE_MISMATCH');
  assert.throws(() => binaryDilation(Uint8Array.from([0, 2, 0, 0]), 2, 2), (e: unknown) => e instanceof FedSegError && /not binary/.test(e.message));
  assert.throws(() => binaryDilation(new Uint8Array(4), 2, 2, 0), /iterations/);
  assert.throws(() => labelComponents4(new Uint8Array(0), 0, 0), FedSegError);
});

test('maskPlane / stackPlanes round trip', async () => {
  const { maskPlane, stackPlanes } = await import('../masks/convert.js');
  const a = Uint8Array.from([1, 0, 1, 1, 0, 0]);
  const b = Uint8Array.from([0, 0, 1, 0, 1, 1]);
  const m = stackPlanes([a, b], 2, 3);
  assert.deepEqual(Array.from(m.data), [1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1]);
  assert.deepEqual(Array.from(maskPlane(m, 1)), Array.from(b));
  assert.throws(() => maskPlane(m, 2), FedSegError);
});
