// Picks the transport: Electron's preload bridge when present, else the browser-mode WebSocket.
import type { AppBridge, AppClient } from '../../../../core/contract/app-api.js';
import { createClient } from './client.js';
import { createIpcTransport } from './ipc-transport.js';
import { createWsTransport, wsUrlFor } from './ws-transport.js';

export { ApiError } from './client.js';

declare global {
  interface Window {
    api?: AppBridge;
  }
}

type Status = 'connecting' | 'open' | 'closed';
const statusListeners = new Set<(s: Status) => void>();
let status: Status = 'connecting';
function setStatus(s: Status) {
  status = s;
  for (const l of statusListeners) l(s);
}
/** Connection status of the transport (Electron is always 'open'). */
export function onConnectionStatus(cb: (s: Status) => void): () => void {
  statusListeners.add(cb);
  cb(status);
  return () => statusListeners.delete(cb);
}

export const shell: 'electron' | 'browser' = typeof window !== 'undefined' && window.api ? 'electron' : 'browser';

function pick(): AppClient {
  if (shell === 'electron' && window.api) {
    setStatus('open');
    return createClient(createIpcTransport(window.api));
  }
  return createClient(createWsTransport(wsUrlFor(window.location.href), setStatus));
}

export const api: AppClient = pick();
