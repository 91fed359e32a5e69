// The app in a real Flower federation (docs/flower.md §1-3, §6; docs/app.md "Joining a Flower
// federation"), in Debian's Chromium against the real engine (browser mode, a fresh SQLite file) and a
// real Flower SuperLink on 127.0.0.1 (test/flower/helpers/superlink.ts):
//   - joining from the Federation page activates this site's node: the status names the SuperLink and
//     the node; Leave returns to a state where Join works, and joining again keeps the same node id
//     (the SuperLink bound it to the site's sealed key);
//   - FedSeg's ServerApp then runs one FedAvg round with this site alone: the page follows the Flower
//     run to "finished", with the round in its history and the round's global model kept for Segment;
//   - the page raises no page error and no CSP violation.
// Skipped where the shared Flower SuperLink is not installed. Screenshots: test-output/screenshots/flower-run-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { flowerMissing, SuperLink } from '../flower/helpers/superlink.js';
import { ensureRendererBuilt, openAppPage, shot } from './harness.js';
import { pageSteps } from './page-steps.js';

const missing = flowerMissing();
const MODEL = JSON.stringify({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } });
const RUN = `strategy="fedavg" fedseg-model='${MODEL}' min-nodes=1 num-server-rounds=1 local-epochs=1 batch-size=2 lr=0.001 max-steps-per-epoch=2 timeout=240`;

let dir: string;
let app: BrowserApp;
let link: SuperLink;
let browser: Browser;
let page: Page;
let problems: string[];

before(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'fedseg-flower-run-e2e-'));
  await ensureRendererBuilt();
  link = await SuperLink.start();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite') });
  await app.engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 4, size: 32, seed: 7 });
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  await app?.close();
  await link?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const { byTest, goTo, fedState, accessible } = pageSteps(() => page, 'flower-run');
const nodeOf = async () => /as node (\d+)/.exec((await byTest('fed-message').textContent()) ?? '')?.[1];

test('join a real SuperLink from the page: the node is named, Leave works, the node id survives a rejoin', { skip: missing ?? false, timeout: 180_000 }, async () => {
  await goTo('federation');
  await page.getByRole('radio', { name: /Flower federation/ }).check();
  await byTest('fed-flower-address').fill(link.fleet);
  await byTest('fed-site').fill('site-f');
  await byTest('fed-ds-Demo fundus Domain1').check();
  await byTest('fed-join').click();
  await fedState('connected', 60_000);
  assert.match((await byTest('fed-message').textContent())!, new RegExp(`^joined the Flower SuperLink at ${link.fleet.replace(/\./g, '\\.')} as node \\d+`));
  const node = await nodeOf();
  assert.ok(node, 'a node id');
  assert.match((await byTest('fed-flower-node').textContent())!, new RegExp(`node ${node}`));
  await accessible('a site joined to a Flower SuperLink');
  await shot(page, 'flower-run-01-connected');
  await byTest('fed-leave').click();
  await fedState('idle', 20_000);
  assert.equal(await byTest('fed-message').textContent(), 'left the federation');
  await byTest('fed-join').click();
  await fedState('connected', 60_000);
  assert.equal(await nodeOf(), node, 'the same key keeps its node id');
});

test('FedSeg\'s ServerApp runs one FedAvg round with this site: the page follows it to the end and the global model is kept', { skip: missing ?? false, timeout: 360_000 }, async () => {
  const log = await link.runServerApp(RUN, 300_000);
  assert.match(log, /FEDSEG_FINAL rounds=1/, `the ServerApp did not finish:\n${log.slice(-3000)}\n${link.logs()}`);
  await fedState('finished', 60_000);
  assert.match((await byTest('fed-flower-node').textContent())!, /run \d+/);
  assert.match((await byTest('fed-rounds').textContent())!, /^1 of 1 done/);
  assert.equal(await byTest('fed-history').locator('tbody tr').count(), 1);
  const run = (await app.engine.handlers.listRuns({})).find((r) => r.name.startsWith('Federation site-f @ Flower'))!;
  assert.equal(run.mode, 'federated');
  const globals = (await app.engine.handlers.listModels({})).filter((m) => m.source === 'global');
  assert.ok(globals.some((m) => m.round === 1), `the round's global model is not kept: ${JSON.stringify(globals.map((m) => [m.name, m.round]))}`);
  const out = (await app.engine.handlers.listAudit({ direction: 'out', offset: 0, limit: 1000 })).entries.map((e) => e.kind);
  assert.ok(out.includes('weights-update') && !out.includes('amplitude-window'), out.join(','));
  await accessible('a finished Flower federation');
  await shot(page, 'flower-run-02-finished');
  assert.deepEqual(problems, []);
});
