// File modes at rest (docs/security.md §5), on real files under a permissive umask (022, the usual one):
// folders made for the site's data are 0700 all the way down, a store opened for writing is 0600 with
// its -wal/-shm, loose files of this user are tightened with a warning, and read-only opens change
// nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../store/sqlite-store.js';
import { ensurePrivateDir, preparePrivateDbFile, tightenFile } from './file-modes.js';

const posix = process.platform !== 'win32';
const mode = (p: string) => statSync(p).mode & 0o777;
let dir: string;
let umask: number;

before(() => {
  umask = process.umask(0o022);
  dir = mkdtempSync(join(tmpdir(), 'fedseg-modes-'));
});
after(() => {
  process.umask(umask);
  rmSync(dir, { recursive: true, force: true });
});

test('folders made for site data are 0700; an existing one is tightened only when asked', { skip: !posix }, () => {
  const deep = join(dir, 'a', 'b', 'c');
  ensurePrivateDir(deep);
  for (const p of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) assert.equal(mode(p), 0o700, p);
  const old = join(dir, 'old');
  mkdirSync(old, { mode: 0o755 });
  const warnings: string[] = [];
  ensurePrivateDir(old, { warn: (m) => warnings.push(m) });
  assert.equal(mode(old), 0o755, 'a folder the user chose is left alone');
  ensurePrivateDir(old, { tightenExisting: true, warn: (m) => warnings.push(m) });
  assert.equal(mode(old), 0o700);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /could be read by other users \(mode 0755\); it is now 0700/);
});

test('a store opened for writing is 0600 with its -wal and -shm', { skip: !posix }, () => {
  const db = join(dir, 'site.sqlite');
  const store = openSqliteStore(db);
  store.setSetting('x', 1);
  for (const p of [db, `${db}-wal`, `${db}-shm`]) {
    assert.ok(existsSync(p), p);
    assert.equal(mode(p), 0o600, p);
  }
  store.close();
});

test('an existing loose store of this user is tightened (with a warning); a read-only open changes nothing', { skip: !posix }, () => {
  const db = join(dir, 'old-site.sqlite');
  openSqliteStore(db).close();
  chmodSync(db, 0o644);
  writeFileSync(`${db}-wal`, '');
  chmodSync(`${db}-wal`, 0o644);
  const ro = openSqliteStore(db, { readonly: true, warn: () => assert.fail('a read-only open must not warn') });
  ro.close();
  assert.equal(mode(db), 0o644, 'read-only: untouched');
  const warnings: string[] = [];
  const store = openSqliteStore(db, { warn: (m) => warnings.push(m) });
  assert.equal(mode(db), 0o600);
  assert.equal(mode(`${db}-shm`), 0o600);
  store.close();
  assert.ok(warnings.some((w) => w.includes(`${db} could be read by other users (mode 0644); it is now 0600`)), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes(`${db}-wal could be read`)), warnings.join('\n'));
});

test('a new file is created 0600 before SQLite sees it; a missing folder is left to SQLite', { skip: !posix }, () => {
  const f = join(dir, 'new.db');
  preparePrivateDbFile(f, () => assert.fail('nothing to warn about'));
  assert.equal(mode(f), 0o600);
  preparePrivateDbFile(join(dir, 'no-such-folder', 'x.db'));
  assert.equal(existsSync(join(dir, 'no-such-folder')), false);
  assert.equal(tightenFile(join(dir, 'absent')), 'missing');
  assert.equal(tightenFile(f), 'ok');
});
