// The site's sharing policy through the app (docs/security.md §3, §8), in Debian's Chromium against the
// real engine (browser mode, a fresh SQLite file) and a real ELCFS hub on 127.0.0.1 that adds
// differential-privacy noise, with a second site (another real engine on its own SQLite file, joined
// through the app API with consent) since ELCFS needs two:
//   - without consent, joining: the Federation page says in words that this site refused the hub's
//     request for amplitude windows and why, the Outbox preview says it would be refused, and neither
//     the audit log nor the hub holds a window from this site;
//   - after consenting (and raising the alpha limit to the hub's) on the page, joining again sends the
//     windows and the federation runs to its end;
//   - withdrawn consent is saved (a reload shows it off, without a date);
//   - the section keeps WCAG AA contrast, names its canvases and works from the keyboard.
// Screenshots go to test-output/screenshots/policy-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { parseHubConfig, type HubConfigInput } from '../../federation-hub/config.js';
import { Hub } from '../../federation-hub/hub.js';
import { ensureRendererBuilt, openAppPage, shot } from './harness.js';
import { pageSteps } from './page-steps.js';

let dir: string;
let app: BrowserApp;
let other: BrowserApp;
let browser: Browser;
let page: Page;
let problems: string[];
let hub: Hub;
let port: number;
let token: string;
// The hub's log lines, shown when a wait for a federation state fails.
const hubLog: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-policy-'));
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite') });
  await app.engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 4, size: 32, seed: 7 });
  // Alpha 0.1 on 32x32 images asks for 7x7 windows: within the default size limit, beyond the default alpha limit.
  hub = new Hub(parseHubConfig({
    host: '127.0.0.1', port: 0, db: join(dir, 'hub.db'), name: 'hub-p', minSites: 2, rounds: 1, strategy: 'elcfs', evaluate: 'none', exitWhenDone: false,
    model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 4, seed: 1 }, train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.1, maxStepsPerEpoch: 2 },
    dp: { noiseMultiplier: 2, clipNorm: 1, seed: 5 },
  } as HubConfigInput), (l) => hubLog.push(`${new Date().toISOString().slice(11, 23)} ${l}`));
  token = hub.state.addSite('site-a', 'train');
  const tokenB = hub.state.addSite('site-b', 'train');
  port = await hub.listen();
  void hub.run();
  // The other site consents and waits for this one.
  other = await startBrowserApp({ dbPath: join(dir, 'other.sqlite') });
  const [ds] = (await other.engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 4, size: 32, seed: 9 })).datasets;
  const s = await other.engine.handlers.saveFederationSettings({ hubUrl: `127.0.0.1:${port}`, siteName: 'site-b', token: tokenB, datasetIds: [ds!.id], policy: { shareSpectra: true, maxAlpha: 0.1 } });
  assert.ok(s.report?.ok, s.report?.message);
  await other.engine.handlers.joinFederation({ datasetIds: [ds!.id] });
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  await hub?.stop();
  await other?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const { byTest, goTo, accessible, fedState, testConnection } = pageSteps(() => page, 'policy', async () => {
  const b = await other.engine.handlers.getFederationStatus({});
  return `the other site: ${b.state} '${b.message}'\nthe hub's log:\n${hubLog.join('\n')}`;
});
const sentKinds = async () => (await app.engine.handlers.listAudit({ direction: 'out', offset: 0, limit: 1000 })).entries.map((e) => [e.kind, e.summary] as const);

test('without consent: the join is refused in words, and no window leaves the site', async () => {
  await goTo('federation');
  await testConnection({ url: `127.0.0.1:${port}`, site: 'site-a', token });
  // The saved hub asks for windows and consent is missing: the page says what that means.
  await page.locator('[data-testid=share-hub-note][data-kind=consent]').waitFor();
  assert.match((await byTest('share-hub-note').textContent())!, /hub-p.*will not take part in this federation until it consents/);
  assert.match((await byTest('share-privacy').textContent())!, /^This hub adds noise for differential privacy: epsilon \d[\d.]* per round, \d[\d.]* in total \(delta 1e-5\)\.$/);
  assert.match((await byTest('share-consent-state').textContent())!, /No consent given/);
  assert.equal(await byTest('share-consent').isChecked(), false);

  await byTest('fed-join').click();
  await byTest('fed-refusal').waitFor({ timeout: 60_000 });
  const said = (await byTest('fed-refusal').textContent())!;
  assert.match(said, /This site refused the hub's request for amplitude windows \(alpha 0\.1, .*\) because the operator of this site has not agreed/);
  assert.match(said, /does not take part in this federation without them/);
  await shot(page, 'policy-01-refused');
  await accessible('the Federation page after a refusal');

  const sent = await sentKinds();
  assert.ok(!sent.some(([k]) => k === 'amplitude-window'), JSON.stringify(sent));
  assert.ok(sent.some(([k, s]) => k === 'error' && /^CONSENT_REQUIRED: site site-a refused spectrum_ins/.test(s)), JSON.stringify(sent));
  assert.equal(hub.state.hasSpectra('site-a'), false);

  // The Outbox: the error the site sent, the policy in force, and a preview that says it would be refused.
  await goTo('outbox');
  await byTest('audit-table').getByText('CONSENT_REQUIRED', { exact: false }).first().waitFor();
  assert.equal(await byTest('audit-table').getByText('amplitude-window').count(), 0);
  assert.match((await byTest('outbox-policy-consent').textContent())!, /not given/);
  assert.match((await byTest('outbox-policy-limits').textContent())!, /largest window: 9 x 9 values per channel/);
  await byTest('outbox-preview-run').click();
  await page.locator('[data-testid=outbox-preview-refusal][data-code=CONSENT_REQUIRED]').waitFor();
  await accessible('the Outbox preview of a refused request');
  await shot(page, 'policy-02-outbox-refused');
});

test('after consent on the page, joining again sends the windows and the federation runs', async () => {
  await goTo('federation');
  await byTest('fed-leave').click();
  await fedState('idle', 30_000);
  await byTest('share-consent').check();
  await byTest('share-max-alpha').fill('0.1');
  await byTest('share-unsaved').waitFor();
  await byTest('share-save').click();
  await byTest('share-saved').filter({ hasText: 'this site shares amplitude windows within these limits' }).waitFor();
  assert.match((await byTest('share-consent-state').textContent())!, /Consent given on /);
  assert.equal(await byTest('share-hub-note').count(), 0, 'consent given and the hub\'s alpha allowed: no warning left');
  const saved = await app.engine.handlers.getFederationSettings({});
  assert.equal(saved.policy.shareSpectra, true);
  assert.equal(saved.policy.maxAlpha, 0.1);
  assert.ok(saved.policy.consentedAt && Date.parse(saved.policy.consentedAt) > Date.now() - 5 * 60_000);
  assert.equal(saved.hubUrl, `127.0.0.1:${port}`, 'saving the policy keeps the hub address');

  await byTest('fed-join').click();
  await byTest('fed-leave').waitFor({ timeout: 30_000 });
  await fedState('finished', 180_000);
  assert.equal(await byTest('fed-refusal').count(), 0, 'the earlier refusal belongs to the earlier participation');
  assert.equal(await byTest('fed-history').locator('tbody tr').count(), 1);
  const windows = (await sentKinds()).filter(([k]) => k === 'amplitude-window');
  assert.equal(windows.length, 1);
  assert.match(windows[0]![1], /amplitude windows 3x7x7/);
  assert.equal(hub.state.hasSpectra('site-a'), true);
  assert.equal(hub.state.lastCompletedRound(), 1);
  await shot(page, 'policy-03-consented-finished');
});

test('withdrawn consent is saved: a reload shows it off', async () => {
  await byTest('share-consent').uncheck();
  await byTest('share-save').click();
  await byTest('share-saved').filter({ hasText: 'this site shares no amplitude windows' }).waitFor();
  await page.reload();
  await byTest('share-consent-state').filter({ hasText: 'No consent given' }).waitFor();
  assert.equal(await byTest('share-consent').isChecked(), false);
  assert.equal(await byTest('share-max-alpha').inputValue(), '0.1', 'the limits are kept');
  const saved = await app.engine.handlers.getFederationSettings({});
  assert.deepEqual([saved.policy.shareSpectra, saved.policy.consentedAt], [false, null]);
});

test('the section is readable, named and usable from the keyboard', async () => {
  // A limit out of range is named next to its field, and nothing is saved.
  await byTest('share-max-windows').fill('0');
  await byTest('share-save').click();
  await byTest('share-failure').waitFor();
  assert.equal(await byTest('share-max-windows').getAttribute('aria-invalid'), 'true');
  assert.match((await byTest('share-policy').textContent())!, /The number of windows must be between 1 and 100,000\./);
  assert.equal((await app.engine.handlers.getFederationSettings({})).policy.maxWindows, 10000);
  // The words follow the typed size.
  await byTest('share-max-half-width').fill('6');
  await byTest('share-size-words').filter({ hasText: 'largest window: 13 x 13 values per channel' }).waitFor();
  await accessible('the sharing section with a field error');
  await shot(page, 'policy-04-section');
  // Every control has a name; the consent switch toggles with Space and the section saves with Enter.
  for (const id of ['share-consent', 'share-max-alpha', 'share-max-half-width', 'share-max-windows']) {
    const name = await byTest(id).evaluate((el) => (el as HTMLInputElement).labels?.[0]?.textContent?.trim() ?? '');
    assert.ok(name.length > 3, `${id} has a label`);
  }
  await byTest('share-max-windows').fill('500');
  await byTest('share-consent').focus();
  await page.keyboard.press('Space');
  assert.equal(await byTest('share-consent').isChecked(), true);
  await byTest('share-save').focus();
  await page.keyboard.press('Enter');
  await byTest('share-saved').filter({ hasText: 'within these limits' }).waitFor();
  const p = (await app.engine.handlers.getFederationSettings({})).policy;
  assert.deepEqual([p.shareSpectra, p.maxHalfWidth, p.maxWindows], [true, 6, 500]);
});

test('the pages raised no errors and no CSP violations', () => {
  assert.deepEqual(problems, []);
});
