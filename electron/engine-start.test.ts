// The engine utility process's start (engine-start.ts) between two real ends of a message channel, with
// the real engine on a real store: the init message comes first and carries the key, calls sent before
// the engine is open are answered, and an engine whose store is already open in another FedSeg makes
// every call fail with that reason (docs/security.md §5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { keySecretBox } from '../core/app/index.js';
import { linkToEngineProcess, type HostPortLike, type ProcessPortLike } from './engine-link.js';
import { startEngineHost } from './engine-start.js';

/** The two ends the main process and the utility process see, over a real MessageChannel. */
function channel(): { host: HostPortLike; main: ProcessPortLike & { close(): void } } {
  const { port1, port2 } = new MessageChannel();
  return {
    host: { postMessage: (m) => port2.postMessage(m), on: (_e, l) => void port2.on('message', (data) => l({ data })) },
    main: {
      postMessage: (m) => port1.postMessage(m),
      on: ((e: string, l: (x: unknown) => void) => void (e === 'message' ? port1.on('message', l) : port1.on('close', () => l(0)))) as ProcessPortLike['on'],
      close: () => {
        port1.close();
        port2.close();
      },
    },
  };
}

test('calls made before the engine is open are answered; the token is sealed with the key sent first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-host-'));
  const { host, main } = channel();
  try {
    const key = randomBytes(32);
    const link = linkToEngineProcess(main);
    const started = startEngineHost(host, join(dir, 'site.sqlite'));
    const early = link.call('getFederationSettings', {}); // queued before the init message
    main.postMessage({ t: 'init', secrets: { key: key.toString('base64'), kind: 'electron-safeStorage' } });
    const r = await early;
    assert.equal(r.ok, true, JSON.stringify(r));
    const engine = await started;
    assert.ok(engine);
    engine.store.setSetting('app.federation.token', 'the-old-plain-token');
    engine.store.setSetting('app.federation', { hubUrl: 'ws://127.0.0.1:1', siteName: 'a' });
    await link.call('testConnection', {});
    const stored = engine.store.getSetting<{ sealed: string }>('app.federation.token');
    assert.equal(keySecretBox(key, 'check').open(stored!.sealed, 'app.federation.token'), 'the-old-plain-token');
    await engine.close();
  } finally {
    main.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an engine whose store is open in another FedSeg fails every call with that reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-host-'));
  const db = join(dir, 'site.sqlite');
  const first = channel();
  const second = channel();
  try {
    const running = startEngineHost(first.host, db);
    first.main.postMessage({ t: 'init', secrets: null });
    const engine = await running;
    assert.ok(engine);
    const link = linkToEngineProcess(second.main);
    const pending = link.call('listDatasets', {});
    second.main.postMessage({ t: 'init', secrets: null });
    assert.equal(await startEngineHost(second.host, db), null);
    for (const r of [await pending, await link.call('listDatasets', {})]) {
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, 'DB_ERROR');
      assert.match(!r.ok ? r.error.message : '', new RegExp(`could not start: this site's data is already open in another FedSeg \\(pid ${process.pid}\\)`));
    }
    await engine.close();
  } finally {
    first.main.close();
    second.main.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
