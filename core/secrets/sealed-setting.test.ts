// Sealed settings on a real SQLite store (docs/security.md §5): the secret never appears in the
// database file's bytes; a plain secret left by an older FedSeg is sealed on first read and its old
// bytes are gone from the file once the store is closed; a tampered stored value is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { sealedSetting } from './sealed-setting.js';
import { keySecretBox } from './secret-box.js';

/** Every byte SQLite keeps for the store: the database and its write-ahead log. */
function rawBytes(db: string): Buffer {
  return Buffer.concat([db, `${db}-wal`].filter(existsSync).map((f) => readFileSync(f)));
}

const TOKEN = 'join-token-Zq7vX2p9LmN4wR8t';
const KEY = 'app.federation.token';

test('a sealed secret is not in the file; it opens again after a reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-sealed-'));
  try {
    const db = join(dir, 'site.sqlite');
    const box = keySecretBox(randomBytes(32), 'test');
    let store = openSqliteStore(db);
    const s = sealedSetting(store, box, KEY);
    assert.equal(s.has(), false);
    assert.equal(s.get(), undefined);
    s.set(TOKEN);
    assert.equal(s.has(), true);
    assert.equal(rawBytes(db).includes(TOKEN), false, 'not in the file while open (WAL included)');
    store.close();
    assert.equal(rawBytes(db).includes(TOKEN), false, 'not in the file after close');
    assert.ok(rawBytes(db).includes('fsb1:'), 'the sealed value is what the file holds');
    store = openSqliteStore(db, { readonly: true });
    assert.equal(sealedSetting(store, box, KEY).get(), TOKEN);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a plain secret from an older FedSeg is sealed on first read, and its bytes leave the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-sealed-'));
  try {
    const db = join(dir, 'site.sqlite');
    const box = keySecretBox(randomBytes(32), 'test');
    let store = openSqliteStore(db);
    store.setSetting('app.federation', { hubUrl: 'ws://127.0.0.1:1', siteName: 'site-a' });
    store.setSetting(KEY, TOKEN); // how the token was stored before sealing
    store.setSetting('app.window', { width: 1280 }); // a row written after it: the token's old bytes sit between live rows
    store.close();
    assert.equal(rawBytes(db).includes(TOKEN), true, 'before: the token is in the file as plain text');

    // Read-only: the plain value is returned, and stays (nothing can be written).
    store = openSqliteStore(db, { readonly: true });
    assert.equal(sealedSetting(store, box, KEY).get(), TOKEN);
    store.close();
    assert.equal(rawBytes(db).includes(TOKEN), true);

    store = openSqliteStore(db);
    assert.equal(sealedSetting(store, box, KEY).get(), TOKEN);
    const stored = store.getSetting<{ sealed: string }>(KEY);
    assert.ok(stored && typeof stored === 'object' && stored.sealed.startsWith('fsb1:'), 'the store now holds it sealed');
    assert.equal(sealedSetting(store, box, KEY).get(), TOKEN, 'and it opens');
    store.close();
    assert.equal(rawBytes(db).includes(TOKEN), false, 'after: the old plain bytes are gone from the file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tampered or foreign stored value is refused with a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-sealed-'));
  try {
    const store = openSqliteStore(join(dir, 'site.sqlite'));
    const box = keySecretBox(randomBytes(32), 'test');
    const s = sealedSetting(store, box, KEY);
    s.set(TOKEN);
    const { sealed } = store.getSetting<{ sealed: string }>(KEY)!;
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[4]!, 'base64');
    ct[0] = ct[0]! ^ 0x20;
    parts[4] = ct.toString('base64');
    store.setSetting(KEY, { sealed: parts.join(':') });
    assert.throws(() => s.get(), (e: unknown) => e instanceof FedSegError && e.code === 'CORRUPT_FILE' && /integrity check/.test(e.message));
    // A sealed identity key copied over the token's setting does not open as the token.
    const other = sealedSetting(store, box, 'app.federation.identityKey');
    other.set('identity-private-key');
    store.setSetting(KEY, store.getSetting('app.federation.identityKey'));
    assert.throws(() => s.get(), (e: unknown) => e instanceof FedSegError && e.code === 'CORRUPT_FILE');
    store.setSetting(KEY, { something: 'else' });
    assert.throws(() => s.get(), (e: unknown) => e instanceof FedSegError && e.code === 'CORRUPT_FILE' && /neither a sealed secret nor a plain one/.test(e.message));
    assert.throws(() => sealedSetting(store, keySecretBox(randomBytes(32), 'other'), 'app.federation.identityKey').get(),
      (e: unknown) => e instanceof FedSegError && e.code === 'AUTH_FAILED');
    s.delete();
    assert.equal(s.has(), false);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
