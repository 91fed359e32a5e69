// The subset of Electron's API the shell uses, as plain TypeScript interfaces. Electron is an optional
// dependency that cannot be installed everywhere (its binary download fails offline), so the shell is
// typed against these and receives the real objects at run time (`require('electron')` in main.ts);
// tests pass fakes. Names and signatures follow Electron's own documentation.

export interface WebFrameMainLike {
  url: string;
  /** The top frame of the window (null when detached). */
  top: WebFrameMainLike | null;
}

export interface IpcMainInvokeEventLike {
  senderFrame: WebFrameMainLike | null;
  sender: { id: number };
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcMainInvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface WebContentsLike {
  id: number;
  send(channel: string, ...args: unknown[]): void;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
  on(event: 'will-navigate' | 'will-redirect', listener: (event: { preventDefault(): void }, url: string) => void): void;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): void;
  isDestroyed(): boolean;
}

export interface WebPreferencesLike {
  preload: string;
  contextIsolation: boolean;
  nodeIntegration: boolean;
  nodeIntegrationInWorker: boolean;
  nodeIntegrationInSubFrames: boolean;
  sandbox: boolean;
  webSecurity: boolean;
  allowRunningInsecureContent: boolean;
  webviewTag: boolean;
  spellcheck: boolean;
  navigateOnDragDrop: boolean;
}

export interface BrowserWindowLike {
  webContents: WebContentsLike;
  loadFile(path: string): Promise<void>;
  on(event: 'closed', listener: () => void): void;
  isMinimized(): boolean;
  restore(): void;
  focus(): void;
}

export type BrowserWindowCtor = new (opts: { width: number; height: number; title: string; show?: boolean; webPreferences: WebPreferencesLike }) => BrowserWindowLike;

export interface SessionLike {
  webRequest: {
    onHeadersReceived(listener: (details: { url: string; responseHeaders?: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void): void;
  };
  setPermissionRequestHandler(handler: (wc: unknown, permission: string, cb: (granted: boolean) => void) => void): void;
}

export interface UtilityProcessLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  on(event: 'exit', listener: (code: number) => void): void;
  kill(): boolean;
}

/** Electron's safeStorage (main process only): strings encrypted with a key the OS keychain keeps. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: 'basic_text' means no keychain (a hard-coded password), 'gnome_libsecret', 'kwallet5', ... */
  getSelectedStorageBackend?(): string;
}

export interface ElectronMainLike {
  app: {
    whenReady(): Promise<void>;
    on(event: 'window-all-closed' | 'before-quit' | 'second-instance', listener: () => void): void;
    quit(): void;
    getPath(name: 'userData'): string;
    enableSandbox(): void;
    /** False when another instance of the app holds the lock (it gets 'second-instance'). */
    requestSingleInstanceLock(): boolean;
  };
  safeStorage: SafeStorageLike;
  BrowserWindow: BrowserWindowCtor;
  ipcMain: IpcMainLike;
  session: { defaultSession: SessionLike };
  utilityProcess: { fork(modulePath: string, args?: string[], opts?: { serviceName?: string; env?: Record<string, string | undefined> }): UtilityProcessLike };
}

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
}

export interface ContextBridgeLike {
  exposeInMainWorld(key: string, api: unknown): void;
}
