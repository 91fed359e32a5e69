// A server-side ws WebSocket as a contract Connection (the hub's end; the site has its own client end).
import type { WebSocket } from 'ws';
import type { Connection, ConnectionEvents } from '../core/contract/transport.js';

export function wrapWebSocket(ws: WebSocket, remote: string): Connection {
  const open = () => ws.readyState === ws.OPEN;
  return {
    remote,
    isOpen: open,
    send: (data, done) => {
      if (open()) ws.send(data, () => done?.());
    },
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    ping: () => {
      if (open()) ws.ping();
    },
    listen(ev: ConnectionEvents) {
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
