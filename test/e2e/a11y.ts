// Page-side checks for the browser end-to-end tests: a way to run a self-contained function in the page,
// and the accessible name of every canvas (a drawn picture is announced only through role="img" and a
// name, or it is hidden from assistive technology with its text next to it).
import type { Page } from 'playwright-core';

type PageHelper = (...args: never[]) => unknown;

/**
 * Runs fn(arg) in the page with the given helper functions in scope. The source is sent as a string:
 * tsx compiles these files with esbuild's keepNames, which wraps inner functions in __name(...) calls
 * that do not exist in the page, so a stand-in is declared first. fn and the helpers may use only their
 * arguments, each other and the DOM.
 */
export async function runInPage<A, R>(page: Page, fn: (arg: A) => R, arg: A, helpers: readonly PageHelper[] = []): Promise<R> {
  const src = `(() => {\nconst __name = (f) => f;\n${helpers.map((h) => h.toString()).join(';\n')};\nreturn (${fn.toString()})(${JSON.stringify(arg)});\n})()`;
  return (await page.evaluate(src)) as R;
}

export interface UnnamedCanvas {
  path: string;
  testid: string | null;
}

function findUnnamedCanvases(): UnnamedCanvas[] {
  const out: UnnamedCanvas[] = [];
  for (const c of Array.from(document.querySelectorAll('canvas'))) {
    if (c.closest('[aria-hidden="true"]')) continue;
    const named = c.getAttribute('role') === 'img' && ((c.getAttribute('aria-label') ?? '').trim() !== '' || (c.getAttribute('aria-labelledby') ?? '').trim() !== '');
    if (named) continue;
    const parts: string[] = [];
    for (let e: Element | null = c; e && parts.length < 4; e = e.parentElement) parts.unshift(e.tagName.toLowerCase() + (e.classList.length ? `.${Array.from(e.classList).join('.')}` : ''));
    out.push({ path: parts.join(' > '), testid: c.closest('[data-testid]')?.getAttribute('data-testid') ?? null });
  }
  return out;
}

/** Canvases in the document with neither role="img" plus a name nor aria-hidden. */
export function unnamedCanvases(page: Page): Promise<UnnamedCanvas[]> {
  return runInPage(page, findUnnamedCanvases, null);
}
