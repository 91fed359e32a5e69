// A server-side ws WebSocket as a contract Connection (the hub's end; the site has its own client end),
// with the front door's pass (front-door.ts): `authenticated()` lifts the pre-authentication limits,
// a budget violation reaches the session as an error event, and a connection closed before it was
// authenticated is dropped if the peer does not finish the closing handshake within a second (a client
// that ignores close frames must not keep its socket for ws's 30 s; docs/security.md §6).
import type { WebSocket } from 'ws';
import type { Connection, ConnectionEvents } from '../core/contract/transport.js';
import type { DoorPass } from './front-door.js';

const PRE_AUTH_CLOSE_GRACE_MS = 1000;

export function wrapWebSocket(ws: WebSocket, remote: string, pass?: DoorPass): Connection {
  const open = () => ws.readyState === ws.OPEN;
  return {
    remote,
    isOpen: open,
    send: (data, done) => {
      if (open()) ws.send(data, () => done?.());
    },
    close: (code, reason) => {
      ws.close(code, reason);
      if (pass && !pass.isAuthenticated) {
        const t = setTimeout(() => ws.terminate(), PRE_AUTH_CLOSE_GRACE_MS);
        t.unref();
        ws.once('close', () => clearTimeout(t));
      }
    },
    terminate: () => ws.terminate(),
    ping: () => {
      if (open()) ws.ping();
    },
    authenticated: () => pass?.authenticated(),
    listen(ev: ConnectionEvents) {
      pass?.onViolation((e) => ev.onError?.(e));
      ws.on('error', (e: Error & { code?: string }) => ev.onError?.({ message: e.message, ...(e.code ? { code: e.code } : {}) }));
      ws.on('pong', () => ev.onPong?.());
      ws.on('close', (code: number, reason: Buffer) => ev.onClose(code, reason.toString()));
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        ev.onMessage(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'), isBinary);
      });
    },
  };
}
