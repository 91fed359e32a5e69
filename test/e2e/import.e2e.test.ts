// End-to-end: the import wizard on its own browser app instance and SQLite file, driven through
// Debian's Chromium. A folder holds 4 good fundus pairs, one pair whose disc mask holds the value 7
// (not binary) and an orphan image. The walk: the dataset name follows the folder until the user types
// one; a missing path and a file path say what is wrong; the dry run puts the bad file at the top with
// the reason, turns plain Import off and offers to skip it, which imports exactly the 4 good pairs;
// a long dry run and a long import can be cancelled, and the cancelled import leaves no dataset.
// Screenshots go to test-output/screenshots/import-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { encodePng } from '../../core/data/codecs/image-file.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { writeBinaryMaskFolder } from '../../core/data/export.js';
import { DIST, ensureRendererBuilt, openAppPage, shot } from './harness.js';

let dir: string;
let app: BrowserApp;
let browser: Browser;
let page: Page;
let problems: string[];
let clinic: string;
let big: string;

/** Files in the long folder: enough that its dry run and import take a few seconds to cancel in. */
const BIG_PAIRS = 150;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-e2e-import-'));
  const [site] = generateFundusSites({ sites: 1, perSite: 5, size: 48, seed: 21 });
  await writeBinaryMaskFolder({ site: 'clinic-c', samples: site!.samples }, dir, ['-Disc-T', '-Cup-T']);
  clinic = join(dir, 'clinic-c');
  const px = new Uint8Array(48 * 48);
  for (let i = 0; i < 200; i++) px[i] = 255;
  px[48 * 10 + 10] = 7;
  writeFileSync(join(clinic, 'Domain1-0002-Disc-T.png'), encodePng(48, 48, 1, px));
  copyFileSync(join(clinic, 'Domain1-0000.png'), join(clinic, 'orphan.png'));
  // The long folder: one large pair copied many times (copies are fast to make, slow enough to read).
  const [one] = generateFundusSites({ sites: 1, perSite: 1, size: 256, seed: 4 });
  await writeBinaryMaskFolder({ site: 'seed', samples: one!.samples }, dir, ['-Disc-T', '-Cup-T']);
  big = join(dir, 'long-export');
  mkdirSync(big);
  for (let i = 0; i < BIG_PAIRS; i++) {
    const n = `case-${String(i).padStart(3, '0')}`;
    copyFileSync(join(dir, 'seed', 'Domain1-0000.png'), join(big, `${n}.png`));
    for (const s of ['-Disc-T', '-Cup-T']) copyFileSync(join(dir, 'seed', `Domain1-0000${s}.png`), join(big, `${n}${s}.png`));
  }
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: DIST });
  ({ browser, page, problems } = await openAppPage(app.server.url));
});

after(async () => {
  await browser?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const byTest = (id: string) => page.getByTestId(id);

async function top(id: string): Promise<number> {
  const box = await byTest(id).boundingBox();
  assert.ok(box, `${id} is on the page`);
  return box.y;
}

test('the dataset name follows the folder until the user types one', async () => {
  await byTest('datasets-empty').waitFor();
  await byTest('import-open').click();
  await byTest('import-path').fill(join(dir, 'hospital-a'));
  assert.equal(await byTest('import-name').inputValue(), 'hospital-a');
  await byTest('import-path').fill(join(dir, 'hospital-b') + '/');
  assert.equal(await byTest('import-name').inputValue(), 'hospital-b');
  await byTest('import-path').fill(clinic);
  assert.equal(await byTest('import-name').inputValue(), 'clinic-c');
  await shot(page, 'import-01-name-from-folder');
  await byTest('import-name').fill('Clinic C');
  await byTest('import-path').fill(join(dir, 'elsewhere'));
  assert.equal(await byTest('import-name').inputValue(), 'Clinic C', 'a typed name is kept');
  await byTest('import-name').fill('');
  await byTest('import-path').fill(join(dir, 'elsewhere-2'));
  assert.equal(await byTest('import-name').inputValue(), 'elsewhere-2', 'an emptied name follows the folder again');
});

test('a missing path says it does not exist; a file path says it is a file', async () => {
  await byTest('import-path').fill(join(dir, 'does-not-exist'));
  await byTest('import-preview').click();
  await byTest('import-error').getByText(/does-not-exist: folder does not exist/).waitFor();
  assert.ok((await top('import-error')) < (await top('import-path')), 'the error is at the top of the wizard');
  await shot(page, 'import-02-missing-path');
  await byTest('import-path').fill(join(clinic, 'Domain1-0000.png'));
  assert.equal(await byTest('import-error').count(), 0, 'a new path clears the old error');
  await byTest('import-preview').click();
  await byTest('import-error').getByText(/Domain1-0000\.png: is a file, not a folder/).waitFor();
});

test('dry run: the bad mask at the top, Import off, skip imports exactly the 4 good pairs', async () => {
  await byTest('import-path').fill(clinic);
  await byTest('import-name').fill('Clinic C');
  await byTest('import-preview').click();
  const counts = byTest('import-counts');
  await counts.getByText(/5 file\(s\) found/).waitFor();
  assert.match((await counts.textContent())!, /4 good, 1 bad/);
  const list = byTest('import-problems');
  assert.match((await list.textContent())!, /Domain1-0002\.png: Domain1-0002-Disc-T\.png: value 7 at \(x=10, y=10\) is not binary/);
  await byTest('import-skipped').getByText(/skipped orphan\.png: no mask file/).waitFor();
  // Problems are summarised above the form, the form above the thumbnails.
  assert.ok((await top('import-summary')) < (await top('import-path')));
  assert.ok((await top('import-path')) < (await top('import-thumbs')));
  assert.equal(await byTest('import-run').isDisabled(), true, 'plain Import is off while a file is bad');
  assert.equal(await byTest('import-run-skip').textContent(), 'Skip 1 bad file(s) and import 4 good image(s)');
  const thumbs = byTest('import-thumbs');
  assert.equal(await thumbs.locator('.thumb').count(), 5);
  assert.equal(await thumbs.locator('.thumb.bad').count(), 1);
  assert.equal(await thumbs.locator('canvas[data-mask="shown"]').count(), 4, 'the good thumbnails carry their mask');
  await shot(page, 'import-03-dry-run-bad-file');
  await byTest('import-run-skip').click();
  const done = byTest('import-done');
  await done.getByText('Imported 4 image(s) into “Clinic C”. Left out 1 bad file(s):').waitFor();
  assert.match((await done.textContent())!, /Domain1-0002\.png: .*value 7/);
  const row = byTest('dataset-table').locator('tr', { hasText: 'Clinic C' });
  await row.waitFor();
  assert.equal((await row.locator('td.num').first().textContent())!.trim(), '4');
  await shot(page, 'import-04-skipped-and-imported');
  await byTest('import-close').click();
  assert.equal(await byTest('import-wizard').count(), 0);
});

test('a long dry run and a long import can be cancelled; the cancelled import leaves nothing', async () => {
  await byTest('import-open').click();
  await byTest('import-path').fill(big);
  assert.equal(await byTest('import-name').inputValue(), 'long-export');
  await byTest('import-preview').click();
  await byTest('import-progress').getByText(/Checking [1-9]\d*\//).waitFor({ timeout: 30_000 });
  await byTest('import-cancel').click();
  await byTest('import-notice').getByText('Dry run cancelled; nothing was written.').waitFor({ timeout: 30_000 });
  assert.equal(await byTest('import-thumbs').count(), 0);
  await byTest('import-preview').click();
  await byTest('import-counts').getByText(`${BIG_PAIRS} image(s) found`).waitFor({ timeout: 60_000 });
  assert.equal(await byTest('import-run').isDisabled(), false);
  await shot(page, 'import-05-all-good');
  await byTest('import-run').click();
  await byTest('import-progress').getByText(/Importing [1-9]\d*\//).waitFor({ timeout: 30_000 });
  await byTest('import-cancel').click();
  await byTest('import-notice').getByText('Import cancelled; nothing was written.').waitFor({ timeout: 30_000 });
  await shot(page, 'import-06-import-cancelled');
  const names = await byTest('dataset-table').locator('tbody tr').allTextContents();
  assert.equal(names.length, 1);
  assert.ok(!names.some((t) => t.includes('long-export')));
  assert.deepEqual(problems, []);
});
