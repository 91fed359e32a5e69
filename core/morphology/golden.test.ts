// Golden tests against scipy.ndimage (fixtures from scripts/golden/make_golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { binaryDilation, binaryErosion } from './binary.js';
import { labelComponents4 } from './components.js';

interface Case { h: number; w: number; mask: string; erode1: string; erode2: string; dilate1: string; dilate5: string; labels: number[]; count: number }
const { cases } = JSON.parse(readFileSync(new URL('../../test/fixtures/golden/morphology.json', import.meta.url), 'utf8')) as { cases: Case[] };
const fromBits = (s: string): Uint8Array => Uint8Array.from(s, (ch) => (ch === '1' ? 1 : 0));
const toBits = (m: Uint8Array): string => Array.from(m).join('');

test('binary erosion / dilation equal scipy.ndimage defaults (cross, border 0, iterations)', () => {
  assert.ok(cases.length >= 6);
  for (const k of cases) {
    const m = fromBits(k.mask);
    assert.equal(toBits(binaryErosion(m, k.h, k.w, 1)), k.erode1, `erode1 ${k.h}x${k.w}`);
    assert.equal(toBits(binaryErosion(m, k.h, k.w, 2)), k.erode2, `erode2 ${k.h}x${k.w}`);
    assert.equal(toBits(binaryDilation(m, k.h, k.w, 1)), k.dilate1, `dilate1 ${k.h}x${k.w}`);
    assert.equal(toBits(binaryDilation(m, k.h, k.w, 5)), k.dilate5, `dilate5 ${k.h}x${k.w}`);
  }
});

test('labelComponents4 equals scipy.ndimage.label (count and numbering)', () => {
  for (const k of cases) {
    const { labels, count } = labelComponents4(fromBits(k.mask), k.h, k.w);
    assert.equal(count, k.count);
    assert.deepEqual(Array.from(labels), k.labels);
  }
});
