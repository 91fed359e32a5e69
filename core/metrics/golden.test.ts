// Golden tests against medpy's hd95/asd/dc (re-implemented with scipy in scripts/golden/make_golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { asd, hd95 } from './hausdorff.js';
import { dice } from './dice.js';

interface Case { name: string; h: number; w: number; a: string; b: string; spacing: [number, number] | null; hd95: number; hd95ba: number; asd: number; asdba: number; dice: number }
const { cases } = JSON.parse(readFileSync(new URL('../../test/fixtures/golden/hd95.json', import.meta.url), 'utf8')) as { cases: Case[] };
const fromBits = (s: string): Uint8Array => Uint8Array.from(s, (ch) => (ch === '1' ? 1 : 0));
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: got ${a}, want ${b}`);

test('hd95 / asd / dice equal medpy on random and edge-case pairs (border, single pixel, disjoint, spacing)', () => {
  assert.ok(cases.length >= 15);
  for (const k of cases) {
    const a = fromBits(k.a);
    const b = fromBits(k.b);
    const sp = k.spacing ?? undefined;
    close(hd95(a, b, k.h, k.w, sp), k.hd95, `${k.name} hd95`);
    close(hd95(b, a, k.h, k.w, sp), k.hd95ba, `${k.name} hd95 reversed`);
    close(asd(a, b, k.h, k.w, sp), k.asd, `${k.name} asd`);
    close(asd(b, a, k.h, k.w, sp), k.asdba, `${k.name} asd reversed`);
    close(dice(a, b), k.dice, `${k.name} dice`);
  }
});
