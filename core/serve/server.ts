// Browser mode: a Node HTTP server that serves the built renderer (dist-renderer/) and the app API over
// a WebSocket, bound to 127.0.0.1, behind a random session token that is the first path segment:
//   http://127.0.0.1:<port>/<token>/        the UI (relative asset URLs keep the token)
//   ws://127.0.0.1:<port>/<token>/api       the app API (frames in core/contract/wire-json.ts)
// Calls go through core/app/dispatch.ts (argument validation + {code, message} errors), the same path
// the Electron engine host uses. Engine events are broadcast to every connected page.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppHandlers, AppEventName } from '../contract/app-api.js';
import { decodeWire, encodeWire, type WireFrame } from '../contract/wire-json.js';
import { dispatch } from '../app/dispatch.js';
import { authorisePath, hostAllowed, newSessionToken, originAllowed, securityHeaders } from './security.js';

export interface ServeOptions {
  handlers: AppHandlers;
  /** Subscribe to engine events; returns an unsubscribe function. */
  subscribe: (listener: (event: AppEventName, payload: unknown) => void) => () => void;
  staticDir: string;
  port?: number;
  token?: string;
  /** Largest accepted WebSocket message (bytes). */
  maxMessageBytes?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
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
    serveStatic(req, res).catch(() => deny(res, 500, 'internal error'));
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes ?? 16 << 20 });
  const sockets = new Set<WebSocket>();

  http.on('upgrade', (req, socket, head) => {
    const rest = authorisePath(req.url, token);
    if (rest !== '/api' || !hostAllowed(req.headers.host, port) || !originAllowed(req.headers.origin, port)) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data, isBinary) => {
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
      void dispatch(opts.handlers, m.method, m.args).then((env) => {
        const frame: WireFrame = env.ok ? { t: 'result', id, ok: true, value: env.value } : { t: 'result', id, ok: false, error: env.error };
        if (ws.readyState === ws.OPEN) ws.send(encodeWire(frame));
      });
    });
  });

  const unsubscribe = opts.subscribe((event, payload) => {
    if (sockets.size === 0) return;
    const text = encodeWire({ t: 'event', event, payload } satisfies WireFrame);
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
    close: async () => {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
