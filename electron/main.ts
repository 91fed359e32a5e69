// Electron main process: wiring only. One window (context isolation, no Node, sandbox, strict CSP,
// no navigation, no new windows, no permissions), the engine in a utility process (engine-host.ts),
// the app API over IPC with sender checks (ipc-bridge.ts). Built to dist-electron/main.cjs by
// electron/build.mjs; started by `npm start` (electron/start.mjs).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ElectronMainLike } from './electron-api.js';
import { forwardEvents, registerAppApi } from './ipc-bridge.js';
import { linkToEngineProcess } from './engine-link.js';
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
  await app.whenReady();
  const dbPath = process.env.FEDSEG_DB ?? join(app.getPath('userData'), 'site.sqlite');
  const engineProc = utilityProcess.fork(join(paths.buildDir, 'engine-host.mjs'), [], {
    serviceName: 'FedSeg engine',
    env: { ...process.env, FEDSEG_DB: dbPath, FEDSEG_JOB_WORKER: join(paths.buildDir, 'job-worker.mjs') },
  });
  const link = linkToEngineProcess(engineProc);

  session.defaultSession.webRequest.onHeadersReceived((details, cb) => cb({ responseHeaders: withCsp(details.responseHeaders) }));
  session.defaultSession.setPermissionRequestHandler((_wc, permission, cb) => cb(allowPermission(permission)));

  const index = join(paths.rendererDir, 'index.html');
  const win = new BrowserWindow({ width: 1280, height: 860, title: 'FedSeg', webPreferences: secureWebPreferences(join(paths.buildDir, 'preload.cjs')) });
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
