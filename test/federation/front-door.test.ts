// The hub's front door (docs/security.md §6) against real sockets on loopback, each bad client playing
// its own remote address (127.0.0.x): a 60 MiB frame before hello is cut off after the pre-auth budget
// (measured on a real `fedseg-hub` process: its peak RSS), 1500 failed hellos from one address write a
// bounded number of audit rows and end in RATE_LIMITED while another address is unaffected, idle and
// silent sockets are closed and the per-address cap holds, and a real site finishes its round while 300
// bad clients hammer the hub.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HubState } from '../../federation-hub/state.js';
import { garbage, oversized, tcp, upgraded, wrongTokenHello, type HelloOutcome } from './helpers/bad-clients.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { spawnHub } from './helpers/processes.js';
import { site, startHub, tempDir, within } from './helpers/hub-harness.js';

const MiB = 1024 * 1024;
const procStatus = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

test('a 60 MiB frame before hello is cut off after the byte budget: the hub process grows by far less than one frame', {
  timeout: 120_000, skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux) to read the hub process\'s RSS',
}, async () => {
  const { dir, cleanup } = tempDir();
  const cfg = join(dir, 'hub.json');
  writeFileSync(cfg, JSON.stringify({ host: '127.0.0.1', db: join(dir, 'hub.db'), minSites: 2, exitWhenDone: false }));
  const hub = await spawnHub(cfg);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const peak0 = procStatus(hub.proc.pid!, 'VmHWM');
    const clients = await within(Promise.all(Array.from({ length: 6 }, (_, i) => oversized(hub.port, 60 * MiB, `127.0.0.${10 + i}`))), 60_000, 'six 60 MiB frames');
    const growth = procStatus(hub.proc.pid!, 'VmHWM') - peak0;
    console.log(`hub peak RSS grew by ${(growth / MiB).toFixed(1)} MiB for six 60 MiB frames; the clients got ${clients.map((c) => (c.written / MiB).toFixed(1)).join(', ')} MiB into their sockets`);
    // Before this budget the hub buffered and decoded every frame: its RSS grew by hundreds of MiB.
    assert.ok(growth < 32 * MiB, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    // Each socket was destroyed long before its frame was through (what was written went mostly into kernel buffers).
    for (const c of clients) assert.ok(c.written < 60 * MiB, `a client wrote ${c.written} bytes`);
    hub.proc.kill('SIGTERM');
    await hub.exited;
    const st = new HubState(join(dir, 'hub.db'), { mustExist: true });
    const rows = st.listAudit({ event: 'rejected' }).filter((r) => /before its hello was accepted/.test(r.detail));
    st.close();
    assert.equal(rows.length, 6, 'each cut-off is audited with its reason');
  } finally {
    hub.proc.kill('SIGKILL');
    cleanup();
  }
});

test('1500 failed hellos from one address: a bounded number of audit rows, then RATE_LIMITED; another address is unaffected', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const burst = 20;
    const { hub, port } = await startHub(dir, { authFailBurst: burst, authFailPerMinute: 10 }, [{ name: 'A' }]);
    const before = hub.state.listAudit().length;
    const outcomes: HelloOutcome[] = [];
    // One after the other from 127.0.0.1, so each attempt sees the bucket the previous one left.
    for (let i = 0; i < 1500; i++) outcomes.push(await wrongTokenHello(port, 'A'));
    const count = (code: string) => outcomes.filter((o) => o.code === code).length;
    const authFailed = count('AUTH_FAILED');
    const limited = count('RATE_LIMITED');
    console.log(`1500 failed hellos: ${authFailed} AUTH_FAILED, ${limited} RATE_LIMITED`);
    assert.equal(authFailed + limited, 1500, 'every attempt was answered with one of the two');
    // The bucket (plus what refilled during the run) is all the work the hub did.
    assert.ok(authFailed >= burst && authFailed <= burst + 3, `${authFailed} hellos were checked`);
    assert.ok(outcomes.filter((o) => o.code === 'RATE_LIMITED').every((o) => o.close === 1013), 'rate-limited connections close with 1013 (try again later)');
    // Another address still gets its hello checked.
    assert.equal((await wrongTokenHello(port, 'A', '127.0.0.2')).code, 'AUTH_FAILED');
    await hub.stop();
    const st = new HubState(join(dir, 'hub.db'), { mustExist: true });
    const rows = st.listAudit().slice(before).filter((r) => r.event !== 'hub_stop');
    st.close();
    console.log(`audit rows written: ${rows.length} (${rows.filter((r) => r.event === 'rejected').length} rejected, ${rows.filter((r) => r.event === 'rate_limited').length} summary)`);
    // One row per checked hello and one summary row with the count of the rest (before: one row per hello).
    assert.equal(rows.filter((r) => r.event === 'rejected').length, authFailed + 1);
    const summary = rows.filter((r) => r.event === 'rate_limited');
    assert.equal(summary.length, 1);
    assert.match(summary[0]!.detail, new RegExp(`^${limited} connection\\(s\\) refused as rate limited`));
    assert.ok(rows.length <= burst + 5, `${rows.length} audit rows`);
  } finally {
    cleanup();
  }
});

test('sockets that never upgrade or never say hello are closed; one address cannot hold more than its cap', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, port } = await startHub(dir, { handshakeTimeoutMs: 4000, helloTimeoutMs: 4000, maxConnectionsPerAddress: 4 }, []);
    const idle = await Promise.all([1, 2, 3].map(() => tcp(port, '127.0.0.3')));
    const silent = await upgraded(port, '127.0.0.3');
    // A fifth connection from the same address is closed at once, while the four are still open.
    const fifth = await tcp(port, '127.0.0.3');
    // (well before the 4 s handshake timeout that closes the others)
    await within(fifth.closed, 3000, 'the connection over the per-address cap closing');
    assert.ok([...idle, silent].every((c) => !c.socket.destroyed), 'the first four are still open');
    assert.equal(fifth.received().length, 0, 'nothing was answered');
    // Another address is not affected by 127.0.0.3's cap.
    const other = await tcp(port, '127.0.0.4');
    // The idle ones go after the handshake timeout, the silent one after the hello timeout (with an error first).
    await within(Promise.all([...idle, silent, other].map((c) => c.closed)), 15_000, 'idle sockets closing');
    assert.match(silent.received().toString('latin1'), /no hello within 4 s/);
    assert.deepEqual(hub.sessions.all(), []);
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('a real site joins and finishes its round while 300 bad clients hammer the hub', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, port, tokens } = await startHub(dir, {
      mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none', handshakeTimeoutMs: 2000, helloTimeoutMs: 2000, authFailBurst: 5, authFailPerMinute: 0,
    }, [{ name: 'A' }]);
    const before = hub.state.listAudit().length;
    // Four kinds of bad client, 75 each, spread over eight addresses (none is the site's 127.0.0.1).
    const kinds = [
      (from: string) => tcp(port, from).then((c) => c.closed),
      (from: string) => garbage(port, from).then((c) => c.closed),
      (from: string) => oversized(port, 60 * MiB, from),
      (from: string) => wrongTokenHello(port, 'A', from),
    ];
    const flood = Promise.allSettled(Array.from({ length: 300 }, (_, i) => kinds[i % 4]!(`127.0.0.${20 + (i % 8)}`)));
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }));
    const r = await within(a.promise, 60_000, 'the real site');
    await within(run, 30_000, 'the run');
    assert.equal(r.roundsTrained, 1);
    assert.deepEqual(hub.state.listRounds().map((x) => [x.status, x.accepted]), [['done', ['A']]]);
    const settled = await within(flood, 60_000, 'every bad client closed');
    assert.equal(settled.length, 300);
    const rows = hub.state.listAudit().slice(before).filter((x) => x.event === 'rejected');
    console.log(`flood of 300 bad clients: ${rows.length} 'rejected' audit rows; the site trained ${r.roundsTrained} round`);
    // At most `authFailBurst` full rows per address (8 addresses), the rest is summed up.
    assert.ok(rows.length <= 8 * 5, `${rows.length} rejected rows`);
    await hub.stop();
  } finally {
    cleanup();
  }
});
