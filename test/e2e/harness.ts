// Shared pieces of the browser end-to-end tests: build the renderer when dist-renderer/ is missing or
// older than its sources (CI runs on a clean clone), launch Debian's Chromium through playwright-core,
// and collect anything the page complains about (errors, CSP violations).
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DIST = join(ROOT, 'dist-renderer');
export const SHOTS = join(ROOT, 'test-output', 'screenshots');
export const CHROMIUM = process.env.FEDSEG_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the renderer with Vite unless dist-renderer/index.html is newer than every renderer source. */
export async function ensureRendererBuilt(): Promise<void> {
  const index = join(DIST, 'index.html');
  const src = Math.max(newestMtime(join(ROOT, 'renderer')), statSync(join(ROOT, 'core', 'contract', 'app-api.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= src) return;
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'renderer', 'vite.config.ts'), logLevel: 'error' });
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set FEDSEG_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Chromium with one operator-sized page (1280x900) that records its problems (watchPage), opened at `url` if given. */
export async function openAppPage(url?: string): Promise<{ browser: Browser; page: Page; problems: string[] }> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = watchPage(page);
  if (url) await page.goto(url);
  return { browser, page, problems };
}

/** Records console errors, page errors and CSP violations of a page. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
  });
  return problems;
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
