// Browser-mode server against the real engine on a temp SQLite file: token, Host and Origin checks,
// CSP headers, static files (no path traversal), and app-API calls and events over the WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { decodeWire, encodeWire, type WireFrame } from '../contract/wire-json.js';
import { startBrowserApp, type BrowserApp } from './serve-app.js';
import { authorisePath, contentSecurityPolicy, hostAllowed, originAllowed, tokenMatches } from './security.js';

let dir: string;
let app: BrowserApp;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-serve-'));
  mkdirSync(join(dir, 'static', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'static', 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'static', 'assets', 'a.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: join(dir, 'static') });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: app.server.port, path, headers: { host: `127.0.0.1:${app.server.port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('pure checks: token path, host, origin, CSP', () => {
  assert.equal(authorisePath('/tok/assets/a.js?x=1', 'tok'), '/assets/a.js');
  assert.equal(authorisePath('/tok', 'tok'), '/');
  assert.equal(authorisePath('/tokx/a', 'tok'), null);
  assert.equal(authorisePath('/a.js', 'tok'), null);
  assert.equal(tokenMatches('abc', 'abd'), false);
  assert.equal(hostAllowed('127.0.0.1:80', 80), true);
  assert.equal(hostAllowed('evil.example:80', 80), false, 'DNS rebinding');
  assert.equal(originAllowed('http://localhost:80', 80), true);
  assert.equal(originAllowed('http://evil.example', 80), false);
  assert.equal(originAllowed(undefined, 80), false);
  assert.doesNotMatch(contentSecurityPolicy(80), /unsafe|https?:\/\/(?!127|localhost)/);
});

test('the URL is loopback with a long random token', () => {
  assert.match(app.server.url, /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}\/$/);
});

test('static files need the token and the right Host; they carry the CSP', async () => {
  const t = app.server.token;
  const ok = await get(`/${t}/`);
  assert.equal(ok.status, 200);
  assert.match(String(ok.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(ok.headers['x-content-type-options'], 'nosniff');
  assert.equal((await get(`/${t}/assets/a.js`)).status, 200);
  assert.equal((await get('/')).status, 403);
  assert.equal((await get('/assets/a.js')).status, 403);
  assert.equal((await get(`/${t.slice(0, -1)}${t.endsWith('x') ? 'y' : 'x'}/`)).status, 403);
  assert.equal((await get(`/${t}/`, { host: 'evil.example' })).status, 421);
  assert.notEqual((await get(`/${t}/../secret.txt`)).body, 'secret');
  assert.notEqual((await get(`/${t}/%2e%2e/secret.txt`)).body, 'secret');
  assert.equal((await get(`/${t}/nope.js`)).status, 404);
});

function connect(origin: string, token = app.server.token): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${app.server.port}/${token}/api`, { origin });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('the WebSocket refuses other origins and wrong tokens', async () => {
  await assert.rejects(connect('http://evil.example'), /403/);
  await assert.rejects(connect(`http://127.0.0.1:${app.server.port}`, 'wrong'), /403/);
});

test('app-API calls over the WebSocket: values, validation errors, engine errors, events', async () => {
  const ws = await connect(`http://127.0.0.1:${app.server.port}`);
  const frames: WireFrame[] = [];
  ws.on('message', (d) => frames.push(decodeWire(d.toString()) as WireFrame));
  const call = async (id: number, method: string, args: unknown) => {
    ws.send(encodeWire({ t: 'call', id, method, args }));
    for (let i = 0; i < 400; i++) {
      const f = frames.find((x) => x.t === 'result' && x.id === id);
      if (f) return f as Extract<WireFrame, { t: 'result' }>;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no answer');
  };
  const gen = await call(1, 'generateDemoData', { kind: 'fundus', sites: 1, perSite: 2, size: 32 });
  assert.ok(gen.ok);
  const sample = await call(2, 'getSample', { datasetId: (gen.value as { datasets: { id: string }[] }).datasets[0]!.id, index: 0 });
  assert.ok(sample.ok && (sample.value as { image: { pixels: unknown } }).image.pixels instanceof Uint8Array);
  const bad = await call(3, 'getSample', { datasetId: '1' });
  assert.equal(!bad.ok && bad.error.code, 'INVALID_ARGUMENT');
  const missing = await call(4, 'getSample', { datasetId: '77', index: 0 });
  assert.equal(!missing.ok && missing.error.code, 'NOT_FOUND');
  const unknown = await call(5, 'rmRf', {});
  assert.equal(!unknown.ok && unknown.error.code, 'INVALID_ARGUMENT');
  await call(6, 'saveFederationSettings', { hubUrl: 'ws://127.0.0.1:1', siteName: 'a' });
  assert.ok(frames.some((f) => f.t === 'event' && f.event === 'federationStatus'));
  ws.close();
});
