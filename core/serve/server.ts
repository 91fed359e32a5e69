// Browser mode: a Node HTTP server that serves the built renderer (dist-renderer/) and the app API over
// a WebSocket, bound to 127.0.0.1, behind a random session token that is the first path segment:
//   http://127.0.0.1:<port>/<token>/        the UI (relative asset URLs keep the token)
//   ws://127.0.0.1:<port>/<token>/api       the app API (frames in core/contract/wire-json.ts)
// Calls go through core/app/dispatch.ts (argument validation + {code, message} errors), the same path
// the Electron engine host uses. Engine events are broadcast to every connected page.
// Nothing a client sends ends the process (docs/security.md §9): every socket, raw or WebSocket, has an
// 'error' listener, a bad frame closes only that client (1009 too large, 1007 invalid UTF-8, 1002 a
// protocol error such as a reserved opcode) with one log line, and connection-guard.ts bounds what a
// flood of bad clients can hold (sockets that never finish a request, refused upgrades, live clients).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppHandlers, AppEventName } from '../contract/app-api.js';
import { decodeWire, encodeWire, type WireFrame } from '../contract/wire-json.js';
import { dispatch } from '../app/dispatch.js';
import { authorisePath, hostAllowed, newSessionToken, originAllowed, securityHeaders } from './security.js';
import { ClientCount, DEFAULT_GUARD_LIMITS, PendingSockets, rateLimitedLog, WindowBudget, type GuardLimits } from './connection-guard.js';

export interface ServeOptions {
  handlers: AppHandlers;
  /** Subscribe to engine events; returns an unsubscribe function. */
  subscribe: (listener: (event: AppEventName, payload: unknown) => void) => () => void;
  staticDir: string;
  port?: number;
  token?: string;
  /** Largest accepted WebSocket message (bytes). */
  maxMessageBytes?: number;
  /** Connection budgets (connection-guard.ts); tests shorten them. */
  limits?: Partial<GuardLimits>;
  /** Where the server's log lines go (default: stderr), rate-limited. */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  /** What the guards have done so far (tests and diagnostics). */
  stats(): { clients: number; pending: number; evicted: number; timedOut: number; refused: number; badFrames: number };
  close(): Promise<void>;
}

/** The close code ws sends for a frame it refuses, by its error code (RFC 6455 §7.4.1). */
export function closeCodeFor(errorCode: string | undefined): number {
  if (errorCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 1009;
  if (errorCode === 'WS_ERR_INVALID_UTF8') return 1007;
  return 1002;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const token = opts.token ?? newSessionToken();
  const root = resolve(opts.staticDir);
  const limits: GuardLimits = { ...DEFAULT_GUARD_LIMITS, ...opts.limits };
  const log = rateLimitedLog(opts.log ?? ((l) => console.error(`fedseg serve: ${l}`)), limits.logLinesPerWindow, limits.windowMs);
  const pending = new PendingSockets(limits);
  const refusals = new WindowBudget(limits.refusalsPerWindow, limits.windowMs);
  const clients = new ClientCount(limits);
  const counters = { refused: 0, badFrames: 0 };
  let port = 0;

  const deny = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders(port) });
    res.end(text);
  };

  const serveStatic = async (req: IncomingMessage, res: ServerResponse) => {
    if (!hostAllowed(req.headers.host, port)) return deny(res, 421, 'wrong host');
    const rest = authorisePath(req.url, token);
    if (rest === null) return deny(res, 403, 'FedSeg: this address needs the session token printed by `fedseg serve`.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
    let rel: string;
    try {
      rel = decodeURIComponent(rest === '/' ? '/index.html' : rest);
    } catch {
      return deny(res, 400, 'bad path');
    }
    const file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) return deny(res, 403, 'outside the app folder');
    try {
      const st = await stat(file);
      if (!st.isFile()) return deny(res, 404, 'not found');
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length, ...securityHeaders(port) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      deny(res, 404, rest === '/' ? 'the renderer is not built: run `npm run build:renderer`' : 'not found');
    }
  };

  const http = createServer((req, res) => {
    pending.settle(req.socket);
    serveStatic(req, res).catch(() => deny(res, 500, 'internal error'));
  });
  // Every accepted socket gets an 'error' listener of its own: Node's HTTP server removes its listener
  // when a socket is upgraded, and a reset on a socket without one throws from the event loop.
  http.on('connection', (socket: Socket) => {
    socket.on('error', () => {});
    pending.add(socket);
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes ?? 16 << 20 });
  wss.on('error', (e) => log(`WebSocket server: ${e.message}`));
  const sockets = new Set<WebSocket>();

  const refuse = (socket: Socket, addr: string, status: string, why: string, budgeted: boolean) => {
    counters.refused++;
    // Within the address's budget an unauthenticated upgrade is answered and logged; past it the socket
    // is just dropped. A client with the token that finds no room is always told so (503).
    if (!budgeted || refusals.allow(addr)) {
      log(`refused a WebSocket upgrade from ${addr}: ${why}`);
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  };

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const addr = socket.remoteAddress ?? '?';
    socket.on('error', () => {});
    const rest = authorisePath(req.url, token);
    if (rest !== '/api' || !hostAllowed(req.headers.host, port) || !originAllowed(req.headers.origin, port)) {
      refuse(socket, addr, '403 Forbidden', rest === null ? 'no session token' : 'wrong path, Host or Origin', true);
      return;
    }
    const busy = clients.refusal(addr);
    if (busy) {
      refuse(socket, addr, '503 Service Unavailable', busy, false);
      return;
    }
    try {
      wss.handleUpgrade(req, socket, head, (ws) => {
        pending.settle(socket);
        wss.emit('connection', ws, req);
      });
    } catch (e) {
      log(`WebSocket upgrade from ${addr} failed: ${(e as Error).message}`);
      socket.destroy();
    }
  });

  const sendResult = (ws: WebSocket, id: number, env: { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } }) => {
    if (ws.readyState !== ws.OPEN) return;
    let text: string;
    try {
      text = encodeWire(env.ok ? { t: 'result', id, ok: true, value: env.value } : { t: 'result', id, ok: false, error: env.error } as WireFrame);
    } catch (e) {
      text = encodeWire({ t: 'result', id, ok: false, error: { code: 'INTERNAL', message: `the result could not be encoded: ${(e as Error).message}` } } as WireFrame);
    }
    ws.send(text);
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const addr = req.socket.remoteAddress ?? '?';
    const release = clients.add(addr);
    sockets.add(ws);
    // ws has already answered a bad frame with the close code it deserves (closeCodeFor); the error
    // only needs a listener and a line: this client is closed, everything else goes on. The client no
    // longer counts against the budget, and its socket goes shortly after the close frame instead of
    // waiting 30 s for a close answer a hostile client never sends.
    ws.on('error', (e: Error & { code?: string }) => {
      counters.badFrames++;
      release();
      log(`closed an app connection from ${addr} (${closeCodeFor(e.code)}): ${e.code ?? 'error'}: ${e.message}`);
      setTimeout(() => ws.terminate(), 250).unref();
    });
    ws.on('close', () => {
      sockets.delete(ws);
      release();
    });
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) return ws.close(1003, 'text frames only');
        let msg: unknown;
        try {
          msg = decodeWire(data.toString());
        } catch {
          return ws.close(1007, 'malformed frame');
        }
        const m = msg as { t?: unknown; id?: unknown; method?: unknown; args?: unknown };
        if (m?.t !== 'call' || typeof m.id !== 'number') return ws.close(1008, 'unexpected frame');
        const id = m.id;
        dispatch(opts.handlers, m.method, m.args)
          .then((env) => sendResult(ws, id, env))
          .catch((e: unknown) => sendResult(ws, id, { ok: false, error: { code: 'INTERNAL', message: (e as Error)?.message ?? String(e) } }));
      } catch (e) {
        log(`an app call from ${addr} failed: ${(e as Error).message}`);
        ws.terminate();
      }
    });
  });

  const unsubscribe = opts.subscribe((event, payload) => {
    if (sockets.size === 0) return;
    let text: string;
    try {
      text = encodeWire({ t: 'event', event, payload } satisfies WireFrame);
    } catch (e) {
      log(`event ${event} could not be encoded: ${(e as Error).message}`);
      return;
    }
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((ok, fail) => {
    http.once('error', fail);
    http.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/${token}/`,
    port,
    token,
    stats: () => ({ clients: clients.size(), pending: pending.count(), evicted: pending.evicted, timedOut: pending.timedOut, ...counters }),
    close: async () => {
      unsubscribe();
      pending.closeAll();
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
