// Browser-mode transport: the app API over a WebSocket to the local FedSeg server (core/serve).
// The page is served from /<token>/, so the relative URL 'api' carries the session token.
import type { AppEventName, AppMethodName, Envelope } from '../../../../core/contract/app-api.js';
import { decodeWire, encodeWire, type WireFrame } from '../../../../core/contract/wire-json.js';
import type { Transport } from './client.js';
import type { ErrorValue } from '../../../../core/contract/errors.js';

export function wsUrlFor(pageHref: string): string {
  const u = new URL('api', pageHref);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  return u.toString();
}

export function createWsTransport(url: string, onStatus?: (s: 'open' | 'closed') => void): Transport {
  let nextId = 1;
  const pending = new Map<number, (env: Envelope<unknown>) => void>();
  const listeners = new Set<(e: AppEventName, p: unknown) => void>();
  let ws: WebSocket | null = null;
  let opened: Promise<WebSocket> | null = null;

  const connect = (): Promise<WebSocket> => {
    if (opened) return opened;
    opened = new Promise((resolve, reject) => {
      const sock = new WebSocket(url);
      sock.onopen = () => {
        ws = sock;
        onStatus?.('open');
        resolve(sock);
      };
      sock.onerror = () => reject(new Error('cannot reach the FedSeg server (is `fedseg serve` still running?)'));
      sock.onclose = () => {
        ws = null;
        opened = null;
        onStatus?.('closed');
        for (const [, done] of pending) done({ ok: false, error: { code: 'CONNECTION_FAILED', message: 'the connection to the FedSeg server was lost' } });
        pending.clear();
      };
      sock.onmessage = (ev) => {
        const frame = decodeWire(String(ev.data)) as WireFrame;
        if (frame.t === 'result') {
          const done = pending.get(frame.id);
          pending.delete(frame.id);
          done?.(frame.ok ? { ok: true, value: frame.value } : { ok: false, error: frame.error as ErrorValue });
        } else if (frame.t === 'event') {
          for (const l of listeners) l(frame.event as AppEventName, frame.payload);
        }
      };
    });
    return opened;
  };

  return {
    async invoke(method: AppMethodName, args: unknown) {
      let sock: WebSocket;
      try {
        sock = ws ?? (await connect());
      } catch (e) {
        return { ok: false, error: { code: 'CONNECTION_FAILED', message: (e as Error).message } };
      }
      const id = nextId++;
      return new Promise<Envelope<unknown>>((resolve) => {
        pending.set(id, resolve);
        sock.send(encodeWire({ t: 'call', id, method, args }));
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      void connect().catch(() => undefined);
      return () => listeners.delete(listener);
    },
  };
}
