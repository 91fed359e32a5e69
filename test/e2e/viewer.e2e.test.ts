// End-to-end: the image viewer in the browser, on its own engine and SQLite file. Demo data and one tiny
// ASCNet model (2 steps, 32 px) are made through the engine API; the browser then checks what an
// operator sees: Left/Right step through the images, zoom and pan reset per image and per dataset,
// window/level changes the drawn pixels (read back from the canvas) and its readout, the values under
// the pointer, the error map, the reference contour and the rate-field overlay with its histogram; and
// on each of the six pages that no visible text is below 4.5:1 contrast and every canvas has a name.
// Screenshots go to test-output/screenshots/viewer-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { AppMethodName, ArgsIn, ResultOf } from '../../core/contract/app-api.js';
import { dispatch } from '../../core/app/dispatch.js';
import { startBrowserApp, type BrowserApp } from '../../core/serve/serve-app.js';
import { CONTOUR_COLOUR, errorColours } from '../../renderer/src/lib/draw.js';
import { DIST, ensureRendererBuilt, openAppPage, shot } from './harness.js';
import { runInPage, unnamedCanvases } from './a11y.js';
import { lowContrastText } from './contrast.js';

let dir: string;
let app: BrowserApp;
let browser: Browser;
let page: Page;
let problems: string[];
let fundus: ResultOf<'listDatasets'>;

async function call<M extends AppMethodName>(method: M, args: ArgsIn<M>): Promise<ResultOf<M>> {
  const r = await dispatch(app.engine.handlers, method, args);
  if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
  return r.value as ResultOf<M>;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-viewer-e2e-'));
  await ensureRendererBuilt();
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: DIST });
  await call('generateDemoData', { kind: 'fundus', sites: 2, perSite: 3, size: 32, seed: 5 });
  fundus = (await call('listDatasets', {})).sort((a, b) => a.name.localeCompare(b.name));
  const { runId } = await call('startTraining', { name: 'viewer ASCNet', datasetIds: [fundus[0]!.id], modelKind: 'ascnet-7', baseWidth: 4, epochs: 1, maxSteps: 2 });
  for (let t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
    const run = (await call('listRuns', {})).find((r) => r.id === runId);
    if (run && run.status !== 'running') {
      assert.equal(run.status, 'done', run.message);
      break;
    }
    assert.ok(Date.now() - t0 < 120_000, 'training finishes');
  }
  ({ browser, page, problems } = await openAppPage(`${app.server.url}#/datasets`));
});

after(async () => {
  await browser?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const byTest = (id: string) => page.getByTestId(id);
const text = async (id: string) => ((await byTest(id).textContent()) ?? '').trim();

interface CanvasPixels {
  hash: string;
  /** How many canvas pixels are exactly each of the asked colours. */
  counts: number[];
}

function readCanvas(arg: { testid: string; colours: number[][] }): CanvasPixels {
  const c = document.querySelector(`[data-testid="${arg.testid}"] canvas`) as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 16777619) >>> 0;
  const counts = arg.colours.map(() => 0);
  for (let i = 0; i < d.length; i += 4)
    arg.colours.forEach((col, k) => {
      if (d[i] === col[0] && d[i + 1] === col[1] && d[i + 2] === col[2]) counts[k]!++;
    });
  return { hash: h.toString(16), counts };
}

const pixels = (testid: string, colours: number[][] = []) => runInPage(page, readCanvas, { testid, colours });

/** Waits until the viewer's drawing differs from `from` (drawing follows state in the next frame). */
async function changedFrom(testid: string, from: string): Promise<CanvasPixels> {
  for (let i = 0; i < 50; i++) {
    const p = await pixels(testid);
    if (p.hash !== from) return p;
    await page.waitForTimeout(40);
  }
  assert.fail(`${testid} did not redraw`);
}

async function canvasBox(testid: string) {
  const box = await byTest(testid).locator('canvas').boundingBox();
  assert.ok(box);
  return box;
}

test('datasets browser: Left/Right step through the images, but not while a field has focus', async () => {
  await byTest('browse-viewer').waitFor();
  await byTest('sample-index').getByText('image 1 of 3').waitFor();
  await page.keyboard.press('ArrowRight');
  await byTest('sample-index').getByText('image 2 of 3').waitFor();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await byTest('sample-index').getByText('image 3 of 3').waitFor();
  await page.keyboard.press('ArrowRight');
  await byTest('sample-index').getByText('image 1 of 3').waitFor();
  // On a slider the arrows move the slider, not the image.
  const slider = page.getByLabel(/Overlay opacity/);
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await page.getByText('Overlay opacity 55%').waitFor();
  assert.equal(await text('sample-index'), 'image 1 of 3');
  await slider.blur();
});

test('datasets browser: zoom and pan reset for the next image and the next dataset; Reset view', async () => {
  await byTest('browse-viewer-readout').waitFor();
  await page.keyboard.press('ArrowRight');
  await byTest('sample-index').getByText('image 2 of 3').waitFor();
  await page.waitForTimeout(100);
  const fitted2 = await pixels('browse-viewer');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('+');
  assert.equal(await text('zoom-level'), '125%');
  const box = await canvasBox('browse-viewer');
  await page.mouse.move(box.x + 100, box.y + 100);
  await page.mouse.down();
  await page.mouse.move(box.x + 160, box.y + 130, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.press('ArrowRight');
  await byTest('sample-index').getByText('image 2 of 3').waitFor();
  await byTest('zoom-level').getByText('100%').waitFor();
  await page.waitForTimeout(100);
  assert.equal((await pixels('browse-viewer')).hash, fitted2.hash, 'image 2 is drawn fitted and centred again');
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  assert.equal(await text('zoom-level'), '156%');
  await byTest('dataset-select').selectOption({ label: `${fundus[1]!.name} (3)` });
  await byTest('zoom-level').getByText('100%').waitFor();
  // Keys go to a focused select, not to the viewer: move the focus off it first.
  await page.locator('h1').click();
  await page.keyboard.press('+');
  assert.equal(await text('zoom-level'), '125%');
  await byTest('reset-view').click();
  assert.equal(await text('zoom-level'), '100%');
  await byTest('dataset-select').selectOption({ label: `${fundus[0]!.name} (3)` });
  await byTest('sample-index').getByText('image 1 of 3').waitFor();
  await page.locator('h1').click();
});

test('datasets browser: window/level changes the drawn pixels and its readout, reset restores them', async () => {
  await page.waitForTimeout(100);
  assert.equal(await text('browse-viewer-wl'), 'W 256 L 128');
  const original = await pixels('browse-viewer');
  await page.keyboard.press('[');
  await byTest('browse-viewer-wl').getByText('W 205 L 128').waitFor();
  const narrower = await changedFrom('browse-viewer', original.hash);
  await byTest('wl-window').fill('64');
  await byTest('wl-level').fill('100');
  await byTest('browse-viewer-wl').getByText('W 64 L 100').waitFor();
  await changedFrom('browse-viewer', narrower.hash);
  await byTest('wl-reset').click();
  await byTest('browse-viewer-wl').getByText('W 256 L 128').waitFor();
  await page.waitForTimeout(100);
  assert.equal((await pixels('browse-viewer')).hash, original.hash, 'full range draws the stored values again');
  // Right-drag: right widens the window, down raises the level, one grey level per screen pixel.
  const box = await canvasBox('browse-viewer');
  await page.mouse.move(box.x + 150, box.y + 150);
  await page.mouse.down({ button: 'right' });
  await page.mouse.move(box.x + 110, box.y + 170, { steps: 5 });
  await page.mouse.up({ button: 'right' });
  await byTest('browse-viewer-wl').getByText('W 216 L 148').waitFor();
  assert.equal(await byTest('wl-preset').inputValue(), 'manual');
  await changedFrom('browse-viewer', original.hash);
  // An automatic preset comes from the image's own percentiles.
  await byTest('wl-preset').selectOption('minmax');
  const sample = await call('getSample', { datasetId: fundus[0]!.id, index: 0 });
  const colour = Array.from(sample.image.pixels).filter((_, i) => i % sample.image.channels < 3);
  const lo = Math.min(...colour);
  const hi = Math.max(...colour);
  await byTest('browse-viewer-wl').getByText(`W ${hi - lo + 1} L ${(lo + hi + 1) / 2}`).waitFor();
  await byTest('wl-reset').click();
  await byTest('browse-viewer-wl').getByText('W 256 L 128').waitFor();
});

test('datasets browser: the pixel, its values and its labels under the pointer', async () => {
  const sample = await call('getSample', { datasetId: fundus[0]!.id, index: 0 });
  const box = await canvasBox('browse-viewer');
  const scale = box.width / sample.image.width;
  // The centre of image pixel (16, 12): at zoom 1 a 32 px image fills the 384 px canvas.
  const [x, y] = [16, 12];
  await page.mouse.move(box.x + (x + 0.5) * scale, box.y + (y + 0.5) * scale);
  const i = (y * sample.image.width + x) * sample.image.channels;
  const rgb = Array.from(sample.image.pixels.subarray(i, i + 3)).join(', ');
  const m = sample.mask!;
  const labels = fundus[0]!.classNames.filter((_, c) => m.data[(y * m.width + x) * m.classes + c]);
  const expected = `x ${x}, y ${y} · RGB ${rgb} · mask: ${labels.length ? labels.join(', ') : 'background'}`;
  await byTest('browse-viewer-readout').getByText(expected).waitFor();
  await shot(page, 'viewer-datasets-readout');
  await page.mouse.move(box.x + box.width + 40, box.y);
  await byTest('browse-viewer-readout').getByText('Point at the image').waitFor();
});

async function runSegmentation() {
  await byTest('nav-segment').click();
  await byTest('page-segment').waitFor();
  await byTest('dataset-select').selectOption({ label: `${fundus[0]!.name} (3)` });
  await byTest('model-select').locator('option', { hasText: 'viewer ASCNet' }).waitFor({ state: 'attached' });
  await byTest('segment-run').click();
  await byTest('metrics-a').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(100);
}

test('segment: reference contour over the prediction, error map with its legend', async () => {
  await runSegmentation();
  await byTest('opacity').fill('1');
  await page.getByText('Opacity 100%').waitFor();
  assert.equal(await byTest('contour-toggle').isChecked(), true, 'the contour is on when a reference exists');
  const white = [[...CONTOUR_COLOUR]];
  const withContour = await pixels('segment-viewer', white);
  await byTest('contour-toggle').uncheck();
  const without = await changedFrom('segment-viewer', withContour.hash);
  const plain = await pixels('segment-viewer', white);
  assert.ok(withContour.counts[0]! > plain.counts[0]!, `the contour adds white pixels (${withContour.counts[0]} vs ${plain.counts[0]})`);
  await byTest('contour-toggle').check();
  await changedFrom('segment-viewer', without.hash);
  const errorPalette = [0, 1].flatMap((c) => [errorColours(c).fp, errorColours(c).fn].map((v) => [...v]));
  const fill = await pixels('segment-viewer', errorPalette);
  await byTest('mode-error').click();
  assert.equal(await byTest('mode-error').getAttribute('aria-pressed'), 'true');
  const error = await changedFrom('segment-viewer', fill.hash);
  const errorCounts = (await pixels('segment-viewer', errorPalette)).counts;
  assert.ok(errorCounts.reduce((a, b) => a + b, 0) > fill.counts.reduce((a, b) => a + b, 0), `error colours drawn: ${errorCounts}`);
  assert.notEqual(error.hash, fill.hash);
  await byTest('legend').getByText('false positive').first().waitFor();
  await byTest('legend').getByText('false negative').first().waitFor();
  // Legend toggles announce their state.
  const firstClass = byTest('legend').locator('button').first();
  assert.equal(await firstClass.getAttribute('aria-pressed'), 'true');
  await firstClass.click();
  assert.equal(await firstClass.getAttribute('aria-pressed'), 'false');
  await firstClass.click();
  await shot(page, 'viewer-segment-error-map');
});

test('segment: rate field as an overlay with opacity, readout, colour bar and labelled histogram', async () => {
  await byTest('rate-heat').waitFor();
  const before = await pixels('segment-viewer');
  await byTest('rate-heat').check();
  await changedFrom('segment-viewer', before.hash);
  await byTest('rate-opacity').fill('0.3');
  await page.getByText('Rate field opacity 30%').waitFor();
  const hist = byTest('histogram');
  await hist.getByText('dilation rate', { exact: true }).waitFor();
  await hist.getByText('pixels', { exact: true }).waitFor();
  assert.match(await text('colourbar-min'), /^-?\d/);
  assert.match(await text('colourbar-max'), /^-?\d/);
  const box = await canvasBox('segment-viewer');
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const readout = byTest('segment-viewer-readout');
  await readout.getByText(/^x 16, y 16 · RGB \d+, \d+, \d+ · prediction: .* · reference: .* · rate -?\d/).waitFor();
  await shot(page, 'viewer-segment-rate');
});

test('segment: window/level, zoom reset on the next image, arrows', async () => {
  const before = await pixels('segment-viewer');
  await byTest('wl-preset').selectOption('strong');
  await changedFrom('segment-viewer', before.hash);
  assert.notEqual(await text('segment-viewer-wl'), 'W 256 L 128');
  await page.locator('h1').click();
  await page.keyboard.press('+');
  assert.equal(await text('zoom-level'), '125%');
  await page.keyboard.press('ArrowRight');
  await byTest('sample-index').getByText('image 2 of 3').waitFor();
  await byTest('zoom-level').getByText('100%').waitFor();
  // A preset is recomputed for the new image; the prediction belonged to the previous one.
  assert.equal(await byTest('wl-preset').inputValue(), 'strong');
  assert.equal(await byTest('metrics-a').count(), 0);
  await page.keyboard.press('ArrowLeft');
  await byTest('sample-index').getByText('image 1 of 3').waitFor();
});

const PAGES = ['datasets', 'segment', 'frequency', 'train', 'federation', 'outbox'] as const;

test('every page: no visible text below 4.5:1 contrast, every canvas named', async () => {
  // The checker itself: planted grey text on white (2.8:1) and dark text at half opacity are reported.
  await runInPage(page, () => {
    const a = document.createElement('p');
    a.textContent = 'planted grey';
    a.className = 'planted';
    const b = a.cloneNode() as HTMLElement;
    b.textContent = 'planted faded';
    document.querySelector('main')!.prepend(a, b);
    a.style.color = '#999';
    b.style.opacity = '0.4';
    return null;
  }, null);
  const planted = (await lowContrastText(page)).filter((o) => o.text.startsWith('planted'));
  assert.deepEqual(planted.map((o) => o.text).sort(), ['planted faded', 'planted grey']);
  assert.ok(planted.every((o) => o.ratio < 4.5));
  await runInPage(page, () => document.querySelectorAll('.planted').forEach((e) => e.remove()), null);
  const report: string[] = [];
  for (const id of PAGES) {
    await page.goto(`${app.server.url}#/${id}`);
    await byTest(`page-${id}`).waitFor();
    if (id === 'datasets') await byTest('browse-viewer').waitFor();
    if (id === 'segment') {
      await runSegmentation();
      await byTest('mode-error').click();
      await byTest('rate-heat').check();
    }
    if (id === 'frequency') await byTest('spectrum').waitFor();
    if (id === 'train') {
      // A short run from the page, so its loss chart (a uPlot canvas) is on the page too.
      await byTest('train-name').fill('viewer chart');
      await page.getByText('more options').click();
      await byTest('train-maxsteps').fill('2');
      await byTest('train-start').click();
      await byTest('runs').locator('tr', { hasText: 'viewer chart' }).getByText('done').waitFor({ timeout: 90_000 });
      await byTest('loss-chart').locator('canvas').first().waitFor();
    }
    if (id === 'outbox') {
      await byTest('outbox-preview-run').click();
      await byTest('outbox-preview').locator('canvas').first().waitFor();
    }
    await page.waitForTimeout(200);
    for (const o of await lowContrastText(page)) report.push(`#/${id}: "${o.text}" ${o.colour} on ${o.background} = ${o.ratio}:1 (${o.fontSize}) at ${o.path}`);
    for (const c of await unnamedCanvases(page)) report.push(`#/${id}: canvas without a name at ${c.path} (${c.testid ?? 'no testid'})`);
    await shot(page, `viewer-page-${id}`);
  }
  assert.deepEqual(report, []);
});

test('the sidebar status stays in view when a page scrolls', async () => {
  await page.setViewportSize({ width: 1280, height: 600 });
  await page.goto(`${app.server.url}#/segment`);
  await runSegmentation();
  await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
  await page.waitForTimeout(200);
  assert.ok(await page.evaluate('window.scrollY') as number > 0, 'the page scrolls');
  const status = await page.locator('nav.side .status').boundingBox();
  assert.ok(status && status.y >= 0 && status.y + status.height <= 600, `status box ${JSON.stringify(status)}`);
});

test('the viewer pages raised no errors and no CSP violations', () => {
  assert.deepEqual(problems, []);
});
