// SQLite-only behaviour: WAL and foreign keys, persistence, migrations, newer/corrupt files,
// read-only files, a full database (page-count cap), and the audit log's append-only triggers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FedSegError } from '../contract/errors.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { storeFingerprint } from './fingerprint.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fundus = generateFundusSites({ sites: 1, perSite: 6, size: 32, seed: 4 })[0]!.samples;

function code(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FedSegError, `expected FedSegError, got ${String(e)}`);
    return { code: e.code, message: e.message };
  }
  assert.fail('expected a throw');
}

test('WAL mode, foreign keys, data persists across reopen', () => {
  const path = join(dir, 'persist.sqlite');
  const s = openSqliteStore(path);
  const d = s.createDataset({ name: 'd', channels: 3, classes: 2 });
  s.addSamples(d.id, fundus.slice(0, 2));
  s.appendAudit({ direction: 'out', kind: 'k', bytes: 3, peer: 'p', summary: 's' });
  const fp = storeFingerprint(s);
  s.close();
  const raw = new Database(path);
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(raw.pragma('user_version', { simple: true }), 3);
  raw.close();
  const s2 = openSqliteStore(path);
  assert.equal(storeFingerprint(s2), fp);
  // Foreign keys are enforced on the store's connection: deleting the dataset removes its samples.
  s2.deleteDataset(d.id);
  s2.close();
  const raw2 = new Database(path);
  assert.equal((raw2.prepare('SELECT COUNT(*) AS n FROM samples').get() as { n: number }).n, 0);
  // The audit log refuses UPDATE and DELETE even through raw SQL.
  assert.throws(() => raw2.prepare("UPDATE audit_log SET summary = 'x'").run(), /append-only/);
  assert.throws(() => raw2.prepare('DELETE FROM audit_log').run(), /append-only/);
  raw2.close();
});

test('migrations: a version-1 database is migrated in place with its data', () => {
  const path = join(dir, 'v1.sqlite');
  const s = openSqliteStore(path, { migrateTo: 1 });
  assert.equal(s.schemaVersion(), 1);
  const d = s.createDataset({ name: 'old', channels: 3, classes: 2 });
  s.addSamples(d.id, fundus.slice(0, 1));
  const fp = storeFingerprint(s);
  s.close();
  const s2 = openSqliteStore(path);
  assert.equal(s2.schemaVersion(), 3);
  assert.equal(storeFingerprint(s2), fp);
  // Rows written after the migration use bit-packed masks; old and new rows read back the same way.
  s2.addSamples(d.id, fundus.slice(1, 2));
  const both = s2.loadSamples(d.id);
  assert.deepEqual(both.map((x) => x.mask.data), [fundus[0]!.mask.data, fundus[1]!.mask.data]);
  s2.close();
  const raw = new Database(path);
  const idx = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'samples_by_dataset'").get();
  const enc = raw.prepare('SELECT mask_encoding AS e, length(mask) AS n FROM samples ORDER BY id').all();
  raw.close();
  assert.ok(idx, 'migration 2 created its index');
  assert.deepEqual(enc, [{ e: 'u8', n: 32 * 32 * 2 }, { e: 'bits', n: (32 * 32 * 2) / 8 }]);
});

test('a database from a newer FedSeg, a non-database file and a missing read-only file are refused by name', () => {
  const newer = join(dir, 'newer.sqlite');
  const raw = new Database(newer);
  raw.pragma('user_version = 99');
  raw.close();
  const e1 = code(() => openSqliteStore(newer));
  assert.equal(e1.code, 'VERSION_MISMATCH');
  assert.match(e1.message, /newer\.sqlite.*version 99/);
  const junk = join(dir, 'junk.sqlite');
  writeFileSync(junk, 'this is not a database, just some text that is long enough to have a header'.repeat(20));
  const e2 = code(() => openSqliteStore(junk));
  assert.equal(e2.code, 'CORRUPT_FILE');
  assert.match(e2.message, /junk\.sqlite/);
  const e3 = code(() => openSqliteStore(join(dir, 'missing.sqlite'), { readonly: true }));
  assert.equal(e3.code, 'IO_ERROR');
  assert.match(e3.message, /missing\.sqlite/);
});

test('read-only database: reads work, every write fails cleanly and changes nothing', () => {
  const path = join(dir, 'ro.sqlite');
  const s = openSqliteStore(path);
  const d = s.createDataset({ name: 'd', channels: 3, classes: 2 });
  s.addSamples(d.id, fundus.slice(0, 2));
  const fp = storeFingerprint(s);
  s.close();
  const ro = openSqliteStore(path, { readonly: true });
  assert.equal(ro.loadSamples(d.id).length, 2);
  for (const write of [
    () => ro.addSamples(d.id, fundus.slice(2, 4)),
    () => ro.appendAudit({ direction: 'in', kind: 'k', bytes: 1, peer: 'p', summary: '' }),
    () => ro.setSetting('a', 1),
    () => {
      const imp = ro.beginImport({ datasetId: d.id });
      imp.add(fundus.slice(2, 3));
      imp.commit();
    },
  ]) {
    const e = code(write);
    assert.equal(e.code, 'DB_ERROR');
    assert.match(e.message, /ro\.sqlite is read-only/);
  }
  assert.equal(storeFingerprint(ro), fp);
  ro.close();
});

test('full database (page cap): the failing write and import leave everything as before', () => {
  const path = join(dir, 'full.sqlite');
  const s0 = openSqliteStore(path);
  s0.createDataset({ name: 'd', channels: 3, classes: 2 });
  s0.close();
  const raw = new Database(path);
  const pages = raw.pragma('page_count', { simple: true }) as number;
  raw.close();
  // One page of headroom (16 KiB on a new file): less than the samples need.
  const s = openSqliteStore(path, { maxPageCount: pages + 1 });
  const d = s.getDataset('d')!;
  const fp = storeFingerprint(s);
  const e = code(() => s.addSamples(d.id, fundus));
  assert.equal(e.code, 'DB_ERROR');
  assert.match(e.message, /full\.sqlite is full.*nothing was written/);
  assert.equal(storeFingerprint(s), fp);
  const imp = s.beginImport({ dataset: { name: 'big', channels: 3, classes: 2 } });
  imp.add(fundus); // staged in TEMP storage, outside the capped main file
  const e2 = code(() => imp.commit());
  assert.match(e2.message, /is full/);
  assert.equal(storeFingerprint(s), fp);
  imp.abort();
  // Small writes still fit.
  s.appendAudit({ direction: 'in', kind: 'k', bytes: 1, peer: 'p', summary: '' });
  s.close();
});

test('a new database file gets 16 KiB pages (sample blobs need fewer overflow pages); an existing file keeps its own', () => {
  const fresh = join(dir, 'pages-new.sqlite');
  openSqliteStore(fresh).close();
  const a = new Database(fresh);
  assert.equal(a.pragma('page_size', { simple: true }), 16384);
  a.close();
  const old = join(dir, 'pages-old.sqlite');
  const b = new Database(old);
  b.exec('CREATE TABLE keep (x)'); // a file that already has tables keeps SQLite's 4 KiB default
  b.close();
  openSqliteStore(old).close();
  const c = new Database(old);
  assert.equal(c.pragma('page_size', { simple: true }), 4096);
  c.close();
});

test('a write that checks first waits for another process writing, instead of failing as locked at once', async () => {
  const path = join(dir, 'concurrent.sqlite');
  const s = openSqliteStore(path);
  const d = s.createDataset({ name: 'd', channels: 3, classes: 2 });
  const window = { channels: 1, halfWidth: 1, data: new Float32Array(9).fill(1) };
  // Another process takes the write lock and keeps it for 600 ms (as the app's other thread does while it writes).
  const holder = spawn(process.execPath, ['-e', `
    const db = new (require('better-sqlite3'))(${JSON.stringify(path)});
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    db.exec('CREATE TABLE IF NOT EXISTS scratch (x)');
    db.prepare('INSERT INTO scratch VALUES (1)').run();
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, 600);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => holder.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (c) => reject(new Error(`lock holder exited with ${c}`)));
  });
  // putAmplitudeWindows reads (the dataset exists) before it inserts: a deferred transaction failed here.
  const t0 = Date.now();
  const ids = s.putAmplitudeWindows([{ source: 'local', site: 'a', datasetId: d.id, alpha: 0.1, window }]);
  assert.equal(ids.length, 1);
  assert.ok(Date.now() - t0 >= 200, 'the write waited for the other writer');
  assert.equal(s.listAmplitudeWindows({}).length, 1);
  await exited;
  s.close();
});
