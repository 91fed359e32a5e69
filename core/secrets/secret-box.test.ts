// The secret boxes of docs/security.md §5: a sealed value opens to what was sealed and to nothing else;
// any altered field, another key or another context is a clear FedSegError (never garbage); the file
// box makes its key 0600 on the first seal only, and refuses a key file other users can read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import { fileSecretBox, isSealed, keyId, keySecretBox, KEY_FILE } from './secret-box.js';

const posix = process.platform !== 'win32';

function rejectsWith(f: () => unknown, code: string, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof FedSegError && e.code === code && re.test(e.message), `expected ${code} ${re}`);
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'fedseg-secrets-'));
}

test('a sealed value opens to the plain text, and only with its key and context', () => {
  const key = randomBytes(32);
  const box = keySecretBox(key, 'test');
  const plain = 'tok-ÄÖ-0123456789';
  const sealed = box.seal(plain, 'app.federation.token');
  assert.ok(isSealed(sealed));
  assert.match(sealed, new RegExp(`^fsb1:${keyId(key)}:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`));
  assert.equal(sealed.includes(plain), false);
  assert.notEqual(box.seal(plain, 'app.federation.token'), sealed, 'a fresh iv every time');
  assert.equal(box.open(sealed, 'app.federation.token'), plain);
  assert.equal(keySecretBox(Buffer.from(key), 'again').open(sealed, 'app.federation.token'), plain, 'the same key opens it in another box');
  assert.equal(box.open(box.seal(''), undefined), '');

  rejectsWith(() => keySecretBox(randomBytes(32), 'other').open(sealed, 'app.federation.token'), 'AUTH_FAILED', /sealed with another key/);
  rejectsWith(() => box.open(sealed, 'app.federation.identityKey'), 'CORRUPT_FILE', /integrity check.*another setting/);
  rejectsWith(() => keySecretBox(randomBytes(16), 'short'), 'INVALID_ARGUMENT', /32 bytes/);
});

test('every altered field of a sealed value is refused as CORRUPT_FILE', () => {
  const box = keySecretBox(randomBytes(32), 'test');
  const sealed = box.seal('the join token', 'k');
  const [prefix, kid, iv, tag, ct] = sealed.split(':') as [string, string, string, string, string];
  const flip = (b64: string) => {
    const b = Buffer.from(b64, 'base64');
    b[0] = b[0]! ^ 1;
    return b.toString('base64');
  };
  const cases = {
    iv: [prefix, kid, flip(iv), tag, ct].join(':'),
    tag: [prefix, kid, iv, flip(tag), ct].join(':'),
    data: [prefix, kid, iv, tag, flip(ct)].join(':'),
    truncated: [prefix, kid, iv, tag, ct.slice(0, -4)].join(':'),
    'short iv': [prefix, kid, iv.slice(0, 8), tag, ct].join(':'),
    'not base64': [prefix, kid, iv, tag, `${ct}*`].join(':'),
    'missing field': [prefix, kid, iv, tag].join(':'),
    'plain text': 'the join token',
  };
  for (const [what, bad] of Object.entries(cases)) {
    assert.throws(() => box.open(bad, 'k'), (e: unknown) => e instanceof FedSegError && e.code === 'CORRUPT_FILE', what);
  }
});

test('the file box creates its key 0600 on the first seal, never on open, and shares it', () => {
  const dir = tmp();
  try {
    const box = fileSecretBox(dir);
    assert.equal(box.keyPath, join(dir, KEY_FILE));
    rejectsWith(() => box.open(keySecretBox(randomBytes(32), 'x').seal('a')), 'AUTH_FAILED', /key file .* is missing/);
    assert.equal(existsSync(box.keyPath), false, 'opening never creates a key');
    const sealed = box.seal('s3cret', 'k');
    assert.equal(readFileSync(box.keyPath).length, 32);
    if (posix) assert.equal(statSync(box.keyPath).mode & 0o777, 0o600);
    assert.equal(fileSecretBox(dir).open(sealed, 'k'), 's3cret', 'a second box (another process) uses the same key');
    // The key file removed (or a store copied without it): the value does not open.
    rmSync(box.keyPath);
    rejectsWith(() => fileSecretBox(dir).open(sealed, 'k'), 'AUTH_FAILED', /missing/);
    // A new key replaces it: the old value is "another key", not garbage.
    fileSecretBox(dir).seal('new');
    rejectsWith(() => fileSecretBox(dir).open(sealed, 'k'), 'AUTH_FAILED', /another key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file box refuses a key file others can read, a link, or a damaged one', { skip: !posix }, () => {
  const dir = tmp();
  try {
    const keyPath = join(dir, KEY_FILE);
    writeFileSync(keyPath, randomBytes(32), { mode: 0o600 });
    chmodSync(keyPath, 0o644);
    rejectsWith(() => fileSecretBox(dir).seal('x'), 'POLICY_REFUSED', /can be read by other users \(mode 0644\).*chmod 600/);
    chmodSync(keyPath, 0o600);
    assert.ok(isSealed(fileSecretBox(dir).seal('x')), 'accepted once private');
    writeFileSync(keyPath, randomBytes(31));
    rejectsWith(() => fileSecretBox(dir).seal('x'), 'CORRUPT_FILE', /31 bytes instead of 32/);
    rmSync(keyPath);
    const elsewhere = join(dir, 'elsewhere.key');
    writeFileSync(elsewhere, randomBytes(32), { mode: 0o600 });
    symlinkSync(elsewhere, keyPath);
    rejectsWith(() => fileSecretBox(dir).seal('x'), 'POLICY_REFUSED', /not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
