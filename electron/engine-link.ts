// The message protocol between the Electron main process and the engine's utility process
// (engine-host.ts): {t:'call', id, method, args} -> {t:'result', id, envelope}; {t:'event', event, payload}.
// Messages are structured-cloned, so typed arrays (pictures, masks) cross without encoding.
// The first message to the host is {t:'init', secrets}: the key the OS keychain unwrapped in the main
// process (safeStorage exists only there; docs/security.md §5), or null for the key file next to the
// store. A host that cannot start (the store is open in another FedSeg) says why with {t:'fatal'}.
import { isAppEventName, isAppMethodName, type AppEventName, type AppHandlers, type AppMethodName, type Envelope } from '../core/contract/app-api.js';
import type { ErrorValue } from '../core/contract/errors.js';
import { dispatch } from '../core/app/dispatch.js';
import type { EngineLink } from './ipc-bridge.js';

/** The engine's secret box key (base64 of 32 bytes) and where it is kept, in words. */
export interface EngineSecrets {
  key: string;
  kind: string;
}
export type InitMessage = { t: 'init'; secrets: EngineSecrets | null };
export type HostMessage = { t: 'call'; id: number; method: string; args: unknown } | InitMessage;
export type LinkMessage = { t: 'result'; id: number; envelope: Envelope<unknown> } | { t: 'event'; event: string; payload: unknown } | { t: 'ready' } | { t: 'fatal'; error: ErrorValue };

export interface ProcessPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  on(event: 'exit', listener: (code: number) => void): void;
}

/** Main side: turns the utility process into an EngineLink. Calls fail cleanly if the process dies. */
export function linkToEngineProcess(proc: ProcessPortLike): EngineLink {
  let nextId = 1;
  let dead: ErrorValue | null = null;
  let fatal: ErrorValue | null = null;
  const pending = new Map<number, (e: Envelope<unknown>) => void>();
  const listeners = new Set<(event: AppEventName, payload: unknown) => void>();
  const fail = (why: ErrorValue) => {
    dead = why;
    for (const done of pending.values()) done({ ok: false, error: why });
    pending.clear();
  };
  proc.on('message', (raw) => {
    const m = raw as LinkMessage;
    if (m?.t === 'result') {
      const done = pending.get(m.id);
      pending.delete(m.id);
      done?.(m.envelope);
    } else if (m?.t === 'event' && isAppEventName(m.event)) {
      for (const l of listeners) l(m.event, m.payload);
    } else if (m?.t === 'fatal') {
      fatal = { code: m.error.code, message: `the FedSeg engine could not start: ${m.error.message}` };
      fail(fatal);
    }
  });
  proc.on('exit', (code) => {
    fail(fatal ?? { code: 'INTERNAL', message: `the FedSeg engine stopped (exit code ${code}); restart the app` });
  });
  return {
    call(method, args) {
      if (dead) return Promise.resolve({ ok: false, error: dead });
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

/**
 * Utility-process side, before the engine exists: resolves with the init message and a port that replays
 * the calls which arrived meanwhile (the window may ask before the store is open), then passes on the rest.
 */
export function receiveInit(port: HostPortLike): Promise<{ init: InitMessage; port: HostPortLike }> {
  const early: { data: unknown }[] = [];
  let consumers: ((e: { data: unknown }) => void)[] | null = null;
  return new Promise((resolve) => {
    let initDone = false;
    port.on('message', (e) => {
      const m = e.data as HostMessage;
      if (!initDone && m?.t === 'init') {
        initDone = true;
        resolve({
          init: { t: 'init', secrets: m.secrets && typeof m.secrets.key === 'string' ? { key: m.secrets.key, kind: String(m.secrets.kind) } : null },
          port: {
            postMessage: (msg) => port.postMessage(msg),
            on: (_ev, listener) => {
              (consumers ??= []).push(listener);
              for (const x of early.splice(0)) listener(x);
            },
          },
        });
        return;
      }
      if (consumers) for (const l of consumers) l(e);
      else early.push(e);
    });
  });
}
