// End-to-end: resume after a crash. The engine runs as its own process (`fedseg serve`, as an operator
// starts it); a local training is killed with SIGKILL after its first checkpoint. The page says the
// engine is gone (and why a reload will not help); the restarted engine lists the run as interrupted
// with "Resume from step N", and the resumed run continues from step N. Killed again before its own
// first checkpoint, the run can still be resumed from the chain's newest checkpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createEngine } from '../../core/app/engine.js';
import { DIST, ensureRendererBuilt, openAppPage, ROOT, shot } from './harness.js';

let dir: string;
let db: string;
let browser: Browser;
let page: Page;
let engine: ChildProcess | null = null;

/** Starts `fedseg serve` on the site DB; resolves with the URL it prints. */
function serve(): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'fedseg.mjs'), 'serve', '--db', db, '--port', '0', '--static', DIST], { stdio: ['ignore', 'pipe', 'pipe'] });
  engine = child;
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`fedseg serve printed no URL: ${out}`)), 60_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /Open: (\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => reject(new Error(`fedseg serve exited (${code}): ${out}`)));
  });
}

function kill9(): Promise<void> {
  const c = engine!;
  engine = null;
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-resume-'));
  db = join(dir, 'site.sqlite');
  await ensureRendererBuilt();
  const e = await createEngine({ dbPath: db, mode: 'browser' });
  await e.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 10, size: 32, seed: 3 });
  await e.close();
  ({ browser, page } = await openAppPage());
});

after(async () => {
  await browser?.close();
  if (engine) await kill9();
  rmSync(dir, { recursive: true, force: true });
});

const byTest = (id: string) => page.getByTestId(id);
const stepOf = async () => Number(/^(\d+) \//.exec((await byTest('train-step').textContent()) ?? '')?.[1] ?? -1);

test('a training killed with SIGKILL resumes from its checkpoint, also after a second crash', { timeout: 280_000 }, async () => {
  await page.goto(`${await serve()}#/train`);
  await byTest('page-train').waitFor();
  await byTest('train-name').fill('crash me');
  await byTest('train-epochs').fill('400');
  await byTest('train-start').click();
  const row = byTest('runs').locator('tr', { hasText: 'crash me' }).first();
  // An epoch has ended (its checkpoint is listed): kill the engine without warning.
  await row.locator('[data-testid^=checkpoint-]').filter({ hasText: /step [1-9]/ }).waitFor({ timeout: 90_000 });
  await kill9();
  await byTest('engine-lost').waitFor({ timeout: 15_000 });
  assert.match((await byTest('engine-lost').textContent())!, /new address/);
  await shot(page, 'resume-01-engine-lost');

  // A restarted engine has a new address: the run is interrupted, with Resume from its checkpoint's step.
  await page.goto(`${await serve()}#/train`);
  const interrupted = byTest('runs').locator('tr', { hasText: 'crash me' }).first();
  await interrupted.getByText('interrupted').waitFor({ timeout: 30_000 });
  const resume = interrupted.locator('[data-testid^=resume-]');
  const from = Number(/step (\d+)/.exec((await resume.textContent())!)![1]);
  assert.ok(from > 0);
  await shot(page, 'resume-02-interrupted');
  await resume.click();
  await page.locator('[data-testid=train-phase]', { hasText: 'training' }).waitFor({ timeout: 60_000 });
  const first = await stepOf();
  assert.ok(first > from, `the resumed run reports step ${first} after the checkpoint's step ${from}`);
  await byTest('runs').locator('tr', { hasText: 'crash me (resumed)' }).getByText('running').waitFor({ timeout: 15_000 });

  // Killed again, possibly before the resumed run saved anything: Resume is still offered, from at least step `from`.
  await kill9();
  await page.goto(`${await serve()}#/train`);
  const again = byTest('runs').locator('tr', { hasText: 'crash me (resumed)' }).first();
  await again.getByText('interrupted').waitFor({ timeout: 30_000 });
  const resume2 = again.locator('[data-testid^=resume-]');
  const from2 = Number(/step (\d+)/.exec((await resume2.textContent())!)![1]);
  assert.ok(from2 >= from, `second resume from ${from2}, first from ${from}`);
  assert.equal(await byTest('runs').locator('tr', { hasText: 'crash me' }).locator('[data-testid^=resume-]').count(), 1, 'only the newest run of the chain offers Resume');
  await resume2.click();
  await page.locator('[data-testid=train-phase]', { hasText: 'training' }).waitFor({ timeout: 120_000 }).catch(async (e) => { await shot(page, 'resume-debug'); throw e; });
  assert.ok((await stepOf()) > from2);
  await shot(page, 'resume-03-resumed');
  await byTest('train-cancel').click();
  await byTest('runs').locator('tr', { hasText: 'crash me (resumed)' }).first().getByText('cancelled').waitFor({ timeout: 60_000 });
});
