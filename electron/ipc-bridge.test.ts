// The main-process bridge end to end in Node: a fake ipcMain/webContents (Electron is not installed here)
// in front of the real message link, the real engine host loop and the real engine on a temp SQLite file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appMethodNames, IPC_EVENT, IPC_INVOKE, type Envelope } from '../core/contract/app-api.js';
import { createEngine, type Engine } from '../core/app/index.js';
import type { IpcMainInvokeEventLike, IpcMainLike, WebContentsLike } from './electron-api.js';
import { linkToEngineProcess, serveEngine } from './engine-link.js';
import { forwardEvents, registerAppApi } from './ipc-bridge.js';
import { rendererUrl } from './security.js';

let dir: string;
let engine: Engine;
type Handler = (e: IpcMainInvokeEventLike, ...a: unknown[]) => unknown;
const handlers = new Map<string, Handler>();
const ipcMain: IpcMainLike = { handle: (c, l) => void handlers.set(c, l), removeHandler: (c) => void handlers.delete(c) };
const sent: unknown[][] = [];
const wc: WebContentsLike = { id: 1, send: (...a) => void sent.push(a), setWindowOpenHandler: () => undefined, on: () => undefined, isDestroyed: () => false };
const trusted = rendererUrl('/app/dist-renderer/index.html');
const calls: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-ipc-'));
  engine = await createEngine({ dbPath: join(dir, 'site.sqlite'), mode: 'electron' });
  // Two emitters stand for the utility process's two ends (process.parentPort <-> UtilityProcess).
  const toHost = new EventEmitter();
  const toMain = new EventEmitter();
  serveEngine({ postMessage: (m) => setImmediate(() => toMain.emit('message', m)), on: (_e, l) => void toHost.on('message', (m) => l({ data: m })) }, engine);
  const link = linkToEngineProcess({
    postMessage: (m) => {
      calls.push((m as { method: string }).method);
      setImmediate(() => toHost.emit('message', m));
    },
    on: (ev: string, l: (x: never) => void) => void toMain.on(ev, l as (...a: unknown[]) => void),
  });
  registerAppApi(ipcMain, link, trusted);
  forwardEvents(link, wc);
});

after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const invoke = (url: string, method: unknown, args: unknown) =>
  handlers.get(IPC_INVOKE)!({ senderFrame: { url, top: null }, sender: { id: 1 } }, method, args) as Promise<Envelope<unknown>>;

test('the engine implements every method of the contract (and nothing else)', () => {
  assert.deepEqual(Object.keys(engine.handlers).sort(), [...appMethodNames].sort());
});

test('a call from the FedSeg page reaches the engine and returns its value', async () => {
  const r = await invoke(trusted, 'generateDemoData', { kind: 'fundus', sites: 1, perSite: 2, size: 32 });
  assert.ok(r.ok, JSON.stringify(r));
  const list = await invoke(trusted, 'listDatasets', {});
  assert.ok(list.ok);
  assert.equal((list.value as { count: number }[])[0]!.count, 2);
  const s = await invoke(trusted, 'getSample', { datasetId: (list.value as { id: string }[])[0]!.id, index: 1 });
  assert.ok(s.ok);
  assert.ok((s.value as { image: { pixels: unknown } }).image.pixels instanceof Uint8Array, 'typed arrays cross as typed arrays');
});

test('calls from other frames, unknown methods and bad arguments never reach the engine', async () => {
  const before = calls.length;
  const foreign = await invoke('https://example.org/', 'listDatasets', {});
  assert.equal(foreign.ok, false);
  assert.equal(!foreign.ok && foreign.error.code, 'AUTH_FAILED');
  const unknown = await invoke(trusted, 'deleteEverything', {});
  assert.equal(!unknown.ok && unknown.error.code, 'INVALID_ARGUMENT');
  const bad = await invoke(trusted, 'getSample', { datasetId: '1', index: -3 });
  assert.equal(!bad.ok && bad.error.code, 'INVALID_ARGUMENT');
  assert.match(!bad.ok ? bad.error.message : '', /index/);
  assert.equal(calls.length, before, 'nothing was forwarded');
});

test('engine errors cross as {code, message}', async () => {
  const r = await invoke(trusted, 'getDatasetStats', { datasetId: '999' });
  assert.deepEqual(r.ok ? null : r.error.code, 'NOT_FOUND');
});

test('engine events are forwarded to the window', async () => {
  sent.length = 0;
  const r = await invoke(trusted, 'saveFederationSettings', { hubUrl: 'wss://hub.example.org:8443', siteName: 'site-a' });
  assert.ok(r.ok);
  await new Promise((res) => setTimeout(res, 20));
  const ev = sent.find((a) => a[0] === IPC_EVENT && a[1] === 'federationStatus');
  assert.ok(ev, 'federationStatus event sent');
  assert.equal((ev![2] as { hubUrl: string }).hubUrl, 'wss://hub.example.org:8443');
});

test('a dead engine process fails pending and later calls cleanly', async () => {
  const proc = new EventEmitter();
  const link = linkToEngineProcess({ postMessage: () => undefined, on: (ev: string, l: (x: never) => void) => void proc.on(ev, l as (...a: unknown[]) => void) });
  const pending = link.call('listDatasets', {});
  proc.emit('exit', 3);
  const r = await pending;
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error.message : '', /exit code 3/);
  assert.equal((await link.call('listDatasets', {})).ok, false);
});
