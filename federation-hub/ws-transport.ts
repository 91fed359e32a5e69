// The hub's WebSocket transport: ws:// or wss:// (TLS from a certificate and key file) with the
// message size limit of the hub's config, and on the same port GET /status (the contract's HubStatus
// document) and GET /healthz. Connections are handed over as contract Connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { FedSegError } from '../core/contract/errors.js';
import { wrapWebSocket } from './ws-wrap.js';
import type { HubTransport, TransportHandlers } from './transport.js';

export interface WsTransportOptions {
  host: string;
  port: number;
  maxPayload: number;
  tls?: { cert: string; key: string } | undefined;
}

export class WsTransport implements HubTransport {
  private server?: http.Server | https.Server;
  private wss?: WebSocketServer;
  private closing?: Promise<void>;
  url = '';

  constructor(private readonly o: WsTransportOptions) {}

  async listen(h: TransportHandlers): Promise<number> {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.method === 'GET' && (req.url === '/status' || req.url === '/status/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(h.status()));
      } else if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found (try GET /status or a WebSocket upgrade)');
    };
    if (this.o.tls) {
      let cert: Buffer, key: Buffer;
      try {
        cert = readFileSync(this.o.tls.cert);
        key = readFileSync(this.o.tls.key);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `cannot read TLS certificate/key: ${(e as Error).message}`);
      }
      this.server = https.createServer({ cert, key }, onRequest);
    } else this.server = http.createServer(onRequest);
    this.wss = new WebSocketServer({ server: this.server, maxPayload: this.o.maxPayload });
    this.wss.on('connection', (ws, req) => h.connection(wrapWebSocket(ws, req.socket.remoteAddress ?? '?')));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) =>
        reject(new FedSegError('CONNECTION_FAILED', `hub cannot listen on ${this.o.host}:${this.o.port}: ${e.code ?? e.message}`)));
      this.server!.listen(this.o.port, this.o.host, () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.url = `${this.o.tls ? 'wss' : 'ws'}://${this.o.host}:${port}`;
    return port;
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wss = this.wss;
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
