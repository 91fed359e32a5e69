// Electron main process: wiring only. One window (context isolation, no Node, sandbox, strict CSP,
// no navigation, no new windows, no permissions), the engine in a utility process (engine-host.ts),
// the app API over IPC with sender checks (ipc-bridge.ts). Built to dist-electron/main.cjs by
// electron/build.mjs; started by `npm start` (electron/start.mjs). One instance per user: a second
// start focuses the first window and quits; the engine gets its secret key from the OS keychain
// (secret-box.ts; docs/security.md §5).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BrowserWindowLike, ElectronMainLike } from './electron-api.js';
import { forwardEvents, registerAppApi } from './ipc-bridge.js';
import { linkToEngineProcess, type HostMessage } from './engine-link.js';
import { keychainSecretKey } from './secret-box.js';
import { allowNavigation, allowPermission, rendererUrl, secureWebPreferences, withCsp } from './security.js';

export interface ShellPaths {
  /** Folder holding main.cjs, preload.cjs, engine-host.mjs, job-worker.mjs. */
  buildDir: string;
  /** Folder holding the built renderer (index.html). */
  rendererDir: string;
}

export async function startShell(electron: ElectronMainLike, paths: ShellPaths): Promise<void> {
  const { app, BrowserWindow, ipcMain, session, utilityProcess } = electron;
  app.enableSandbox();
  // A second FedSeg of this user would open the same site store: it hands over to the first and quits.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  let win: BrowserWindowLike | null = null;
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  await app.whenReady();
  const userData = app.getPath('userData');
  const dbPath = process.env.FEDSEG_DB ?? join(userData, 'site.sqlite');
  const keyed = keychainSecretKey(electron.safeStorage, userData);
  if (keyed.warning) console.warn(`FedSeg: ${keyed.warning}`);
  const engineProc = utilityProcess.fork(join(paths.buildDir, 'engine-host.mjs'), [], {
    serviceName: 'FedSeg engine',
    env: { ...process.env, FEDSEG_DB: dbPath, FEDSEG_JOB_WORKER: join(paths.buildDir, 'job-worker.mjs') },
  });
  engineProc.postMessage({ t: 'init', secrets: keyed.secrets } satisfies HostMessage);
  const link = linkToEngineProcess(engineProc);

  session.defaultSession.webRequest.onHeadersReceived((details, cb) => cb({ responseHeaders: withCsp(details.responseHeaders) }));
  session.defaultSession.setPermissionRequestHandler((_wc, permission, cb) => cb(allowPermission(permission)));

  const index = join(paths.rendererDir, 'index.html');
  win = new BrowserWindow({ width: 1280, height: 860, title: 'FedSeg', webPreferences: secureWebPreferences(join(paths.buildDir, 'preload.cjs')) });
  const wc = win.webContents;
  wc.setWindowOpenHandler(({ url }) => ({ action: allowNavigation(url) ? 'allow' : 'deny' }));
  wc.on('will-navigate', (e, url) => {
    if (!allowNavigation(url)) e.preventDefault();
  });
  wc.on('will-redirect', (e, url) => {
    if (!allowNavigation(url)) e.preventDefault();
  });
  wc.on('will-attach-webview', (e) => e.preventDefault());
  const unregister = registerAppApi(ipcMain, link, rendererUrl(index));
  const stopEvents = forwardEvents(link, wc);
  win.on('closed', () => {
    win = null;
    stopEvents();
    unregister();
  });
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', () => void engineProc.kill());
  await win.loadFile(index);
}

// When bundled as dist-electron/main.cjs and run by Electron: start.
const versions = process.versions as Record<string, string | undefined>;
if (versions.electron) {
  const require = createRequire(__filename);
  const electron = require('electron') as ElectronMainLike;
  startShell(electron, { buildDir: __dirname, rendererDir: join(__dirname, '..', 'dist-renderer') }).catch((e: unknown) => {
    console.error(`FedSeg could not start: ${(e as Error).message}`);
    electron.app.quit();
  });
}
