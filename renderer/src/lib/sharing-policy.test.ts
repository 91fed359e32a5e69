import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubInfo } from '../../../core/contract/app-api.js';
import { DEFAULT_SITE_POLICY, refuseSpectrumRequest, refuseTraining, SitePolicySchema } from '../../../core/contract/site-policy.js';
import { checkLimits, consentDate, formatNumber, hubRequestNote, LIMIT_BOUNDS, limitWords, privacyWords, refusalFrom, windowSide, type LimitField } from './sharing-policy.js';

const hub: HubInfo = { name: 'hub-x', strategy: 'elcfs', round: 0, totalRounds: 2, model: 'unet', inChannels: 3, alpha: 0.1, sharesWindows: true, privacy: null };

test('limits in words: the default half-width is a 9 x 9 window', () => {
  assert.equal(windowSide(4), '9 x 9');
  assert.equal(windowSide(0), '1 x 1');
  const w = limitWords(DEFAULT_SITE_POLICY);
  assert.equal(w.halfWidth, 'largest window: 9 x 9 values per channel');
  assert.equal(w.windows, 'at most 10,000 windows (one per training image)');
  assert.equal(w.alpha, 'windows of at most 5 % of the image side (alpha 0.05)');
  assert.equal(limitWords({ ...DEFAULT_SITE_POLICY, maxWindows: 1 }).windows, 'at most 1 window (one per training image)');
});

test('privacy: noise with its budget, or none', () => {
  assert.equal(privacyWords(null), 'This hub does not add privacy noise.');
  assert.equal(privacyWords({ epsilonPerRound: 4.7312, epsilonTotal: 96.04, delta: 1e-5, noiseMultiplier: 1 }),
    'This hub adds noise for differential privacy: epsilon 4.73 per round, 96 in total (delta 1e-5).');
  assert.equal(formatNumber(123.6), '124');
  assert.equal(formatNumber(0.5), '0.5');
  assert.equal(formatNumber(0), '0');
});

test('the saved hub\'s request: consent first, then the alpha limit, nothing for a hub that asks no windows', () => {
  assert.equal(hubRequestNote(null, DEFAULT_SITE_POLICY), null);
  assert.equal(hubRequestNote({ ...hub, sharesWindows: false }, DEFAULT_SITE_POLICY), null);
  const c = hubRequestNote(hub, DEFAULT_SITE_POLICY)!;
  assert.equal(c.kind, 'consent');
  assert.match(c.text, /hub-x.*will not take part in this federation until it consents/);
  const a = hubRequestNote(hub, { shareSpectra: true, maxAlpha: 0.05 })!;
  assert.equal(a.kind, 'alpha');
  assert.match(a.text, /alpha 0\.1; this site allows at most 0\.05/);
  assert.equal(hubRequestNote(hub, { shareSpectra: true, maxAlpha: 0.1 }), null);
});

test('a refusal in the status message is read back in words, with the engine\'s reason', () => {
  // The engine's own wording (core/app/federation.ts onSite: "refused the hub's <request>: <why>").
  const ins = { kind: 'spectrum_ins' as const, alpha: 0.1, maxWindows: 10000, maxHalfWidth: 6 };
  const why = refuseSpectrumRequest(DEFAULT_SITE_POLICY, 'train', ins)!.message;
  const r = refusalFrom(`refused the hub's spectrum_ins (alpha 0.1, up to 10000 windows): ${why}`)!;
  assert.deepEqual(r, { request: 'request for amplitude windows (alpha 0.1, up to 10000 windows)', why, windows: true });
  const t = refusalFrom(`refused the hub's train_ins for round 2: ${refuseTraining('eval', 'train_ins')!.message}`)!;
  assert.equal(t.request, 'request to train');
  assert.equal(t.windows, false);
  assert.match(t.why, /unseen \(eval\) site/);
  assert.equal(refusalFrom('connected to hub-x'), null);
  assert.equal(refusalFrom('kept the global model of round 1 (Segment lists it)'), null);
});

test('typed limits: numbers within the policy\'s bounds pass, anything else is named', () => {
  assert.deepEqual(checkLimits({ maxAlpha: 0.1, maxHalfWidth: 6, maxWindows: 500 }), { ok: true, value: { maxAlpha: 0.1, maxHalfWidth: 6, maxWindows: 500 } });
  assert.deepEqual(checkLimits({ maxAlpha: '0.2', maxHalfWidth: '3', maxWindows: '7' }), { ok: true, value: { maxAlpha: 0.2, maxHalfWidth: 3, maxWindows: 7 } });
  const bad = checkLimits({ maxAlpha: 0.7, maxHalfWidth: 2.5, maxWindows: null });
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.match(bad.errors.maxAlpha!, /alpha\) must be between 0 and 0\.5/);
  assert.match(bad.errors.maxHalfWidth!, /whole number/);
  assert.match(bad.errors.maxWindows!, /must be a number/);
  const zero = checkLimits({ maxAlpha: 0, maxHalfWidth: 0, maxWindows: 0 });
  assert.ok(!zero.ok && zero.errors.maxWindows && !zero.errors.maxAlpha && !zero.errors.maxHalfWidth);
});

test('the consent date is shown only when consent was given', () => {
  assert.equal(consentDate(null), null);
  assert.equal(consentDate('2026-12-01T10:00:00.000Z'), new Date('2026-12-01T10:00:00.000Z').toLocaleString());
});

test('the page\'s bounds are the policy schema\'s: what passes here is what the engine saves', () => {
  for (const k of Object.keys(LIMIT_BOUNDS) as LimitField[]) {
    const b = LIMIT_BOUNDS[k];
    const ok = (v: number) => SitePolicySchema.safeParse({ ...DEFAULT_SITE_POLICY, [k]: v }).success;
    const step = b.integer ? 1 : 1e-9;
    assert.ok(ok(b.min) && ok(b.max), `${k}: ${b.min} and ${b.max} are allowed`);
    assert.ok(!ok(b.min - step) && !ok(b.max + step), `${k}: just outside [${b.min}, ${b.max}] is refused`);
    assert.equal(checkLimits({ ...DEFAULT_SITE_POLICY, [k]: b.max + step }).ok, false);
    if (b.integer) assert.ok(!ok(b.min + 0.5));
  }
});
