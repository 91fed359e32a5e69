// The desktop app's key (docs/security.md §5) with a keychain that really encrypts (test/helpers/
// os-keychain.ts): created once and kept wrapped (0600) in userData, the same key on every start, and a
// fallback with a warning where there is no keychain, another keychain, or a damaged file; the engine
// then seals with the key it was sent, and the token is not in the store's bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, keySecretBox } from '../core/app/index.js';
import { osKeychain } from '../test/helpers/os-keychain.js';
import { keychainSecretKey, SAFE_KEY_FILE } from './secret-box.js';

const posix = process.platform !== 'win32';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'fedseg-keychain-'));
}

test('the key is made once, kept only wrapped, and the same on the next start', () => {
  const dir = tmp();
  try {
    const keychain = osKeychain('gnome_libsecret');
    const a = keychainSecretKey(keychain, dir, 'linux');
    assert.ok(a.secrets, String(a.warning));
    assert.equal(a.secrets.kind, 'electron-safeStorage (gnome_libsecret)');
    const file = join(dir, SAFE_KEY_FILE);
    if (posix) assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file).includes(Buffer.from(a.secrets.key)), false, 'only the wrapped key is on disk');
    const b = keychainSecretKey(keychain, dir, 'linux');
    assert.equal(b.secrets?.key, a.secrets.key);
    if (posix) {
      chmodSync(file, 0o644);
      assert.equal(keychainSecretKey(keychain, dir, 'linux').secrets?.key, a.secrets.key);
      assert.equal(statSync(file).mode & 0o777, 0o600, 'a loose file is tightened');
    }
    assert.equal(keychainSecretKey(keychain, dir, 'darwin').secrets?.kind, 'electron-safeStorage', 'no backend name outside Linux');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no keychain, a keychain that cannot unwrap, or a damaged file: the key file next to the store, with a warning', () => {
  const dir = tmp();
  try {
    const none = keychainSecretKey(osKeychain('gnome_libsecret', { available: false }), dir, 'linux');
    assert.equal(none.secrets, null);
    assert.match(none.warning ?? '', /OS keychain is not available.*key file next to the site's data/);
    assert.match(keychainSecretKey(undefined, dir, 'linux').warning ?? '', /not available/);
    const basic = keychainSecretKey(osKeychain('basic_text'), dir, 'linux');
    assert.equal(basic.secrets, null);
    assert.match(basic.warning ?? '', /backend 'basic_text'/);
    assert.equal(existsSync(join(dir, SAFE_KEY_FILE)), false, 'nothing is written without a keychain');

    const mine = keychainSecretKey(osKeychain('kwallet5'), dir, 'linux');
    assert.ok(mine.secrets);
    const before = readFileSync(join(dir, SAFE_KEY_FILE));
    const other = keychainSecretKey(osKeychain('kwallet5'), dir, 'linux');
    assert.equal(other.secrets, null);
    assert.match(other.warning ?? '', /could not unwrap/);
    assert.deepEqual(readFileSync(join(dir, SAFE_KEY_FILE)), before, 'the wrapped key is kept for when its keychain is back');

    const keychain = osKeychain('kwallet5');
    writeFileSync(join(dir, SAFE_KEY_FILE), keychain.encryptString('too short'));
    assert.match(keychainSecretKey(keychain, dir, 'linux').warning ?? '', /does not hold a 32-byte key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the engine seals the token with the key the shell sends; the store file never holds it', async () => {
  const dir = tmp();
  try {
    const k = keychainSecretKey(osKeychain('gnome_libsecret'), dir, 'linux');
    assert.ok(k.secrets);
    const box = keySecretBox(Buffer.from(k.secrets.key, 'base64'), k.secrets.kind);
    const db = join(dir, 'site.sqlite');
    const engine = await createEngine({ dbPath: db, mode: 'electron', secrets: box });
    // A plain token left by an older FedSeg is sealed with the keychain's key when the engine reads it.
    engine.store.setSetting('app.federation.token', 'plain-old-token-123456');
    engine.store.setSetting('app.federation', { hubUrl: 'ws://127.0.0.1:1', siteName: 'site-a' });
    assert.equal((await engine.handlers.getFederationSettings({})).tokenSet, true);
    await engine.handlers.testConnection({}); // reads the saved token (the hub is not there)
    const stored = engine.store.getSetting<{ sealed: string }>('app.federation.token');
    assert.equal(box.open(stored!.sealed, 'app.federation.token'), 'plain-old-token-123456');
    await engine.close();
    assert.equal(readFileSync(db).includes('plain-old-token-123456'), false);
    assert.equal(existsSync(join(dir, 'secret.key')), false, 'no key file: the keychain keeps the key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
