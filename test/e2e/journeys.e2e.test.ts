// End-to-end journeys of a site operator, in Debian's Chromium against the real engine (browser mode,
// a fresh SQLite file) and real hubs on 127.0.0.1:
//   - join with a wrong token, then recover: the working token is kept, a revoked one leaves a plain
//     error from which Join works again (also after a reload);
//   - the dataset chosen on the Federation page is the one the hub hears about;
//   - the Train page shows a running federation as rounds;
//   - the final round's global model is offered first in Segment, never an untrained one;
//   - a second federation with another model size completes;
//   - the Outbox preview, at the hub's own window size, agrees with the bytes the audit log records
//     (after consent to share windows, given on the Federation page);
//   - the Train page follows a running local training across navigation and reload.
// Screenshots go to test-output/screenshots/journey-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { participantData } from '../../core/store/sample-source.js';
import { parseHubConfig, type HubConfigInput } from '../../federation-hub/config.js';
import { Hub } from '../../federation-hub/hub.js';
import { ensureRendererBuilt, openAppPage, shot } from './harness.js';
import { pageSteps } from './page-steps.js';

let dir: string;
let app: BrowserApp;
let browser: Browser;
let page: Page;
let problems: string[];
const hubs: Hub[] = [];
let dsNames: string[] = [];

async function startHub(name: string, extra: Partial<HubConfigInput>): Promise<{ hub: Hub; port: number; token: string }> {
  const hub = new Hub(parseHubConfig({
    host: '127.0.0.1', port: 0, db: join(dir, `${name}.db`), name, minSites: 1, rounds: 2, strategy: 'fedavg', evaluate: 'all', exitWhenDone: false,
    model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 4, seed: 1 }, train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.1, maxStepsPerEpoch: 2 },
    ...extra,
  } as HubConfigInput));
  hubs.push(hub);
  const token = hub.state.addSite('site-a', 'train');
  const port = await hub.listen();
  return { hub, port, token };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-journeys-'));
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite') });
  // Two sites' worth of demo images, of different sizes of training set, so the hub can tell which one a site trains on.
  await app.engine.handlers.generateDemoData({ kind: 'fundus', sites: 2, perSite: 4, size: 32, seed: 7 });
  await app.engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 7, size: 32, seed: 8 });
  dsNames = (await app.engine.handlers.listDatasets({})).map((d) => d.name);
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  for (const h of hubs) await h.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const { byTest, accessible, fedState, goTo, testConnection } = pageSteps(() => page, 'journey');

test('federation: wrong token then recovery; the chosen dataset is the one trained; Train shows the rounds', async () => {
  const { hub, port, token } = await startHub('hub-a', {});
  await goTo('federation');
  // Typed without a scheme: a loopback address becomes ws://.
  await testConnection({ url: `127.0.0.1:${port}`, site: 'site-a', token });
  assert.match((await byTest('fed-report').textContent())!, /hub-a/);
  // A typo in a new token: not saved, the working one stays.
  await byTest('fed-token').fill('not-the-token');
  await byTest('fed-save').click();
  await page.locator('[data-testid=fed-report][data-problem=auth]').waitFor({ timeout: 15_000 });
  assert.match((await byTest('fed-report').textContent())!, /new token was not saved \(the previous one is kept\)/);
  await page.reload();
  await byTest('page-federation').waitFor();
  await page.getByText('(saved; type to replace').waitFor();
  await byTest('fed-test').click();
  await page.locator('[data-testid=fed-report][data-problem=ok]').waitFor({ timeout: 15_000 });

  // The coordinator re-enrols the site: the saved token no longer works. Joining fails in plain words,
  // and Join stays available (also after a reload).
  hub.state.removeSite('site-a');
  const fresh = hub.state.addSite('site-a', 'train');
  const chosen = dsNames[2]!;
  await byTest(`fed-ds-${chosen}`).check();
  await byTest('fed-join').click();
  await fedState('error', 60_000);
  assert.match((await byTest('fed-error').textContent())!, /did not accept this site name and token/);
  assert.doesNotMatch((await byTest('fed-error').textContent())!, /authentication failed/);
  await shot(page, 'journey-01-federation-error');
  await accessible('the Federation page in an error state');
  await page.reload();
  await byTest('fed-join').waitFor();
  await byTest('fed-clear').click();
  await fedState('idle', 30_000);

  // Recovery: the new token, Join (tested first, then saved), and the federation runs to the end.
  void hub.run();
  await byTest('fed-token').fill(fresh);
  await byTest('fed-join').click();
  await fedState(/connecting|connected|training/, 30_000);
  assert.equal(await byTest('fed-joined-datasets').textContent(), chosen);
  // The Train page shows the running participation as rounds.
  await goTo('train');
  await page.locator('[data-testid=train-where]').filter({ hasText: /Round \d of 2|Waiting for the first round/ }).waitFor({ timeout: 30_000 });
  await byTest('train-rounds').waitFor();
  await shot(page, 'journey-02-train-federated');
  await accessible('the Train page following a federation');
  await goTo('federation');
  await fedState('finished', 180_000);
  await byTest('fed-history').waitFor();
  assert.equal(await byTest('fed-history').locator('tbody tr').count(), 2);
  await shot(page, 'journey-03-federation-finished');
  // The hub heard about exactly the chosen dataset's training images.
  const ids = (await app.engine.handlers.listDatasets({})).find((d) => d.name === chosen)!.id;
  const want = participantData(app.engine.store, Number(ids)).train().length;
  const other = participantData(app.engine.store, dsNames[0]!).train().length;
  assert.notEqual(want, other, 'the datasets differ in size, so the count identifies the one trained');
  assert.deepEqual(hub.state.listRounds().filter((r) => r.status === 'done').map((r) => r.numSamples), [want, want]);
  // A finished federation never reads "interrupted" on the Train page.
  await goTo('train');
  const fedRow = byTest('runs').locator('tr', { hasText: 'Federation site-a' }).first();
  await fedRow.getByText('done').waitFor({ timeout: 15_000 });
});

test('segment: the final round\'s global model is offered first, and no untrained model', async () => {
  await goTo('segment');
  const models = byTest('model-select');
  await models.locator('option', { hasText: 'round 2 of 2, final' }).waitFor({ state: 'attached', timeout: 15_000 });
  const labels = await models.locator('option').allTextContents();
  assert.ok(labels.every((l) => !/round 0\b/.test(l)), labels.join(' | '));
  const selected = await models.locator('option:checked').textContent();
  assert.match(selected!, /hub-a · round 2 of 2, final/);
});

test('a second federation with another model size completes', async () => {
  const { hub, port, token } = await startHub('hub-b', { model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 8, seed: 2 } });
  void hub.run();
  await goTo('federation');
  await byTest('fed-url').fill(`ws://127.0.0.1:${port}`);
  await byTest('fed-token').fill(token);
  await byTest('fed-join').click();
  // The page still shows the first federation's 'finished' until the engine answers: wait for the new one to run.
  await byTest('fed-leave').waitFor({ timeout: 30_000 });
  await fedState('finished', 180_000);
  assert.match((await byTest('fed-model').textContent())!, /base 8/);
  assert.equal(hub.state.lastCompletedRound(), 2);
  await goTo('segment');
  const labels = await byTest('model-select').locator('option').allTextContents();
  assert.ok(labels.some((l) => /hub-b · round 2 of 2, final/.test(l)) && labels.some((l) => /hub-a · round 2 of 2, final/.test(l)), labels.join(' | '));
});

test('outbox: the preview at the hub\'s window size agrees with the bytes the audit log records', async () => {
  // ELCFS asks for windows as soon as a site joins; two sites are needed before any round starts.
  const { hub, port, token } = await startHub('hub-c', { strategy: 'elcfs', minSites: 2, train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.2, maxStepsPerEpoch: 2 } });
  await goTo('federation');
  await testConnection({ url: `ws://127.0.0.1:${port}`, token });
  // ELCFS asks for windows: this site consents on the page, up to the hub's window (alpha 0.2: 13x13 on 32x32 images).
  await byTest('share-consent').check();
  await byTest('share-max-alpha').fill('0.2');
  await byTest('share-max-half-width').fill('6');
  await byTest('share-save').click();
  await byTest('share-saved').filter({ hasText: 'within these limits' }).waitFor();
  await goTo('outbox');
  await byTest('outbox-preview-run').click();
  await byTest('outbox-preview-bytes').waitFor();
  assert.match((await byTest('outbox-preview-basis').textContent())!, /hub-c/);
  assert.equal(await byTest('outbox-preview-refusal').count(), 0, 'within the policy given on the page');
  const promised = Number(await byTest('outbox-preview-bytes').getAttribute('data-bytes'));
  await shot(page, 'journey-04-outbox-preview');
  await accessible('the Outbox preview');
  void hub.run();
  await goTo('federation');
  await byTest('fed-join').click();
  const windowsSent = async () => (await app.engine.handlers.listAudit({ direction: 'out', offset: 0, limit: 1000 })).entries.filter((e) => e.kind === 'amplitude-window');
  const t0 = Date.now();
  while ((await windowsSent()).length === 0) {
    if (Date.now() - t0 > 60_000) throw new Error('no amplitude windows were sent');
    await page.waitForTimeout(200);
  }
  const sent = (await windowsSent())[0]!.bytes;
  assert.ok(Math.abs(sent - promised) / sent <= 0.05, `preview ${promised} B vs sent ${sent} B`);
  await byTest('fed-leave').click();
  await fedState('idle', 30_000);
  await goTo('outbox');
  await byTest('audit-table').getByText('amplitude-window').first().waitFor();
  await shot(page, 'journey-05-outbox-audit');
});

test('train: the page follows a running local training across navigation and reload', async () => {
  await goTo('train');
  await byTest('mode-local').click();
  await byTest('train-name').fill('follow me');
  await byTest('train-epochs').fill('200');
  await byTest('train-start').click();
  await page.locator('[data-testid=train-phase]', { hasText: 'training' }).waitFor({ timeout: 60_000 });
  await goTo('datasets');
  await goTo('train');
  await byTest('train-following').getByText('follow me').waitFor({ timeout: 15_000 });
  assert.equal(await byTest('train-name').inputValue(), 'follow me', 'the form shows the running job\'s settings, not a fresh one');
  assert.equal(await byTest('train-epochs').inputValue(), '200');
  await page.reload();
  await byTest('train-following').getByText('follow me').waitFor({ timeout: 15_000 });
  await page.locator('[data-testid=train-step]').filter({ hasText: /^\d+ \/ \d+$/ }).waitFor({ timeout: 30_000 });
  assert.ok(await byTest('train-start').isDisabled());
  const losses = (await byTest('train-losses').textContent())!;
  assert.match(losses, /Total \d\.\d{4}/);
  assert.doesNotMatch(losses, /elapsedMs/);
  await byTest('runs').locator('tr', { hasText: 'follow me' }).getByText('running').waitFor();
  await shot(page, 'journey-06-train-following');
  await accessible('the Train page following a local run');
  const t0 = Date.now();
  await byTest('train-cancel').click();
  await byTest('runs').locator('tr', { hasText: 'follow me' }).getByText('cancelled').waitFor({ timeout: 60_000 });
  assert.ok(Date.now() - t0 < 20_000, `cancel took ${Date.now() - t0} ms`);
  assert.ok(!(await byTest('train-start').isDisabled()));
});

test('the pages raised no errors and no CSP violations', () => {
  assert.deepEqual(problems, []);
});
