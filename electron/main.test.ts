// startShell with a fake Electron (the real one is not installable here): the window, session, IPC and
// utility-process wiring that main.ts does, checked call by call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { IPC_INVOKE } from '../core/contract/app-api.js';
import type { ElectronMainLike, WebPreferencesLike } from './electron-api.js';
import { startShell } from './main.js';
import { RENDERER_CSP } from './security.js';

test('startShell wires a locked-down window to the engine utility process', async () => {
  const log: string[] = [];
  let prefs: WebPreferencesLike | null = null;
  let headersHook: ((d: { url: string; responseHeaders?: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void) | null = null;
  let permissionHook: ((wc: unknown, p: string, cb: (g: boolean) => void) => void) | null = null;
  let openHandler: ((d: { url: string }) => { action: string }) | null = null;
  const wcEvents = new EventEmitter();
  const ipcHandlers = new Map<string, unknown>();
  const appEvents = new EventEmitter();
  let forkEnv: Record<string, string | undefined> | undefined;
  let forkPath = '';
  const proc = new EventEmitter();
  const electron: ElectronMainLike = {
    app: {
      whenReady: async () => void log.push('ready'),
      on: (ev, l) => void appEvents.on(ev, l),
      quit: () => void log.push('quit'),
      getPath: () => '/home/op/.config/FedSeg',
      enableSandbox: () => void log.push('sandbox'),
    },
    BrowserWindow: class {
      webContents = {
        id: 7,
        send: () => undefined,
        setWindowOpenHandler: (h: (d: { url: string }) => { action: 'deny' | 'allow' }) => void (openHandler = h),
        on: (ev: string, l: (...a: unknown[]) => void) => void wcEvents.on(ev, l),
        isDestroyed: () => false,
      };
      constructor(o: { webPreferences: WebPreferencesLike }) {
        prefs = o.webPreferences;
      }
      async loadFile(p: string) {
        log.push(`load ${p}`);
      }
      on() {}
    } as unknown as ElectronMainLike['BrowserWindow'],
    ipcMain: { handle: (c, h) => void ipcHandlers.set(c, h), removeHandler: (c) => void ipcHandlers.delete(c) },
    session: {
      defaultSession: {
        webRequest: { onHeadersReceived: (h) => void (headersHook = h) },
        setPermissionRequestHandler: (h) => void (permissionHook = h),
      },
    },
    utilityProcess: {
      fork: (p, _a, o) => {
        forkPath = p;
        forkEnv = o?.env;
        return { postMessage: () => undefined, on: (ev: string, l: (...a: unknown[]) => void) => void proc.on(ev, l), kill: () => true } as never;
      },
    },
  };
  delete process.env.FEDSEG_DB;
  await startShell(electron, { buildDir: '/app/dist-electron', rendererDir: '/app/dist-renderer' });

  assert.deepEqual(log, ['sandbox', 'ready', 'load /app/dist-renderer/index.html']);
  assert.equal(forkPath, '/app/dist-electron/engine-host.mjs');
  assert.equal(forkEnv?.FEDSEG_DB, '/home/op/.config/FedSeg/site.sqlite');
  assert.equal(forkEnv?.FEDSEG_JOB_WORKER, '/app/dist-electron/job-worker.mjs');
  const wp = prefs as WebPreferencesLike | null;
  assert.ok(wp);
  assert.equal(wp.contextIsolation && wp.sandbox && !wp.nodeIntegration, true);
  assert.equal(wp.preload, '/app/dist-electron/preload.cjs');
  assert.ok(ipcHandlers.has(IPC_INVOKE));
  let headers: Record<string, string[]> = {};
  headersHook!({ url: 'file:///app/dist-renderer/index.html', responseHeaders: {} }, (r) => (headers = r.responseHeaders));
  assert.deepEqual(headers['Content-Security-Policy'], [RENDERER_CSP]);
  let granted = true;
  permissionHook!(null, 'media', (g) => (granted = g));
  assert.equal(granted, false);
  assert.equal(openHandler!({ url: 'https://example.org' }).action, 'deny');
  let prevented = 0;
  wcEvents.emit('will-navigate', { preventDefault: () => prevented++ }, 'https://example.org');
  wcEvents.emit('will-redirect', { preventDefault: () => prevented++ }, 'https://example.org');
  wcEvents.emit('will-attach-webview', { preventDefault: () => prevented++ });
  assert.equal(prevented, 3);
  appEvents.emit('window-all-closed');
  assert.ok(log.includes('quit'));
});
