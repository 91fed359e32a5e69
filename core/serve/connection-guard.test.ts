// The browser-mode server's budgets (docs/security.md §9) on their own: per-address windows, the live
// client cap, the rate-limited log, and pending sockets (real TCP sockets on 127.0.0.1) that give way
// oldest first and time out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { ClientCount, PendingSockets, rateLimitedLog, WindowBudget } from './connection-guard.js';

test('window budget: n per key per window, keys apart, a new window starts afresh', () => {
  let t = 0;
  const b = new WindowBudget(2, 1000, () => t);
  assert.deepEqual([b.allow('a'), b.allow('a'), b.allow('a'), b.allow('b')], [true, true, false, true]);
  t = 999;
  assert.equal(b.allow('a'), false);
  t = 1000;
  assert.equal(b.allow('a'), true);
});

test('client count: per address and in all, counted out once', () => {
  const c = new ClientCount({ clientsPerAddress: 2, clientsTotal: 3 });
  const out1 = c.add('1.1.1.1');
  c.add('1.1.1.1');
  assert.match(c.refusal('1.1.1.1') ?? '', /from 1\.1\.1\.1 \(2\)/);
  assert.equal(c.refusal('2.2.2.2'), null);
  c.add('2.2.2.2');
  assert.match(c.refusal('3.3.3.3') ?? '', /too many app connections \(3\)/);
  out1();
  out1();
  assert.equal(c.size(), 2);
  assert.equal(c.refusal('1.1.1.1'), null);
});

test('rate-limited log: n lines per window, the rest counted in the next line', () => {
  let t = 0;
  const lines: string[] = [];
  const log = rateLimitedLog((l) => lines.push(l), 2, 1000, () => t);
  for (let i = 0; i < 5; i++) log(`l${i}`);
  t = 1000;
  log('next');
  assert.deepEqual(lines, ['l0', 'l1', 'next (3 similar line(s) left out)']);
  const throwing = rateLimitedLog(() => { throw new Error('EPIPE'); }, 2, 1000);
  assert.doesNotThrow(() => throwing('x'));
});

test('pending sockets: the oldest gives way past the per-address bound, the rest time out, settled ones stay', async () => {
  const server = createServer();
  const pending = new PendingSockets({ pendingPerAddress: 3, handshakeTimeoutMs: 300 });
  const accepted: Socket[] = [];
  server.on('connection', (s) => {
    s.on('error', () => {});
    accepted.push(s);
    pending.add(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const clients: Socket[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const c = connect(port, '127.0.0.1');
      c.on('error', () => {});
      clients.push(c);
      await new Promise((r) => c.once('connect', r));
      while (accepted.length < i + 1) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(pending.evicted, 2);
    assert.equal(pending.count(), 3);
    assert.ok(accepted[0]!.destroyed && accepted[1]!.destroyed && !accepted[2]!.destroyed, 'the two oldest were closed');
    assert.equal(pending.settle(accepted[4]!), true, 'the newest one answered in time');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(pending.timedOut, 2);
    assert.ok(accepted[2]!.destroyed && accepted[3]!.destroyed);
    assert.equal(accepted[4]!.destroyed, false, 'a settled socket is not timed out');
    assert.equal(pending.count(), 0);
  } finally {
    pending.closeAll();
    for (const c of clients) c.destroy();
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
