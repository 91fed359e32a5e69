// Loopback harness for federation tests: a real hub (ws + SQLite in a temp dir) and real site clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { parseHubConfig, type HubConfigInput } from '../../../federation-hub/config.js';
import { Hub } from '../../../federation-hub/hub.js';
import { createMemoryStore } from '../../../core/store/memory-store.js';
import { runSite, type SiteClientOptions, type SiteEvent } from '../../../core/federation/site-client.js';
import type { SiteTrainer } from '../../../core/federation/trainer.js';

// Whatever a test starts is stopped after the file's tests, even when an assertion failed midway
// (otherwise a live hub or a reconnecting site would keep the test process alive).
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c();
});

export function tempDir(prefix = 'fedseg-fed-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const FAST: HubConfigInput = {
  host: '127.0.0.1', port: 0, heartbeatMs: 200, siteTimeoutMs: 5000, roundTimeoutMs: 5000, evalTimeoutMs: 5000,
  model: { kind: 'fake', inChannels: 3, classes: 2, seed: 3 }, exitWhenDone: false,
};

export async function startHub(dir: string, cfg: HubConfigInput, sites: { name: string; role?: 'train' | 'eval' }[], log = false) {
  const config = parseHubConfig({ ...FAST, db: join(dir, 'hub.db'), ...cfg });
  const hub = new Hub(config, log ? (l) => console.log(`[hub] ${l}`) : () => {});
  const tokens: Record<string, string> = {};
  for (const s of sites) tokens[s.name] = hub.state.addSite(s.name, s.role ?? 'train');
  cleanups.push(() => hub.stop());
  const port = await hub.listen();
  return { hub, port, url: `ws://127.0.0.1:${port}`, tokens, config };
}

export function site(url: string, name: string, token: string, trainer: SiteTrainer, extra: Partial<SiteClientOptions> = {}) {
  const ledger = createMemoryStore();
  const events: SiteEvent[] = [];
  const ac = new AbortController();
  cleanups.push(() => ac.abort());
  const p = runSite({
    hubUrl: url, site: name, token, trainer, ledger, backoff: { initialMs: 50, maxMs: 400 }, firstAttempts: 3,
    onEvent: (e) => events.push(e), signal: ac.signal, ...extra,
  });
  p.catch(() => {}); // handled by the test (or irrelevant once the test failed)
  return { promise: p, ledger, events, trainer };
}

/** Rejects after ms (bounds every test). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}
