// The Outbox preview judged by the site's own policy (docs/security.md §3), on a real engine and SQLite
// file: without consent it names CONSENT_REQUIRED, beyond the alpha or window-size limit it names
// POLICY_REFUSED with the numbers, within the policy it is null, and the count follows maxWindows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from './engine.js';

let dir: string;
let engine: Engine;
let id: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-frequency-'));
  engine = await createEngine({ dbPath: join(dir, 'site.sqlite'), mode: 'browser' });
  id = (await engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 6, size: 32, seed: 3 })).datasets[0]!.id;
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const policy = (p: { shareSpectra?: boolean; maxAlpha?: number; maxHalfWidth?: number; maxWindows?: number }) =>
  engine.handlers.saveFederationSettings({ hubUrl: '', siteName: 'site-a', policy: p });

test('the preview says when, and why, this site would refuse the request', async () => {
  const h = engine.handlers;
  // 32x32 images: alpha 0.1 gives b = 3, a 7x7 window.
  let out = await h.previewOutgoingWindows({ datasetIds: [id], alpha: 0.1, limit: 2 });
  assert.equal(out.refusal?.code, 'CONSENT_REQUIRED', 'no consent by default');
  assert.match(out.refusal!.message, /has not agreed/);
  assert.equal(out.windows.length, 2, 'the windows are still shown, for the operator to judge');

  await policy({ shareSpectra: true });
  out = await h.previewOutgoingWindows({ datasetIds: [id], alpha: 0.1, limit: 2 });
  assert.equal(out.refusal?.code, 'POLICY_REFUSED');
  assert.match(out.refusal!.message, /alpha 0\.1; this site's policy allows at most 0\.05/);

  await policy({ maxAlpha: 0.2, maxHalfWidth: 2 });
  out = await h.previewOutgoingWindows({ datasetIds: [id], alpha: 0.1, limit: 2 });
  assert.equal(out.halfWidth, 3);
  assert.equal(out.refusal?.code, 'POLICY_REFUSED');
  assert.match(out.refusal!.message, /7x7 windows; its policy allows at most 5x5/);

  const all = out.totalCount;
  await policy({ maxHalfWidth: 3, maxWindows: 2 });
  out = await h.previewOutgoingWindows({ datasetIds: [id], alpha: 0.1, limit: 8 });
  assert.equal(out.refusal, null);
  assert.ok(all > 2);
  assert.equal(out.totalCount, 2, 'no more windows than the policy lets go');
  assert.equal(out.windows.length, 2);
});
