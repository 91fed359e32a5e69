// A coordinator compares methods on the Train page, in Debian's Chromium against the real engine
// (browser mode, a fresh SQLite file): three demo datasets as three sites, FedAvg vs ELCFS with the
// second dataset unseen, 1 round, 1 seed (every run a real hub and site processes). Start is refused
// with a reason below 3 datasets; progress and then both tables appear; after a reload the page shows
// the same finished comparison (the engine owns it). Screenshots: test-output/screenshots/compare-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { ensureRendererBuilt, openAppPage, shot } from './harness.js';
import { pageSteps } from './page-steps.js';

let dir: string;
let app: BrowserApp;
let browser: Browser;
let page: Page;
let problems: string[];
let names: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-compare-e2e-'));
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite') });
  await app.engine.handlers.generateDemoData({ kind: 'fundus', sites: 3, perSite: 3, size: 32, seed: 4 });
  names = (await app.engine.handlers.listDatasets({})).map((d) => d.name);
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const { byTest, accessible, goTo } = pageSteps(() => page, 'compare');

test('Compare methods: refused below 3 datasets, then runs FedAvg vs ELCFS and shows the tables, also after a reload', { timeout: 300_000 }, async () => {
  await goTo('train');
  const panel = byTest('compare');
  await panel.waitFor();
  await byTest(`cmp-ds-${names[0]}`).check();
  await byTest(`cmp-ds-${names[1]}`).check();
  assert.equal(await byTest('cmp-start').isDisabled(), true);
  assert.match((await byTest('cmp-why').textContent())!, /at least 3 datasets/);
  await byTest(`cmp-ds-${names[2]}`).check();
  await byTest('cmp-seeds').fill('1');
  await byTest('cmp-rounds').fill('1');
  await byTest('cmp-unseen').selectOption({ label: names[1]! });
  await byTest('cmp-start').click();
  await byTest('cmp-state').filter({ hasText: /running/ }).waitFor({ timeout: 30_000 });
  await shot(page, 'compare-01-running');
  await byTest('cmp-state').filter({ hasText: /done/ }).waitFor({ timeout: 240_000 });
  const rows = await byTest('cmp-results').locator('tbody tr').allTextContents();
  assert.equal(rows.length, 2, rows.join(' | '));
  assert.ok(rows[0]!.includes(names[1]!) && rows[0]!.includes('FedAvg') && rows[1]!.includes('ELCFS'), rows.join(' | '));
  assert.match((await byTest('cmp-diffs').textContent())!, /ELCFS − FedAvg/);
  assert.match((await byTest('cmp-report').textContent())!, /report\.html$/);
  assert.match((await byTest('cmp-state').textContent())!, /2 of 2 runs/);
  await shot(page, 'compare-02-done');
  await accessible('the Compare methods panel with results');
  await page.reload();
  await goTo('train');
  await byTest('cmp-results').waitFor({ timeout: 15_000 });
  assert.equal(await byTest('cmp-results').locator('tbody tr').count(), 2);
  assert.equal(await byTest(`cmp-ds-${names[2]}`).isChecked(), true, 'the page shows the comparison the engine has');
  assert.deepEqual(problems, []);
});
