// End-to-end: the real engine on a real SQLite file in browser mode, driven through Debian's Chromium.
// Walks every page as an operator would: demo data, folder import (dry run + import), overlay and
// opacity keys, a short local training with live progress, segmentation with Dice/HD95 (U-Net and ASC
// U-Net side by side, rate field), the frequency page with CFSI preview, a connection test against a
// real hub on loopback (success, bad token, refused) and the outbox. Screenshots of each page go to
// test-output/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { writeBinaryMaskFolder } from '../../core/data/export.js';
import { parseHubConfig } from '../../federation-hub/config.js';
import { Hub } from '../../federation-hub/hub.js';
import { DIST, ensureRendererBuilt, openAppPage, shot, SHOTS } from './harness.js';

let dir: string;
let app: BrowserApp;
let hub: Hub;
let hubUrl: string;
let token: string;
let runHub: Hub;
let browser: Browser;
let page: Page;
let problems: string[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-e2e-'));
  rmSync(SHOTS, { recursive: true, force: true });
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: DIST });
  hub = new Hub(parseHubConfig({ host: '127.0.0.1', port: 0, db: join(dir, 'hub.db'), minSites: 2, exitWhenDone: false, name: 'e2e-hub' }));
  token = hub.state.addSite('site-a', 'train');
  hubUrl = `ws://127.0.0.1:${await hub.listen()}`;
  // A second hub that runs a real (tiny) FedAvg federation with this site alone.
  runHub = new Hub(parseHubConfig({
    host: '127.0.0.1', port: 0, db: join(dir, 'run-hub.db'), name: 'e2e-run-hub', minSites: 1, rounds: 2, mode: 'fedavg', evaluate: 'none', exitWhenDone: false,
    model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 4, seed: 1 }, train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.1, maxStepsPerEpoch: 2 },
  }));
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  await hub?.stop();
  await runHub?.stop();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const byTest = (id: string) => page.getByTestId(id);

test('datasets: empty state, demo data, browse with overlay, opacity keys', async () => {
  await byTest('datasets-empty').waitFor();
  await shot(page, '01-datasets-empty');
  await byTest('demo-open').click();
  const panel = byTest('demo-panel');
  await panel.locator('input[type=number]').nth(1).fill('5');
  await panel.locator('select').nth(1).selectOption('32');
  await byTest('demo-generate').click();
  await byTest('dataset-table').getByText('Demo fundus Domain2').waitFor();
  await byTest('browse-viewer').waitFor();
  await byTest('dataset-stats').getByText('optic cup').waitFor();
  const before = await page.getByText(/Overlay opacity \d+%/).textContent();
  assert.match(before!, /50%/);
  await page.keyboard.press('d');
  await page.getByText('Overlay opacity 60%').waitFor();
  await page.keyboard.press('a');
  await page.keyboard.press('a');
  await page.getByText('Overlay opacity 40%').waitFor();
  await shot(page, '02-datasets-browse');
});

test('datasets: import wizard dry run with thumbnails and problems, then import', async () => {
  const [site] = generateFundusSites({ sites: 1, perSite: 4, size: 32, seed: 11 });
  await writeBinaryMaskFolder({ site: 'hospital-x', samples: site!.samples }, dir, ['-Disc-T', '-Cup-T']);
  writeFileSync(join(dir, 'hospital-x', 'notes.txt'), 'not an image');
  copyFileSync(join(dir, 'hospital-x', 'Domain1-0000.png'), join(dir, 'hospital-x', 'orphan.png'));
  await byTest('import-open').click();
  await byTest('import-path').fill(join(dir, 'hospital-x'));
  await byTest('import-preview').click();
  await byTest('import-thumbs').locator('canvas').first().waitFor();
  assert.equal(await byTest('import-thumbs').locator('.thumb').count(), 4);
  await page.getByText('4 image(s) found, convention').waitFor();
  await byTest('import-wizard').getByText(/skipped orphan\.png/).waitFor();
  await byTest('import-name').fill('Hospital X');
  await shot(page, '03-import-preview');
  await byTest('import-run').click();
  await byTest('dataset-table').getByText('Hospital X').waitFor();
  assert.equal(await byTest('import-wizard').count(), 0);
});

test('train: short local runs with live progress and curves', async () => {
  await byTest('nav-train').click();
  await byTest('page-train').waitFor();
  await byTest('train-name').fill('e2e U-Net');
  await byTest('train-epochs').fill('1');
  await byTest('train-elcfs').check();
  await page.getByText('more options').click();
  await byTest('train-maxsteps').fill('4');
  await byTest('train-start').click();
  await byTest('train-step').getByText(/^[1-4] \/ 4$/).waitFor({ timeout: 60_000 });
  await byTest('runs').getByText('done').waitFor({ timeout: 90_000 });
  await byTest('loss-chart').locator('canvas').first().waitFor();
  const text = (await byTest('train-progress').textContent())!;
  assert.match(text, /wasm|cpu|tensorflow|webgpu/);
  assert.match(text, /Meta-step Dice loss \d\.\d{4}.*Boundary contrastive loss \d/, 'ELCFS loss terms are shown by name');
  await shot(page, '04-train');
  // A second run: ASCNet-7 on cell images, for the rate-field view (2 steps keep it short).
  await page.evaluate(() => (window.location.hash = '#/datasets'));
  await byTest('demo-open').click();
  const panel = byTest('demo-panel');
  await panel.locator('select').first().selectOption('cells');
  await panel.locator('input[type=number]').first().fill('1');
  await panel.locator('input[type=number]').nth(1).fill('4');
  await panel.locator('select').nth(1).selectOption('32');
  await byTest('demo-generate').click();
  await byTest('dataset-table').getByText('Demo cells large').waitFor();
  await byTest('nav-train').click();
  await byTest('train-ds-Demo fundus Domain1').uncheck();
  await byTest('train-ds-Demo fundus Domain2').uncheck();
  await byTest('train-ds-Demo cells large').check();
  await byTest('train-elcfs').uncheck();
  await byTest('train-name').fill('e2e ASCNet');
  await byTest('train-model').selectOption('ascnet-7');
  await page.getByText('more options').click();
  await byTest('train-maxsteps').fill('2');
  await byTest('train-start').click();
  await byTest('runs').locator('tr', { hasText: 'e2e ASCNet' }).getByText('done').waitFor({ timeout: 90_000 });
});

test('segment: run a model, metrics, opacity, outline, zoom; ASCNet rate field', async () => {
  await byTest('nav-segment').click();
  await byTest('page-segment').waitFor();
  await byTest('dataset-select').selectOption({ label: 'Demo fundus Domain1 (5)' });
  const models = byTest('model-select');
  const pick = async (sel: typeof models, text: string) => sel.selectOption({ label: (await sel.locator('option', { hasText: text }).textContent()) ?? '' });
  await models.locator('option', { hasText: 'e2e U-Net' }).waitFor({ state: 'attached' });
  await pick(models, 'e2e U-Net');
  await byTest('segment-run').click();
  await byTest('metrics-a').waitFor({ timeout: 60_000 });
  const dice = await byTest('metrics-a').locator('td.num').first().textContent();
  assert.match(dice!, /^[01]\.\d{3}$/);
  await byTest('opacity').fill('0.8');
  await page.getByText('Opacity 80%').waitFor();
  await byTest('mode-outline').click();
  await page.keyboard.press('+');
  await page.getByText('125%').waitFor();
  await shot(page, '05-segment-unet');
  // An image from a file (no mask): segmentation runs, scores are explained as unavailable.
  await byTest('open-path').fill(join(dir, 'hospital-x', 'orphan.png'));
  await byTest('open-file').click();
  await page.locator('[data-testid=dataset-select] option:checked', { hasText: 'Opened images (colour)' }).waitFor({ state: 'attached' });
  await byTest('segment-run').click();
  await page.getByText('No reference mask for this image, so no scores.').waitFor({ timeout: 30_000 });
  await byTest('dataset-select').selectOption({ label: 'Demo cells large (4)' });
  await pick(models, 'e2e ASCNet');
  await byTest('mode-fill').click();
  await byTest('segment-run').click();
  await byTest('rate-heat').waitFor({ timeout: 60_000 });
  await byTest('rate-heat').check();
  await byTest('histogram').waitFor();
  await byTest('metrics-a').waitFor();
  await shot(page, '06-segment-ascnet-rate');
});

test('frequency: spectrum with window, bank, lambda preview', async () => {
  await byTest('nav-frequency').click();
  await byTest('spectrum').waitFor();
  await byTest('bank-build').click();
  await byTest('bank-select').waitFor({ timeout: 30_000 });
  await byTest('lambda').fill('0.8');
  await page.getByText('λ = 0.80', { exact: false }).first().waitFor();
  await byTest('interp-result').waitFor();
  await shot(page, '07-frequency');
});

test('federation: test connection against a loopback hub (ok, bad token, refused)', async () => {
  await byTest('nav-federation').click();
  await byTest('fed-url').fill(hubUrl);
  await byTest('fed-site').fill('site-a');
  await byTest('fed-token').fill(token);
  await byTest('fed-test').click();
  await page.locator('[data-testid=fed-report][data-problem=ok]').waitFor({ timeout: 15_000 });
  assert.match((await byTest('fed-report').textContent())!, /e2e-hub/);
  await shot(page, '08-federation-ok');
  await byTest('fed-token').fill('wrong-token');
  await byTest('fed-test').click();
  await page.locator('[data-testid=fed-report][data-problem=auth]').waitFor({ timeout: 15_000 });
  await shot(page, '09-federation-bad-token');
  await byTest('fed-url').fill('ws://127.0.0.1:9');
  await byTest('fed-test').click();
  await page.locator('[data-testid=fed-report][data-problem=refused]').waitFor({ timeout: 15_000 });
});

test('federation: join a running federation, follow its rounds, receive the global model', async () => {
  const runToken = runHub.state.addSite('site-a', 'train');
  const url = `ws://127.0.0.1:${await runHub.listen()}`;
  void runHub.run();
  await byTest('fed-url').fill(url);
  await byTest('fed-token').fill(runToken);
  await byTest('fed-ds-Demo fundus Domain1').check();
  await byTest('fed-join').click();
  await byTest('fed-status').getByText('finished', { exact: true }).waitFor({ timeout: 90_000 });
  await byTest('fed-sites').getByText('site-a').waitFor();
  await shot(page, '10-federation-finished');
  // Side-by-side: the local model against the federation's global model, with per-model Dice.
  await byTest('nav-segment').click();
  await byTest('dataset-select').selectOption({ label: 'Demo fundus Domain1 (5)' });
  const models = byTest('model-select');
  await models.locator('option', { hasText: 'e2e U-Net' }).waitFor({ state: 'attached' });
  await models.selectOption({ label: (await models.locator('option', { hasText: 'e2e U-Net' }).textContent()) ?? '' });
  const other = byTest('model-compare');
  await other.selectOption({ label: (await other.locator('option', { hasText: 'Global model' }).first().textContent()) ?? '' });
  await byTest('segment-run').click();
  await byTest('metrics-b').waitFor({ timeout: 60_000 });
  await byTest('segment-viewer-b').waitFor();
  await shot(page, '12-segment-compare');
});

test('outbox: audit log of the federation and preview of shared windows', async () => {
  await byTest('nav-outbox').click();
  await byTest('page-outbox').waitFor();
  await byTest('outbox-preview-run').click();
  await byTest('outbox-preview').locator('canvas').first().waitFor();
  // The last hub reached runs FedAvg, which asks for no windows: the preview says so instead of promising any.
  await byTest('outbox-preview-summary').getByText(/does not ask this site for amplitude windows/).waitFor();
  await byTest('audit-table').getByText('weights-update').first().waitFor();
  await shot(page, '11-outbox');
});

test('the page raised no errors and no CSP violations', () => {
  assert.deepEqual(problems, []);
});
