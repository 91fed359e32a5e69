// Property tests (fast-check) for the metrics: Dice(x, x) = 1, HD95(x, x) = 0, HD95 symmetric,
// HD95 between the full FH distance transform and a brute-force nearest-surface search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dice } from './dice.js';
import { hd95, surfaceDistancesOf } from './hausdorff.js';
import { binaryErosion } from '../morphology/binary.js';

const RUNS = { numRuns: 60 };
const maskArb = fc
  .record({ h: fc.integer({ min: 1, max: 20 }), w: fc.integer({ min: 1, max: 20 }) })
  .chain(({ h, w }) =>
    fc.record({
      h: fc.constant(h),
      w: fc.constant(w),
      a: fc.uint8Array({ minLength: h * w, maxLength: h * w, min: 0, max: 1 }),
      b: fc.uint8Array({ minLength: h * w, maxLength: h * w, min: 0, max: 1 }),
      sy: fc.constantFrom(1, 0.5, 2.5),
      sx: fc.constantFrom(1, 0.75, 3),
    }),
  )
  .filter(({ a, b }) => a.includes(1) && b.includes(1));

test('Dice(x, x) = 1 and HD95(x, x) = 0', () => {
  fc.assert(
    fc.property(maskArb, ({ h, w, a }) => {
      assert.equal(dice(a, a), 1);
      assert.equal(hd95(a, a, h, w), 0);
    }),
    RUNS,
  );
});

test('HD95 is symmetric and matches brute-force surface distances (with spacing)', () => {
  fc.assert(
    fc.property(maskArb, ({ h, w, a, b, sy, sx }) => {
      const sp: [number, number] = [sy, sx];
      assert.equal(hd95(a, b, h, w, sp), hd95(b, a, h, w, sp));
      const surf = (m: Uint8Array): number[] => {
        const e = binaryErosion(m, h, w);
        const idx: number[] = [];
        m.forEach((v, i) => v && !e[i] && idx.push(i));
        return idx;
      };
      const sa = surf(a);
      const sb = surf(b);
      const got = surfaceDistancesOf(a, b, h, w, sp);
      assert.equal(got.length, sa.length);
      sa.forEach((i, k) => {
        let best = Infinity;
        for (const j of sb) {
          const dy = (Math.floor(i / w) - Math.floor(j / w)) * sy;
          const dx = ((i % w) - (j % w)) * sx;
          best = Math.min(best, Math.sqrt(dy * dy + dx * dx));
        }
        assert.ok(Math.abs(got[k]! - best) < 1e-9, `distance at ${i}: ${got[k]} vs brute force ${best}`);
      });
    }),
    RUNS,
  );
});
