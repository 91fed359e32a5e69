// The hub's WebSocket transport: ws:// or wss:// (TLS from a certificate and key file) with the
// message size limit of the hub's config, and on the same port GET /status and GET /healthz.
// Connections are handed over as contract Connections. Its front door (docs/security.md §6,
// front-door.ts) caps connections, times out handshakes and holds each connection to a small byte
// budget until its Hello is accepted; GET /status shows the full status document only with the admin
// token (admin-token.ts), anyone else gets the public aggregate view. Plain ws:// is served only on
// loopback unless the config says `insecure` (docs/security.md §2, Transport).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { FedSegError } from '../core/contract/errors.js';
import { isLoopbackHost } from '../core/contract/loopback.js';
import { bearerToken, verifyAdminToken } from './admin-token.js';
import type { HubConfig } from './config.js';
import { FrontDoor, type FrontDoorLimits } from './front-door.js';
import type { HubState } from './state.js';
import { publicStatus } from './status.js';
import { wrapWebSocket } from './ws-wrap.js';
import type { HubTransport, TransportHandlers } from './transport.js';

export interface WsTransportOptions extends Partial<FrontDoorLimits> {
  host: string;
  port: number;
  maxPayload: number;
  tls?: { cert: string; key: string } | undefined;
  /** Serve plain ws:// on a non-loopback address (refused otherwise). */
  insecure?: boolean;
  /** Checks a presented admin token; without it GET /status is always the public view. */
  isAdmin?: (token: string) => boolean;
  log?: (line: string) => void;
}

const DEFAULT_LIMITS: FrontDoorLimits = { maxConnections: 256, maxConnectionsPerAddress: 16, handshakeTimeoutMs: 5000, preAuthBytes: 64 * 1024 };

/** The transport options of a hub config: its address, TLS, front-door limits and admin token check. */
export function wsTransportOptions(c: HubConfig, state: Pick<HubState, 'getMeta'>, log: (line: string) => void): WsTransportOptions {
  return {
    host: c.host, port: c.port, maxPayload: c.maxPayload, tls: c.tls, insecure: c.insecure, maxConnections: c.maxConnections,
    maxConnectionsPerAddress: c.maxConnectionsPerAddress, handshakeTimeoutMs: c.handshakeTimeoutMs, preAuthBytes: c.preAuthBytes,
    isAdmin: (t) => verifyAdminToken(state, t), log,
  };
}

/**
 * The transport rule for a bind address: throws for plain ws:// off loopback without `insecure`;
 * returns the warning to log when it is allowed by `insecure`, else null.
 */
export function checkBind(host: string, tls: boolean, insecure: boolean): string | null {
  if (tls || isLoopbackHost(host)) return null;
  if (!insecure)
    throw new FedSegError('INVALID_ARGUMENT', `refusing to serve plain ws:// on ${host} (not loopback): site tokens, key proofs and model weights would cross the network unencrypted; ` +
      'serve wss:// with --tls-cert FILE --tls-key FILE, bind 127.0.0.1, or pass --insecure (config "insecure": true) on a network you trust');
  return `WARNING: serving plain ws:// on ${host} without TLS (--insecure): anyone on the network path can read and alter the federation's traffic`;
}

export class WsTransport implements HubTransport {
  private server?: http.Server | https.Server;
  private wss?: WebSocketServer;
  private door?: FrontDoor;
  private closing?: Promise<void>;
  url = '';

  constructor(private readonly o: WsTransportOptions) {}

  /** What the front door holds and closed (tests and operators). */
  frontDoor(): FrontDoor | undefined {
    return this.door;
  }

  async listen(h: TransportHandlers): Promise<number> {
    const warning = checkBind(this.o.host, !!this.o.tls, !!this.o.insecure);
    const log = this.o.log ?? (() => {});
    const limits: FrontDoorLimits = {
      maxConnections: this.o.maxConnections ?? DEFAULT_LIMITS.maxConnections,
      maxConnectionsPerAddress: this.o.maxConnectionsPerAddress ?? DEFAULT_LIMITS.maxConnectionsPerAddress,
      handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? DEFAULT_LIMITS.handshakeTimeoutMs,
      preAuthBytes: this.o.preAuthBytes ?? DEFAULT_LIMITS.preAuthBytes,
    };
    const door = (this.door = new FrontDoor(limits, log));
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      door.request(req.socket);
      if (req.method === 'GET' && (req.url === '/status' || req.url === '/status/')) this.serveStatus(req, res, h);
      else if (req.method === 'GET' && req.url === '/healthz') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found (try GET /status or a WebSocket upgrade)');
    };
    if (this.o.tls) {
      let cert: Buffer, key: Buffer;
      try {
        cert = readFileSync(this.o.tls.cert);
        key = readFileSync(this.o.tls.key);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `cannot read TLS certificate/key: ${(e as Error).message}`);
      }
      this.server = https.createServer({ cert, key, handshakeTimeout: limits.handshakeTimeoutMs }, onRequest);
    } else this.server = http.createServer(onRequest);
    this.server.on('connection', (s: Socket) => door.admit(s));
    const wss = (this.wss = new WebSocketServer({ noServer: true, maxPayload: this.o.maxPayload }));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const pass = door.upgrade(socket, head.length);
      if (!pass) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => h.connection(wrapWebSocket(ws, req.socket.remoteAddress ?? '?', pass)));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) =>
        reject(new FedSegError('CONNECTION_FAILED', `hub cannot listen on ${this.o.host}:${this.o.port}: ${e.code ?? e.message}`)));
      this.server!.listen(this.o.port, this.o.host, () => resolve());
    });
    door.start();
    if (warning) log(warning);
    const port = (this.server.address() as AddressInfo).port;
    this.url = `${this.o.tls ? 'wss' : 'ws'}://${this.o.host}:${port}`;
    return port;
  }

  /** GET /status: the full document for the admin token, the public view without one, 401 for a wrong one. */
  private serveStatus(req: http.IncomingMessage, res: http.ServerResponse, h: TransportHandlers): void {
    const token = bearerToken(req.headers.authorization);
    const json = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (token === null) {
      res.writeHead(200, json).end(JSON.stringify(publicStatus(h.status())));
      return;
    }
    if (token !== undefined && this.o.isAdmin?.(token)) {
      res.writeHead(200, json).end(JSON.stringify(h.status()));
      return;
    }
    res.writeHead(401, { ...json, 'www-authenticate': 'Bearer realm="fedseg-hub"' })
      .end(JSON.stringify({ code: 'AUTH_FAILED', message: 'the admin token is not this hub\'s (fedseg-hub admin-token issues a new one); without a token GET /status shows the public view' }));
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wss = this.wss;
    this.door?.stop();
    await new Promise<void>((r) => {
      if (!wss) return r();
      const t = setTimeout(() => {
        for (const c of wss.clients) c.terminate();
      }, 1000);
      wss.close(() => {
        clearTimeout(t);
        r();
      });
    });
    this.server?.closeAllConnections?.();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
