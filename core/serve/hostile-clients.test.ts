// Nothing a client sends ends browser mode (docs/security.md §9). Raw TCP sockets (node:net) craft the
// frames the ws client refuses to send: a text frame of invalid UTF-8, a frame with the reserved opcode
// 0x3 and a frame whose length header is over the limit. Against a real `fedseg serve` process with a
// training job running: each bad client is closed with its code (1007, 1002, 1009) and a log line, the
// process stays up, a good client still gets answers and the job finishes. Against the real server
// in-process (so the budgets can be short): a flood of 200 bad connections (wrong tokens, garbage,
// idle half-open sockets, oversized frames) while a real client connects and calls the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { decodeWire, encodeWire, type WireFrame } from '../contract/wire-json.js';
import { startBrowserApp } from './serve-app.js';
import { startServer } from './server.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function uiDir(dir: string): string {
  mkdirSync(join(dir, 'ui'), { recursive: true });
  writeFileSync(join(dir, 'ui', 'index.html'), '<!doctype html><title>ok</title>');
  return join(dir, 'ui');
}

/** A client frame (masked, as RFC 6455 requires); `claim` replaces the length header with a 64-bit length. */
function frame(opcode: number, payload: Uint8Array, claim?: number): Buffer {
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  if (claim !== undefined) {
    const h = Buffer.alloc(10);
    h[0] = 0x80 | opcode;
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(claim), 2);
    return Buffer.concat([h, mask]);
  }
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length]), mask, body]);
}

const upgradeRequest = (port: number, path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** A raw socket that completed the upgrade; `closeCode` resolves with the code of the server's close frame (null if none came). */
function rawClient(port: number, token: string): Promise<{ socket: Socket; closeCode: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let onClose: (c: number | null) => void = () => {};
    const closeCode = new Promise<number | null>((r) => (onClose = r));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve({ socket, closeCode });
      }
      // Server frames are unmasked: [0x88, len, code_hi, code_lo, ...] for a close frame.
      if (buf.length >= 4 && (buf[0]! & 0x0f) === 0x8) onClose(buf.readUInt16BE(2));
    });
    socket.on('close', () => { onClose(null); if (!upgraded) reject(new Error('closed before the upgrade')); });
    socket.write(upgradeRequest(port, `/${token}/api`));
  });
}

/** A good client: the ws library, our Origin, calls answered by id. */
async function goodClient(port: number, token: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/${token}/api`, { origin: `http://127.0.0.1:${port}` });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  const frames: WireFrame[] = [];
  ws.on('message', (d) => frames.push(decodeWire(d.toString()) as WireFrame));
  let next = 1;
  const call = async (method: string, args: unknown = {}) => {
    const id = next++;
    ws.send(encodeWire({ t: 'call', id, method, args }));
    for (let i = 0; i < 3000; i++) {
      const f = frames.find((x) => x.t === 'result' && x.id === id);
      if (f) {
        const r = f as Extract<WireFrame, { t: 'result' }>;
        if (!r.ok) throw new Error(`${method}: ${r.error.code}: ${r.error.message}`);
        return r.value as never;
      }
      if (ws.readyState !== ws.OPEN) throw new Error(`${method}: the connection closed`);
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${method}: no answer`);
  };
  return { ws, call };
}

const BAD_FRAMES: { name: string; bytes: Buffer; code: number; logged: RegExp }[] = [
  { name: 'a text frame of invalid UTF-8', bytes: frame(0x1, Uint8Array.from([0x7b, 0xff, 0xfe, 0xfd])), code: 1007, logged: /\(1007\): WS_ERR_INVALID_UTF8/ },
  { name: 'a frame with the reserved opcode 0x3', bytes: frame(0x3, Uint8Array.from([1, 2])), code: 1002, logged: /\(1002\): WS_ERR_INVALID_OPCODE/ },
  { name: 'a length header of 1 GiB, over the 16 MiB limit', bytes: frame(0x1, new Uint8Array(0), 1 << 30), code: 1009, logged: /\(1009\): WS_ERR_UNSUPPORTED_MESSAGE_LENGTH/ },
];

test('fedseg serve: each bad frame closes only its client with its code; the process, a good client and a training job go on', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-serve-hostile-'));
  const child = spawn(process.execPath, [join(root, 'bin', 'fedseg.mjs'), 'serve', '--db', join(dir, 'site.sqlite'), '--static', uiDir(dir)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let good: Awaited<ReturnType<typeof goodClient>> | undefined;
  try {
    const [port, token] = await new Promise<[number, string]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out}${err}`)), 30_000);
      const poll = setInterval(() => {
        const m = /Open: http:\/\/127\.0\.0\.1:(\d+)\/([^/\s]+)\//.exec(out);
        if (!m) return;
        clearTimeout(t);
        clearInterval(poll);
        resolve([Number(m[1]), m[2]!]);
      }, 20);
    });
    good = await goodClient(port, token);
    const gen = await good.call('generateDemoData', { kind: 'fundus', sites: 1, perSite: 4, size: 32 }) as { datasets: { id: string }[] };
    const { runId } = await good.call('startTraining', { name: 'under fire', datasetIds: [gen.datasets[0]!.id], baseWidth: 2, depth: 2, epochs: 8, batchSize: 2 }) as { runId: string };
    for (const bad of BAD_FRAMES) {
      const raw = await rawClient(port, token);
      raw.socket.write(bad.bytes);
      assert.equal(await raw.closeCode, bad.code, `${bad.name}: close code`);
      raw.socket.destroy();
      assert.equal(child.exitCode, null, `${bad.name}: the process is still up\n${err}`);
      const info = await good.call('getAppInfo') as Record<string, unknown>;
      assert.ok(info && typeof info === 'object', `${bad.name}: the good client still gets answers`);
      assert.match(err, bad.logged, `${bad.name} is logged`);
    }
    const state = await good.call('getTrainingState') as { active: { runId: string } | null; run: { id: string; status: string } | null };
    assert.equal(state.run?.id, runId, 'the job is still the one started before the bad frames');
    for (let i = 0; ; i++) {
      const runs = await good.call('listRuns') as { id: string; status: string; message: string }[];
      const run = runs.find((r) => r.id === runId);
      if (run && run.status !== 'running') {
        assert.equal(run.status, 'done', `the job finished: ${run.message}`);
        break;
      }
      assert.ok(i < 1800, 'the job finishes');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(child.exitCode, null);
  } finally {
    good?.ws.close();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(await exited, 0, `stopped cleanly by SIGTERM\n${err}`);
});

test('a flood of 200 bad connections while a real client connects and calls the API; what they hold is bounded and released', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-serve-flood-'));
  const lines: string[] = [];
  const app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: uiDir(dir) });
  // A second server on the same engine with short budgets: the real server, the real handlers.
  const server = await startServer({
    handlers: app.engine.handlers, subscribe: app.engine.subscribe, staticDir: uiDir(dir), maxMessageBytes: 1 << 16,
    limits: { pendingPerAddress: 24, handshakeTimeoutMs: 1500, refusalsPerWindow: 10, clientsPerAddress: 8, clientsTotal: 16, logLinesPerWindow: 30 },
    log: (l) => lines.push(l),
  });
  const { port, token } = server;
  const sockets: Socket[] = [];
  const open = (write?: string | Buffer) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    if (write) s.write(write);
    sockets.push(s);
    return new Promise<Socket>((r) => s.once('connect', () => r(s)));
  };
  try {
    // 60 idle sockets that never send a byte, 60 half-sent requests, 50 wrong tokens, 30 garbage.
    const idle = await Promise.all(Array.from({ length: 60 }, () => open()));
    await Promise.all(Array.from({ length: 60 }, () => open(`GET /${token}/api HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => open(upgradeRequest(port, `/wrong-token-${i}/api`))));
    await Promise.all(Array.from({ length: 30 }, (_, i) => open(Buffer.from(`\x16\x03\x01 garbage ${i} \x00\xff\r\n\r\n`, 'latin1'))));
    // The real client, in the middle of it: connects (it is the newest socket, so it is not the one evicted) and is answered.
    const good = await goodClient(port, token);
    const gen = await good.call('generateDemoData', { kind: 'fundus', sites: 1, perSite: 2, size: 16 }) as { datasets: { id: string }[] };
    assert.equal(gen.datasets.length, 1);
    // Oversized frames from clients that do have the token (10, in two waves of the per-address cap's size less the good client).
    for (let wave = 0; wave < 2; wave++) {
      const raws = await Promise.all(Array.from({ length: 5 }, () => rawClient(port, token)));
      for (const r of raws) r.socket.write(frame(0x1, new Uint8Array(0), 1 << 20));
      assert.deepEqual(await Promise.all(raws.map((r) => r.closeCode)), raws.map(() => 1009));
      for (const r of raws) sockets.push(r.socket);
    }
    const datasets = await good.call('listDatasets') as unknown[];
    assert.equal(datasets.length, 1, 'the good client is answered during the flood');
    const st = server.stats();
    assert.ok(st.pending <= 24, `pending sockets stay within the per-address bound (${st.pending})`);
    assert.ok(st.evicted + st.timedOut >= 120 - 24, `the 120 idle and half-sent sockets held at most 24 places (${st.evicted} evicted, ${st.timedOut} timed out)`);
    assert.equal(st.badFrames, 10);
    assert.ok(st.refused >= 1, 'wrong tokens are refused');
    // Idle sockets are closed by the handshake timeout (or eviction): none is held for good.
    await Promise.all(idle.map((s) => new Promise<void>((r) => (s.destroyed || s.readyState === 'closed' ? r() : s.once('close', () => r())))));
    for (let i = 0; i < 100 && server.stats().pending > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.stats().pending, 0, 'no socket is left half-open');
    assert.ok(lines.length <= 31, `the log is rate-limited (${lines.length} lines)`);
    // A second real client still connects after the flood, and the first one is still answered.
    const after = await goodClient(port, token);
    assert.equal((await after.call('listDatasets') as unknown[]).length, 1);
    assert.ok(await good.call('getAppInfo'));
    assert.ok(server.stats().clients <= 8);
    good.ws.close();
    after.ws.close();
  } finally {
    for (const s of sockets) s.destroy();
    await server.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('budgets: refused upgrades are answered within the budget and dropped past it; live clients are capped per address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-serve-budget-'));
  const app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: uiDir(dir) });
  const server = await startServer({
    handlers: app.engine.handlers, subscribe: app.engine.subscribe, staticDir: uiDir(dir),
    limits: { refusalsPerWindow: 3, windowMs: 60_000, clientsPerAddress: 2, clientsTotal: 4 }, log: () => {},
  });
  const answer = (path: string) => new Promise<string>((resolve) => {
    const s = connect(server.port, '127.0.0.1');
    let got = '';
    s.on('error', () => {});
    s.on('data', (d) => (got += String(d)));
    s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
    s.write(upgradeRequest(server.port, path));
  });
  const clients: WebSocket[] = [];
  try {
    const first = [];
    for (let i = 0; i < 5; i++) first.push(await answer(`/nope${i}/api`));
    assert.deepEqual(first, ['HTTP/1.1 403 Forbidden', 'HTTP/1.1 403 Forbidden', 'HTTP/1.1 403 Forbidden', '', ''], 'three answered, then dropped');
    for (let i = 0; i < 2; i++) clients.push((await goodClient(server.port, server.token)).ws);
    await assert.rejects(goodClient(server.port, server.token), /503/, 'a third client from the same address is refused');
    clients.pop()!.close();
    await new Promise((r) => setTimeout(r, 200));
    clients.push((await goodClient(server.port, server.token)).ws);
    assert.equal(server.stats().clients, 2);
  } finally {
    for (const c of clients) c.close();
    await server.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
