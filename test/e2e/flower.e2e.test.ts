// Choosing a Flower federation on the Federation page (docs/app.md "Joining a Flower federation",
// docs/flower.md), in Debian's Chromium against the real engine (browser mode, a fresh SQLite file):
//   - "FedSeg hub" / "Flower federation" is a named radio choice, the hub's by default, that works from
//     the keyboard; Flower asks for the SuperLink's address and no join token, and says why;
//   - a bad address is named next to its field and Join waits; a SuperLink on another computer asks
//     for its root certificate before Join;
//   - the choice, the address and the site name are kept after Save and a reload (with the site's
//     Flower public key to hand to a coordinator who registers sites), and going back to the hub
//     brings back the hub's form with its address;
//   - "Check the address" tells a closed port from a listening one;
//   - joining a SuperLink address where nothing listens ends in a plain error from which Join works;
//   - the page keeps WCAG AA contrast, raises no page error and no CSP violation.
// Screenshots go to test-output/screenshots/flower-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
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
let listening: Server;
let openPort: number;
let closedPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-flower-e2e-'));
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite') });
  await app.engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 3, size: 32, seed: 7 });
  // A loopback port that accepts connections, and one nothing listens on.
  listening = createServer((sock) => sock.destroy());
  await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
  openPort = (listening.address() as AddressInfo).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  listening?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const { byTest, goTo, accessible, fedState } = pageSteps(() => page, 'flower');
const hubRadio = () => page.getByRole('radio', { name: /FedSeg hub/ });
const flowerRadio = () => page.getByRole('radio', { name: /Flower federation/ });

test('the Flower choice: named radios, the address instead of a token, bad addresses named, kept after a reload', async () => {
  await goTo('federation');
  await byTest('fed-url').waitFor();
  assert.equal(await hubRadio().isChecked(), true, 'the hub is the default');
  assert.equal(await flowerRadio().isChecked(), false);
  // From the keyboard: arrow keys move the choice, as in any radio group.
  await hubRadio().focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await flowerRadio().isChecked(), true);
  await byTest('fed-flower-address').waitFor();
  assert.equal(await byTest('fed-token').count(), 0, 'no join token for Flower');
  assert.equal(await byTest('fed-url').count(), 0);
  assert.match((await byTest('fed-transport').textContent())!, /Your coordinator runs Flower/);
  assert.match((await byTest('page-federation').textContent())!, /No join token is needed: a Flower SuperLink does not enrol sites in advance/);
  assert.equal(await byTest('fed-test').textContent(), 'Check the address');

  // A bad address is named next to its field; Join waits for a good one.
  await byTest('fed-flower-address').fill('grpc://superlink.example-hospital.org:9092');
  assert.match((await byTest('fed-flower-address-error').textContent())!, /without a scheme/);
  assert.equal(await byTest('fed-flower-address').getAttribute('aria-invalid'), 'true');
  assert.equal(await byTest('fed-join').isDisabled(), true);
  assert.equal(await byTest('fed-test').isDisabled(), true);
  await byTest('fed-flower-address').fill('superlink.example-hospital.org:99999');
  assert.match((await byTest('fed-flower-address-error').textContent())!, /port must be a number from 1 to 65535/);
  // A SuperLink on another computer needs its root certificate before Join.
  await byTest('fed-flower-address').fill('superlink.example-hospital.org:9092');
  assert.equal(await byTest('fed-flower-address-error').count(), 0);
  await byTest('fed-site').fill('site-f');
  await byTest('fed-ds-Demo fundus Domain1').check();
  assert.match((await byTest('fed-join-hint').textContent())!, /root certificate/);
  await byTest('fed-flower-needs-cert').waitFor();
  await accessible('the Flower settings');
  await shot(page, 'flower-01-settings');

  await byTest('fed-save').click();
  await page.getByText('Federation settings saved.').waitFor();
  await page.reload();
  await byTest('page-federation').waitFor();
  await byTest('fed-flower-address').waitFor();
  assert.equal(await flowerRadio().isChecked(), true);
  assert.equal(await byTest('fed-flower-address').inputValue(), 'superlink.example-hospital.org:9092');
  assert.equal(await byTest('fed-site').inputValue(), 'site-f');
  const saved = await app.engine.handlers.getFederationSettings({});
  assert.deepEqual([saved.transport, saved.flowerAddress, saved.siteName, saved.tokenSet], ['flower', 'superlink.example-hospital.org:9092', 'site-f', false]);
  // The site's Flower public key, for a coordinator whose SuperLink admits only registered sites.
  await byTest('fed-flower-key').locator('summary').click();
  assert.equal(await byTest('fed-flower-public-key').inputValue(), saved.flowerPublicKey);
  assert.match(saved.flowerPublicKey, /^-----BEGIN PUBLIC KEY-----/);
  // The sharing section speaks of the Flower federation, not of a hub.
  await byTest('share-flower').waitFor();
  await accessible('the saved Flower settings');

  // Back to the hub: its form returns, and the choice is saved too.
  await hubRadio().check();
  await byTest('fed-url').fill('127.0.0.1:1');
  await byTest('fed-save').click();
  await page.getByText('Federation settings saved.').first().waitFor();
  await page.reload();
  await byTest('fed-url').waitFor();
  assert.equal(await hubRadio().isChecked(), true);
  assert.equal(await byTest('fed-url').inputValue(), '127.0.0.1:1');
  assert.equal((await app.engine.handlers.getFederationSettings({})).flowerAddress, 'superlink.example-hospital.org:9092', 'the Flower address stays for the next switch');
});

test('Check the address: a closed port is refused, a listening one answers', async () => {
  await flowerRadio().check();
  await byTest('fed-flower-address').fill(`127.0.0.1:${closedPort}`);
  await byTest('fed-test').click();
  await page.locator('[data-testid=fed-report][data-problem=refused]').waitFor({ timeout: 15_000 });
  assert.match((await byTest('fed-report').textContent())!, /Nothing listens at this address/);
  await byTest('fed-flower-address').fill(`127.0.0.1:${openPort}`);
  await byTest('fed-test').click();
  await page.locator('[data-testid=fed-report][data-problem=ok]').waitFor({ timeout: 15_000 });
  assert.match((await byTest('fed-report').textContent())!, /The address answers\..*no token/);
  await accessible('the Flower address check');
  await shot(page, 'flower-02-check');
  assert.equal((await app.engine.handlers.getFederationSettings({})).flowerAddress, `127.0.0.1:${openPort}`, 'a successful check saves what it checked');
});

test('joining a SuperLink address where nothing listens ends in a plain error, and Join is offered again', async () => {
  await byTest('fed-flower-address').fill(`127.0.0.1:${closedPort}`);
  await byTest('fed-join').click();
  await fedState('error', 60_000);
  await byTest('fed-error').waitFor();
  assert.match((await byTest('fed-error').textContent())!, new RegExp(`^cannot reach the Flower SuperLink at 127\\.0\\.0\\.1:${closedPort} .*"Check the address" tells whether it answers`));
  assert.match((await byTest('fed-flower-node').textContent())!, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
  assert.equal(await byTest('fed-sites').count(), 0);
  assert.match((await byTest('fed-status').textContent())!, /does not tell a site about the other sites/);
  await accessible('a failed Flower join');
  await shot(page, 'flower-03-error');
  await byTest('fed-clear').click();
  await fedState('idle', 10_000);
  await byTest('fed-join').waitFor();
  assert.equal(await byTest('fed-join').isDisabled(), false);
  assert.deepEqual(problems, []);
});
