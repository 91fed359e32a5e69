// The steps the browser journeys share on the app's page: find by test id, go to a page, test the
// connection to a hub, wait for a Federation state (naming what is shown instead when it is not reached), and check that the state
// reached keeps WCAG AA contrast and named canvases.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { unnamedCanvases } from './a11y.js';
import { lowContrastText } from './contrast.js';
import { shot } from './harness.js';

/**
 * `page` is read at each step (suites open their page in before()); `name` prefixes failure screenshots;
 * `context` adds what the page cannot show to a failed wait (the hub's log, the other sites' states).
 */
export function pageSteps(page: () => Page, name: string, context?: () => Promise<string> | string) {
  const byTest = (id: string) => page().getByTestId(id);
  const goTo = async (p: string) => {
    await page().evaluate((h) => (window.location.hash = h), `#/${p}`);
    await byTest(`page-${p}`).waitFor();
  };
  const accessible = async (where: string) => {
    assert.deepEqual(await lowContrastText(page()), [], `text below 4.5:1 on ${where}`);
    assert.deepEqual(await unnamedCanvases(page()), [], `canvases without a name on ${where}`);
  };
  const fedState = async (state: string | RegExp, timeout: number) => {
    try {
      await page().locator('[data-testid=fed-state]').filter({ hasText: state }).waitFor({ timeout });
    } catch {
      await shot(page(), `${name}-failed-federation`);
      const more = context ? `\n${await context()}` : '';
      throw new Error(`federation state ${String(state)} not reached in ${timeout} ms; shown: '${await byTest('fed-state').textContent()}' '${await byTest('fed-message').textContent()}'${more}`);
    }
  };
  /** Fills what is given on the Federation page, presses Test connection, and waits for the report of `problem`. */
  const testConnection = async (f: { url?: string; site?: string; token?: string }, problem = 'ok') => {
    if (f.url !== undefined) await byTest('fed-url').fill(f.url);
    if (f.site !== undefined) await byTest('fed-site').fill(f.site);
    if (f.token !== undefined) await byTest('fed-token').fill(f.token);
    await byTest('fed-test').click();
    await page().locator(`[data-testid=fed-report][data-problem=${problem}]`).waitFor({ timeout: 15_000 });
  };
  return { byTest, goTo, accessible, fedState, testConnection };
}
