// The site's WebSocket connection (ws / wss, optional private CA), as a contract Connection, and the
// plain-words explanation of socket failures shown to operators. The transport rule comes first
// (docs/security.md §2, Transport; tls-trust.ts siteTransportPolicy): a plain ws:// URL to another
// computer is refused before any socket is opened unless `insecure`, and its warnings reach the caller.
import WebSocket from 'ws';
import { FedSegError } from '../contract/errors.js';
import type { Connection, ConnectionEvents, Connector } from '../contract/transport.js';
import { enforcePin, siteTransportPolicy, tlsOptions } from './tls-trust.js';

/** Warnings already printed by the default handler (a reconnecting site would repeat them every attempt). */
const warned = new Set<string>();

export const wsConnector: Connector = (url, opts) => {
  for (const w of siteTransportPolicy(url, opts)) {
    if (opts.onWarning) opts.onWarning(w);
    else if (!warned.has(w)) {
      warned.add(w);
      console.warn(w);
    }
  }
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, { maxPayload: opts.maxPayload, handshakeTimeout: opts.handshakeTimeoutMs, ...tlsOptions(opts) });
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', `bad hub URL '${url}': ${(e as Error).message}`);
  }
  const conn = wrapWebSocket(ws, url);
  // A mismatching pinned certificate surfaces as a TLS error before any message is sent.
  let pinError: string | null = null;
  enforcePin(ws, opts.trustedFingerprint, (why) => (pinError = why));
  const listen = conn.listen.bind(conn);
  conn.listen = (ev) => listen({ ...ev, onClose: (code, reason) => {
    if (pinError) ev.onError?.({ code: 'CERT_PIN_MISMATCH', message: pinError });
    ev.onClose(code, pinError ? `TLS: ${pinError}` : reason);
  } });
  return conn;
};

/** A ws WebSocket (either end) as a Connection. */
export function wrapWebSocket(ws: WebSocket, remote: string): Connection {
  return {
    remote,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send(data, done) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(data, () => done?.());
    },
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    ping: () => {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    },
    listen(ev: ConnectionEvents) {
      ws.on('open', () => ev.onOpen?.());
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

/** What went wrong with a connection, in words an operator can act on. */
export function describeSocketError(e: { code?: string; message: string } | undefined): string {
  if (!e) return 'connection closed';
  const c = e.code ?? '';
  if (c === 'ECONNREFUSED') return 'connection refused (is the hub running, and is the port right?)';
  if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return 'host name not found (DNS)';
  if (c === 'ETIMEDOUT') return 'timed out (firewall or wrong address?)';
  if (c === 'ECONNRESET') return 'connection reset';
  if (/certificate|self.signed|SSL|TLS/i.test(e.message) || c.startsWith('ERR_TLS') || c.includes('CERT'))
    return `TLS error: ${e.message} (pass the hub's certificate with --ca)`;
  return e.message || c || 'unknown error';
}
