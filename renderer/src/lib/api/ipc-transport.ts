// Electron transport: the preload's window.api bridge (contextIsolation on; see electron/preload.ts).
import type { AppBridge } from '../../../../core/contract/app-api.js';
import type { Transport } from './client.js';

export function createIpcTransport(bridge: AppBridge): Transport {
  return {
    invoke: (method, args) => bridge.invoke(method, args as never),
    onEvent: (listener) => bridge.on(listener),
  };
}
