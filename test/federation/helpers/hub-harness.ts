// Harness for federation tests: a real hub (SQLite in a temp dir) on a real WebSocket server on
// 127.0.0.1, or on the in-memory transport (same hub, same site client, no socket), and real site clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { parseHubConfig, type HubConfigInput } from '../../../federation-hub/config.js';
import { Hub } from '../../../federation-hub/hub.js';
import { MemoryTransport } from '../../../federation-hub/memory-transport.js';
import { newSiteIdentity, type SiteIdentity } from '../../../core/contract/site-identity.js';
import { DEFAULT_SITE_POLICY, type SitePolicy } from '../../../core/contract/site-policy.js';
import type { Connector } from '../../../core/contract/transport.js';
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

// Short heartbeats keep tests quick; the timeouts are generous on purpose: no test here expects a site to
// time out or miss a deadline unless it sets its own bound, and on a loaded machine (full `npm test`, 2
// cores) a 5 s bound was hit by sites that were merely slow.
// The light trainer ignores the model kind; a small U-Net spec keeps the hub's checks realistic.
export const FAST: HubConfigInput = {
  host: '127.0.0.1', port: 0, heartbeatMs: 200, siteTimeoutMs: 30_000, roundTimeoutMs: 30_000, evalTimeoutMs: 30_000,
  model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 2, depth: 2 } }, initSeed: 3, exitWhenDone: false,
};

export type TransportKind = 'ws' | 'memory';
export const TRANSPORTS: TransportKind[] = ['ws', 'memory'];

/** In-memory hubs by URL, so site() connects to them without a socket. */
const memoryHubs = new Map<string, Connector>();
let memoryCount = 0;

export async function startHub(dir: string, cfg: HubConfigInput, sites: { name: string; role?: 'train' | 'eval' }[], opts: { log?: boolean; transport?: TransportKind } = {}) {
  const config = parseHubConfig({ ...FAST, db: join(dir, 'hub.db'), ...cfg });
  const memory = opts.transport === 'memory' ? new MemoryTransport(config.maxPayload) : undefined;
  if (memory) memory.url = `memory://hub-${++memoryCount}`;
  const hub = new Hub(config, opts.log ? (l) => console.log(`[hub] ${l}`) : () => {}, memory);
  const tokens: Record<string, string> = {};
  for (const s of sites) tokens[s.name] = hub.state.addSite(s.name, s.role ?? 'train');
  cleanups.push(() => hub.stop());
  const port = await hub.listen();
  if (memory) memoryHubs.set(memory.url, memory.connector);
  return { hub, port, url: memory ? memory.url : `ws://127.0.0.1:${port}`, tokens, config };
}

/** The tests' sites are their operators' own: they agreed to share windows (the default policy refuses). */
export const CONSENTING: SitePolicy = { ...DEFAULT_SITE_POLICY, shareSpectra: true, consentedAt: '2026-01-01T00:00:00.000Z' };

/** One key pair per site name and hub in a test, as a real site keeps its key in its store. */
const identities = new Map<string, SiteIdentity>();
export function identityOf(url: string, name: string): SiteIdentity {
  const k = `${url}|${name}`;
  if (!identities.has(k)) identities.set(k, newSiteIdentity());
  return identities.get(k)!;
}

export function site(url: string, name: string, token: string, trainer: SiteTrainer, extra: Partial<SiteClientOptions> = {}) {
  const ledger = createMemoryStore();
  const events: SiteEvent[] = [];
  // The test's own signal (extra.signal) aborts this site too, but never replaces the harness's one:
  // cleanup must be able to stop every site, including one whose test failed before aborting it.
  const ac = new AbortController();
  cleanups.push(() => ac.abort());
  const { signal: own, ...rest } = extra;
  if (own) {
    if (own.aborted) ac.abort();
    else own.addEventListener('abort', () => ac.abort(), { once: true });
  }
  const connect = memoryHubs.get(url);
  const p = runSite({
    hubUrl: url, site: name, token, identity: identityOf(url, name), policy: CONSENTING, trainer, ledger, backoff: { initialMs: 50, maxMs: 400 }, firstAttempts: 3,
    onEvent: (e) => events.push(e), ...(connect ? { connect } : {}), ...rest, signal: ac.signal,
  });
  p.catch(() => {}); // handled by the test (or irrelevant once the test failed)
  return { promise: p, ledger, events, trainer };
}

/** Resolves when pred() holds (polled every 10 ms); rejects after ms, and stops polling either way. */
export function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (!pred()) return;
      clearInterval(poll);
      clearTimeout(t);
      resolve();
    }, 10);
    const t = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`${what} did not happen within ${ms} ms`));
    }, ms);
  });
}

/** Rejects after ms (bounds every test). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}
