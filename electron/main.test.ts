// startShell with a fake Electron (the real one is not installable here): the window, session, IPC and
// utility-process wiring that main.ts does, checked call by call; the single-instance lock (a second
// start quits, the first window comes to the front) and the keychain-wrapped key sent to the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPC_INVOKE } from '../core/contract/app-api.js';
import type { ElectronMainLike, WebPreferencesLike } from './electron-api.js';
import type { HostMessage } from './engine-link.js';
import { startShell } from './main.js';
import { RENDERER_CSP } from './security.js';
import { osKeychain } from '../test/helpers/os-keychain.js';

test('startShell wires a locked-down window to the engine utility process', async () => {
  const userData = mkdtempSync(join(tmpdir(), 'fedseg-shell-'));
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
  const toEngine: HostMessage[] = [];
  const proc = new EventEmitter();
  const electron: ElectronMainLike = {
    app: {
      whenReady: async () => void log.push('ready'),
      on: (ev, l) => void appEvents.on(ev, l),
      quit: () => void log.push('quit'),
      getPath: () => userData,
      enableSandbox: () => void log.push('sandbox'),
      requestSingleInstanceLock: () => true,
    },
    safeStorage: osKeychain('gnome_libsecret'),
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
      isMinimized() {
        return true;
      }
      restore() {
        log.push('restore');
      }
      focus() {
        log.push('focus');
      }
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
        return { postMessage: (m: HostMessage) => void toEngine.push(m), on: (ev: string, l: (...a: unknown[]) => void) => void proc.on(ev, l), kill: () => true } as never;
      },
    },
  };
  delete process.env.FEDSEG_DB;
  await startShell(electron, { buildDir: '/app/dist-electron', rendererDir: '/app/dist-renderer' });

  assert.deepEqual(log, ['sandbox', 'ready', 'load /app/dist-renderer/index.html']);
  assert.equal(forkPath, '/app/dist-electron/engine-host.mjs');
  assert.equal(forkEnv?.FEDSEG_DB, join(userData, 'site.sqlite'));
  // The engine's first message is its key, unwrapped by the keychain; on disk it is only wrapped.
  const init = toEngine[0];
  assert.ok(init?.t === 'init' && init.secrets, 'the engine is sent its key first');
  assert.equal(Buffer.from(init.secrets.key, 'base64').length, 32);
  assert.match(init.secrets.kind, /safeStorage \(gnome_libsecret\)/);
  assert.equal(JSON.stringify(forkEnv).includes(init.secrets.key), false, 'the key is not in the environment');
  assert.equal(readFileSync(join(userData, 'secret.key.safe')).includes(Buffer.from(init.secrets.key)), false, 'the key file holds it wrapped');
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
  appEvents.emit('second-instance');
  assert.deepEqual(log.slice(-2), ['restore', 'focus'], 'a second start brings the window back');
  appEvents.emit('window-all-closed');
  assert.ok(log.includes('quit'));
  rmSync(userData, { recursive: true, force: true });
});

test('a second instance quits before opening a window or an engine', async () => {
  const log: string[] = [];
  const electron = {
    app: {
      whenReady: async () => void log.push('ready'),
      on: () => undefined,
      quit: () => void log.push('quit'),
      getPath: () => tmpdir(),
      enableSandbox: () => void log.push('sandbox'),
      requestSingleInstanceLock: () => false,
    },
    safeStorage: osKeychain('gnome_libsecret'),
    BrowserWindow: class {
      constructor() {
        log.push('window');
      }
    },
    utilityProcess: { fork: () => void log.push('fork') },
  } as unknown as ElectronMainLike;
  await startShell(electron, { buildDir: '/app/dist-electron', rendererDir: '/app/dist-renderer' });
  assert.deepEqual(log, ['sandbox', 'quit']);
});
