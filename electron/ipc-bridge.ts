// Main-process side of the app API: one ipcMain handler for every method (the channel carries the method
// name; the contract's schemas validate it and its arguments), sender-frame checks on every call, and the
// engine's events forwarded to the window. The engine itself runs in a utility process (engine-link.ts),
// so nothing here blocks on training.
import { IPC_EVENT, IPC_INVOKE, type AppEventName, type AppMethodName, type Envelope } from '../core/contract/app-api.js';
import { toErrorValue } from '../core/contract/errors.js';
import { validateArgs } from '../core/app/dispatch.js';
import type { IpcMainLike, WebContentsLike } from './electron-api.js';
import { isTrustedSender } from './security.js';

/** How main reaches the engine (a utility process in the app; anything in tests). */
export interface EngineLink {
  call(method: AppMethodName, args: unknown): Promise<Envelope<unknown>>;
  onEvent(listener: (event: AppEventName, payload: unknown) => void): () => void;
}

export function registerAppApi(ipcMain: IpcMainLike, link: EngineLink, trustedUrl: string): () => void {
  ipcMain.handle(IPC_INVOKE, async (event, method, args): Promise<Envelope<unknown>> => {
    if (!isTrustedSender(event.senderFrame, trustedUrl))
      return { ok: false, error: { code: 'AUTH_FAILED', message: `app API call refused: it did not come from the FedSeg window (${event.senderFrame?.url ?? 'no frame'})` } };
    try {
      const v = validateArgs(method, args);
      return await link.call(v.method, v.args);
    } catch (e) {
      return { ok: false, error: toErrorValue(e) };
    }
  });
  return () => ipcMain.removeHandler(IPC_INVOKE);
}

export function forwardEvents(link: EngineLink, wc: WebContentsLike): () => void {
  return link.onEvent((event, payload) => {
    if (!wc.isDestroyed()) wc.send(IPC_EVENT, event, payload);
  });
}
