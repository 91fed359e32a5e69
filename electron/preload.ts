// Preload (sandboxed, context-isolated): exposes exactly two functions as window.api, typed by the
// contract's AppBridge. Only type imports, so nothing but Electron's own module loads here.
import type { AppBridge, AppEventName } from '../core/contract/app-api.js';
import type { ContextBridgeLike, IpcRendererLike } from './electron-api.js';

// Must equal IPC_INVOKE / IPC_EVENT in core/contract/app-api.ts (checked by preload.test.ts).
export const INVOKE = 'fedseg:invoke';
export const EVENT = 'fedseg:event';

export function makeBridge(ipc: IpcRendererLike): AppBridge {
  return {
    invoke: ((method: string, args: unknown) => ipc.invoke(INVOKE, method, args)) as AppBridge['invoke'],
    on(listener) {
      const f = (_e: unknown, event: unknown, payload: unknown) => listener(event as AppEventName, payload);
      ipc.on(EVENT, f);
      return () => ipc.removeListener(EVENT, f);
    },
  };
}

declare const require: ((id: 'electron') => { contextBridge: ContextBridgeLike; ipcRenderer: IpcRendererLike }) | undefined;
if (typeof require === 'function' && typeof process !== 'undefined' && (process as { type?: string }).type === 'renderer') {
  const { contextBridge, ipcRenderer } = require('electron');
  contextBridge.exposeInMainWorld('api', makeBridge(ipcRenderer));
}
