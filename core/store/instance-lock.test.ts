// One FedSeg per site store (docs/security.md §5), on real files and real processes: a second open with
// the lock fails naming the holder's pid (in this process or another one), read-only opens and the
// engine's unlocked job-worker opens still work, a lock whose process is gone is taken over, and
// closing releases it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { FedSegError } from '../contract/errors.js';
import { openSqliteStore } from './sqlite-store.js';
import { acquireInstanceLock, processAlive } from './instance-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const alreadyOpen = (pid: number) => (e: unknown) =>
  e instanceof FedSegError && e.code === 'DB_ERROR' && e.message.includes(`this site's data is already open in another FedSeg (pid ${pid})`);

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  assert.ok(pid > 0 && !processAlive(pid));
  return pid;
}

test('a second locked open of the same store fails with the pid; closing releases it', () => {
  const db = join(dir, 'site.sqlite');
  const first = openSqliteStore(db, { instanceLock: true });
  assert.equal(readFileSync(`${db}.lock`, 'utf8'), `${process.pid}\n`);
  if (process.platform !== 'win32') assert.equal(statSync(`${db}.lock`).mode & 0o777, 0o600);
  assert.throws(() => openSqliteStore(db, { instanceLock: true }), alreadyOpen(process.pid));
  // The engine's own workers (no lock) and read-only readers still open it.
  const worker = openSqliteStore(db);
  worker.setSetting('w', 1);
  worker.close();
  openSqliteStore(db, { readonly: true }).close();
  first.close();
  assert.equal(existsSync(`${db}.lock`), false, 'released on close');
  const again = openSqliteStore(db, { instanceLock: true });
  assert.equal(again.getSetting('w'), 1);
  again.close();
});

test('a lock held by another live process refuses this one; once that process is gone it is taken over', async () => {
  const db = join(dir, 'shared.sqlite');
  openSqliteStore(db).close();
  // Another FedSeg: a real process holding the store open with the lock until told to stop.
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `
    import('${new URL('./sqlite-store.ts', import.meta.url).href}').then(({ openSqliteStore }) => {
      const s = openSqliteStore(${JSON.stringify(db)}, { instanceLock: true });
      process.stdout.write('open\\n');
      process.stdin.on('data', () => { s.close(); process.exit(0); });
    });`], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [chunk] = (await once(holder.stdout!, 'data')) as [Buffer];
    assert.equal(chunk.toString().trim(), 'open');
    assert.throws(() => openSqliteStore(db, { instanceLock: true }), alreadyOpen(holder.pid!));
    holder.kill('SIGKILL'); // a crash: the lock file stays behind
    await once(holder, 'exit');
    assert.equal(readFileSync(`${db}.lock`, 'utf8'), `${holder.pid}\n`, 'the crashed holder left its lock');
    const s = openSqliteStore(db, { instanceLock: true });
    assert.equal(readFileSync(`${db}.lock`, 'utf8'), `${process.pid}\n`, 'taken over');
    s.close();
  } finally {
    holder.kill('SIGKILL');
  }
});

test('stale, damaged and own-pid locks are taken over', () => {
  const db = join(dir, 'stale.sqlite');
  for (const content of [`${deadPid()}\n`, 'garbage', '', `${process.pid}\n`]) {
    writeFileSync(`${db}.lock`, content);
    const lock = acquireInstanceLock(db);
    assert.equal(readFileSync(lock.path, 'utf8'), `${process.pid}\n`, JSON.stringify(content));
    lock.release();
    assert.equal(existsSync(lock.path), false);
  }
  // A lock taken over by someone else after ours is never removed by our release.
  const lock = acquireInstanceLock(db);
  writeFileSync(lock.path, `${deadPid()}\n`);
  lock.release();
  assert.equal(existsSync(lock.path), true, 'not ours: left in place');
});
