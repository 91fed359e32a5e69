// A site's audit log on a store another process has locked (docs/security.md §9). The writer of
// core/federation/site-audit.ts on a real SQLite file locked by a second connection: rows wait in order,
// the queue is bounded and says what it lost, nothing throws. Then end to end: a real `fedseg-hub start`
// and a real `fedseg site` process on a real SQLite file while a third process (plain better-sqlite3)
// holds BEGIN EXCLUSIVE on that file for 8 s in the middle of a round: the site stays up, the round
// completes with its update, and every message the hub logged is in the site's audit log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { AuditWriter, isTransientStoreError, type AuditRow } from '../../core/federation/site-audit.js';
import { openSqliteStore } from '../../core/store/sqlite-store.js';
import { HubState } from '../../federation-hub/state.js';
import { tempDir, waitFor, within } from './helpers/hub-harness.js';
import { spawnHub } from './helpers/processes.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

/** A raw audit table on a real SQLite file that fails at once (busy_timeout 0) when another connection holds the lock. */
function rawAuditFile(path: string) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 0');
  db.exec('CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, direction TEXT, kind TEXT, bytes INTEGER, peer TEXT, summary TEXT)');
  const ins = db.prepare('INSERT INTO audit (direction, kind, bytes, peer, summary) VALUES (?, ?, ?, ?, ?)');
  return {
    sink: { appendAudit: (e: AuditRow) => ins.run(e.direction, e.kind, e.bytes, e.peer, e.summary) },
    rows: () => db.prepare('SELECT direction, kind, bytes, summary FROM audit ORDER BY id').all() as { direction: string; kind: string; bytes: number; summary: string }[],
    close: () => db.close(),
  };
}

function locker(path: string) {
  const db = new Database(path);
  return { lock: () => db.exec('BEGIN EXCLUSIVE'), release: () => db.exec('COMMIT'), close: () => db.close() };
}

const row = (kind: string, bytes: number, direction: 'in' | 'out' = 'out'): AuditRow => ({ direction, kind, bytes, peer: 'ws://hub', summary: kind });

test('audit writer: a locked store keeps the rows in order and a timer writes them once it is free; append never throws', async () => {
  const { dir, cleanup } = tempDir();
  const file = rawAuditFile(join(dir, 'a.db'));
  const other = locker(join(dir, 'a.db'));
  try {
    const told: string[] = [];
    const w = new AuditWriter(file.sink, { retryMs: { initial: 20, max: 40 }, onTrouble: (m) => told.push(m) });
    w.append(row('hello', 10));
    other.lock();
    assert.doesNotThrow(() => { w.append(row('heartbeat', 1)); w.append(row('weights-update', 500)); });
    assert.equal(w.stats().queued, 2);
    assert.equal(file.rows().length, 1, 'nothing reaches a locked file');
    assert.match(told[0] ?? '', /locked by another process/);
    other.release();
    await waitFor(() => file.rows().length === 3, 5000, 'the timer writing the waiting rows');
    const rows = file.rows();
    assert.deepEqual(rows.map((r) => r.kind), ['hello', 'heartbeat', 'weights-update']);
    assert.match(rows[1]!.summary, /^heartbeat \(written late: happened at \d{4}-\d\d-\d\dT/);
    assert.equal(rows[0]!.summary, 'hello', 'a row written at once is not marked');
    assert.deepEqual({ ...w.stats(), busy: undefined }, { queued: 0, dropped: 0, writtenLate: 2, busy: undefined });
    assert.ok(w.stats().busy >= 1);
    assert.match(told.at(-1) ?? '', /writable again/);
  } finally {
    other.close();
    file.close();
    cleanup();
  }
});

test('audit writer: past its bound the oldest waiting rows are dropped and one audit-gap row counts them and their bytes', () => {
  const { dir, cleanup } = tempDir();
  const file = rawAuditFile(join(dir, 'a.db'));
  const other = locker(join(dir, 'a.db'));
  try {
    const w = new AuditWriter(file.sink, { maxQueued: 3, retryMs: { initial: 1, max: 1 } });
    other.lock();
    w.append(row('r1', 100, 'out'));
    w.append(row('r2', 7, 'in'));
    for (const k of ['r3', 'r4', 'r5']) w.append(row(k, 1));
    assert.deepEqual([w.stats().queued, w.stats().dropped], [3, 2]);
    other.release();
    w.flush();
    const rows = file.rows();
    assert.deepEqual(rows.map((r) => r.kind), ['audit-gap', 'r3', 'r4', 'r5']);
    assert.match(rows[0]!.summary, /^2 audit row\(s\) were lost \(100 bytes out, 7 bytes in\): more than 3 rows waited while the store was locked/);
    w.stop();
  } finally {
    other.close();
    file.close();
    cleanup();
  }
});

test('audit writer on the real store: a row the store refuses is counted, not thrown, and the next row says so', () => {
  const { dir, cleanup } = tempDir();
  const store = openSqliteStore(join(dir, 'site.db'));
  try {
    const told: string[] = [];
    const w = new AuditWriter(store, { onTrouble: (m) => told.push(m) });
    assert.doesNotThrow(() => w.append({ ...row('x', 3), kind: '' }));
    w.append(row('hello', 5));
    w.stop();
    const rows = store.listAudit();
    assert.deepEqual(rows.map((r) => r.kind), ['audit-gap', 'hello']);
    assert.match(rows[0]!.summary, /^1 audit row\(s\) were lost \(3 bytes out, 0 bytes in\): the store refused it: .*audit kind/);
    assert.match(told[0] ?? '', /could not be written/);
    assert.equal(isTransientStoreError(Object.assign(new Error('x'), { cause: { code: 'SQLITE_BUSY' } })), true);
    assert.equal(isTransientStoreError(new Error('database is not open')), false);
  } finally {
    store.close();
    cleanup();
  }
});

interface Line { at: number; text: string }

function child(args: string[], opts: { stdin?: boolean } = {}) {
  const proc = spawn(process.execPath, args, { cwd: root, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  const take = (d: Buffer) => { for (const text of d.toString().split('\n').filter(Boolean)) lines.push({ at: Date.now(), text }); };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, lines, exited, text: () => lines.map((l) => l.text).join('\n') };
}

test('fedseg site with its store locked by another process for 8 s mid-round: stays up, the round has its update, every message is audited', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir('fedseg-busy-');
  const kids: ReturnType<typeof child>[] = [];
  let hub: Awaited<ReturnType<typeof spawnHub>> | undefined;
  try {
    const siteDb = join(dir, 'site.db');
    const s = openSqliteStore(siteDb);
    const ds = s.createDataset({ name: 'tiny', channels: 3, classes: 2 });
    s.addSamples(ds.id, generateFundusSites({ sites: 1, perSite: 16, size: 32, seed: 1 })[0]!.samples);
    s.close();
    const st = new HubState(join(dir, 'hub.db'));
    const token = st.addSite('A');
    st.close();
    const cfg = join(dir, 'hub.json');
    // 16 images in batches of 2: 8 steps, long enough a round for the lock to land inside it.
    writeFileSync(cfg, JSON.stringify({
      host: '127.0.0.1', db: join(dir, 'hub.db'), mode: 'fedavg', rounds: 3, minSites: 1, heartbeatMs: 200, siteTimeoutMs: 60_000,
      roundTimeoutMs: 90_000, evaluate: 'none', model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 2, depth: 2 } },
      train: { localEpochs: 1, batchSize: 2 }, initSeed: 3,
    }));
    // The other process: waits on stdin, then holds the write lock for 8 s (longer than the store's 5 s busy_timeout).
    const lockJs = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(siteDb)}); db.pragma('busy_timeout = 20000');
      process.stdin.once('data', () => { db.exec('BEGIN EXCLUSIVE'); console.log('locked ' + Date.now());
        setTimeout(() => { db.exec('COMMIT'); console.log('released ' + Date.now()); db.close(); process.exit(0); }, 8000); });
      console.log('ready');`;
    const lk = child(['-e', lockJs], { stdin: true });
    kids.push(lk);
    await waitFor(() => lk.lines.some((l) => l.text === 'ready'), 20_000, 'the locking process');
    hub = await spawnHub(cfg);
    const site = child([join(root, 'bin', 'fedseg.mjs'), 'site', '--hub', `ws://127.0.0.1:${hub.port}`, '--name', 'A', '--token', token, '--db', siteDb, '--backend', 'cpu']);
    kids.push(site);
    await waitFor(() => site.lines.some((l) => /round 2\/3: local fedavg training/.test(l.text)) || site.proc.exitCode !== null, 90_000, 'round 2 at the site');
    lk.proc.stdin!.write('lock\n');
    const code = await within(site.exited, 120_000, 'the site process');
    assert.equal(code, 0, `the site process ended with ${code}:\n${site.text()}`);
    assert.equal(await within(lk.exited, 20_000, 'the locking process'), 0, lk.text());
    const lockedAt = Number(/^locked (\d+)/.exec(lk.lines.find((l) => l.text.startsWith('locked'))!.text)![1]);
    const releasedAt = Number(/^released (\d+)/.exec(lk.lines.find((l) => l.text.startsWith('released'))!.text)![1]);
    assert.match(site.text(), /done: 3 round\(s\) trained/);
    await within(hub.exited, 20_000, 'hub exit');

    const hs = new HubState(join(dir, 'hub.db'));
    const rounds = hs.listRounds();
    const hubLog = hs.listAudit({ site: 'A' });
    hs.close();
    assert.deepEqual(rounds.map((r) => [r.round, r.status, r.accepted]), [[1, 'done', ['A']], [2, 'done', ['A']], [3, 'done', ['A']]]);

    const store = openSqliteStore(siteDb);
    const audit = store.listAudit();
    store.close();
    // Nothing lost: every message the hub sent A or received from it (heartbeats aside) has its row, with its size.
    const count = (xs: string[]) => xs.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
    const siteRows = count(audit.filter((r) => r.kind !== 'heartbeat').map((r) => `${r.direction} ${r.bytes}`));
    const hubRows = hubLog.filter((r) => r.event === 'send' || r.event === 'recv').map((r) => `${r.event === 'send' ? 'in' : 'out'} ${r.bytes}`);
    assert.ok(hubRows.length >= 8, `the hub logged its messages with A (${hubRows.length})`);
    for (const [k, n] of count(hubRows)) assert.ok((siteRows.get(k) ?? 0) >= n, `the site's audit log lacks ${n - (siteRows.get(k) ?? 0)} row(s) '${k}' the hub logged`);
    for (const r of [1, 2, 3]) assert.equal(audit.filter((a) => a.kind === 'weights-update' && a.summary.startsWith(`weights trained in round ${r},`)).length, 1, `round ${r} update audited once`);
    assert.equal(audit.filter((a) => a.kind === 'audit-gap').length, 0, 'no row was dropped');
    // The lock really fell inside the site's work: rows that happened while it was held waited and were written after it.
    const late = audit.filter((a) => / \(written late: happened at /.test(a.summary));
    assert.ok(late.length >= 1, 'some rows waited for the lock');
    for (const a of late) {
      const happened = Date.parse(/happened at (\S+)\)$/.exec(a.summary)![1]!);
      assert.ok(happened >= lockedAt - 1000 && happened <= releasedAt + 1000, `${a.summary} happened while the file was locked`);
    }
    const ids = audit.map((a) => a.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  } finally {
    for (const k of kids) k.proc.kill('SIGKILL');
    hub?.proc.kill('SIGKILL');
    cleanup();
  }
});
