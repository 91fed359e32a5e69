// The message protocol between the Electron main process and the engine's utility process
// (engine-host.ts): {t:'call', id, method, args} -> {t:'result', id, envelope}; {t:'event', event, payload}.
// Messages are structured-cloned, so typed arrays (pictures, masks) cross without encoding.
import { isAppEventName, isAppMethodName, type AppEventName, type AppHandlers, type AppMethodName, type Envelope } from '../core/contract/app-api.js';
import { dispatch } from '../core/app/dispatch.js';
import type { EngineLink } from './ipc-bridge.js';

export type HostMessage = { t: 'call'; id: number; method: string; args: unknown };
export type LinkMessage = { t: 'result'; id: number; envelope: Envelope<unknown> } | { t: 'event'; event: string; payload: unknown } | { t: 'ready' };

export interface ProcessPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  on(event: 'exit', listener: (code: number) => void): void;
}

/** Main side: turns the utility process into an EngineLink. Calls fail cleanly if the process dies. */
export function linkToEngineProcess(proc: ProcessPortLike): EngineLink {
  let nextId = 1;
  let dead: string | null = null;
  const pending = new Map<number, (e: Envelope<unknown>) => void>();
  const listeners = new Set<(event: AppEventName, payload: unknown) => void>();
  proc.on('message', (raw) => {
    const m = raw as LinkMessage;
    if (m?.t === 'result') {
      const done = pending.get(m.id);
      pending.delete(m.id);
      done?.(m.envelope);
    } else if (m?.t === 'event' && isAppEventName(m.event)) {
      for (const l of listeners) l(m.event, m.payload);
    }
  });
  proc.on('exit', (code) => {
    dead = `the FedSeg engine stopped (exit code ${code}); restart the app`;
    for (const done of pending.values()) done({ ok: false, error: { code: 'INTERNAL', message: dead } });
    pending.clear();
  });
  return {
    call(method, args) {
      if (dead) return Promise.resolve({ ok: false, error: { code: 'INTERNAL', message: dead } });
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        proc.postMessage({ t: 'call', id, method, args } satisfies HostMessage);
      });
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

export interface HostPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

/** Utility-process side: answers calls with the engine's handlers and streams its events. */
export function serveEngine(port: HostPortLike, engine: { handlers: AppHandlers; subscribe(l: (event: AppEventName, payload: unknown) => void): () => void }): () => void {
  const off = engine.subscribe((event, payload) => port.postMessage({ t: 'event', event, payload } satisfies LinkMessage));
  port.on('message', (e) => {
    const m = e.data as HostMessage;
    if (m?.t !== 'call' || typeof m.id !== 'number') return;
    const method: unknown = m.method;
    void dispatch(engine.handlers, isAppMethodName(method) ? method : String(method), m.args).then((envelope) =>
      port.postMessage({ t: 'result', id: m.id, envelope } satisfies LinkMessage),
    );
  });
  port.postMessage({ t: 'ready' } satisfies LinkMessage);
  return off;
}

export type { AppMethodName };
