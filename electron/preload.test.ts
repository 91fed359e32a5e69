import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPC_EVENT, IPC_INVOKE } from '../core/contract/app-api.js';
import type { IpcRendererLike } from './electron-api.js';
import { EVENT, INVOKE, makeBridge } from './preload.js';

test('the preload uses the contract channel names', () => {
  assert.equal(INVOKE, IPC_INVOKE);
  assert.equal(EVENT, IPC_EVENT);
});

test('window.api forwards invoke and event subscriptions over ipcRenderer', async () => {
  const invoked: unknown[][] = [];
  const listeners = new Map<string, Set<(e: unknown, ...a: unknown[]) => void>>();
  const ipc: IpcRendererLike = {
    invoke: async (...a) => (invoked.push(a), { ok: true, value: 42 }),
    on: (c, l) => void (listeners.get(c) ?? listeners.set(c, new Set()).get(c)!).add(l),
    removeListener: (c, l) => void listeners.get(c)?.delete(l),
  };
  const api = makeBridge(ipc);
  assert.deepEqual(await api.invoke('listDatasets', {}), { ok: true, value: 42 });
  assert.deepEqual(invoked, [[IPC_INVOKE, 'listDatasets', {}]]);
  const got: unknown[] = [];
  const off = api.on((e, p) => got.push([e, p]));
  for (const l of listeners.get(IPC_EVENT)!) l({}, 'importProgress', { done: 1 });
  off();
  assert.equal(listeners.get(IPC_EVENT)!.size, 0);
  assert.deepEqual(got, [['importProgress', { done: 1 }]]);
});

test('the shell bundles: a small self-contained preload and the engine host', () => {
  const out = mkdtempSync(join(tmpdir(), 'fedseg-electron-build-'));
  try {
    const r = spawnSync(process.execPath, ['electron/build.mjs', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['main.cjs', 'preload.cjs', 'engine-host.mjs', 'job-worker.mjs', 'wasm-thread-worker.cjs']) assert.ok(statSync(join(out, f)).size > 0, f);
    const preload = readFileSync(join(out, 'preload.cjs'), 'utf8');
    assert.ok(preload.length < 8000, `preload is ${preload.length} bytes`);
    assert.doesNotMatch(preload, /require\("(?!electron")/, 'the sandboxed preload may require only electron');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('npm start explains in one line when Electron cannot start', () => {
  let installed = true;
  try {
    installed = typeof createRequire(import.meta.url)('electron') === 'string';
  } catch {
    installed = false;
  }
  if (installed) return; // a machine with Electron starts the app instead
  const r = spawnSync(process.execPath, ['electron/start.mjs'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /npm run serve/);
});
