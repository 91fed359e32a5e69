// Secrets at rest (docs/security.md §5): the site's join token (and its identity key) are stored sealed,
// never as plain text in the site's SQLite file, so a copied database or a backup does not hand them
// out. A SecretBox seals a string into a versioned text (AES-256-GCM, node:crypto):
//   fsb1:<key id>:<base64 iv>:<base64 tag>:<base64 ciphertext>
// The key id (8 hex digits of the key's SHA-256) tells "sealed with another key" (AUTH_FAILED) from
// "altered" (CORRUPT_FILE); the optional context (the setting's name) is authenticated too, so a sealed
// value moved to another setting does not open. A wrong key or a tampered value is always an error,
// never garbage.
// Boxes: keySecretBox (a key held by the caller: the desktop app's key is wrapped by the OS keychain,
// electron/secret-box.ts) and fileSecretBox (the CLI and `fedseg serve`: a random key in
// `<dir>/secret.key`, created 0600 with O_EXCL, refused when other users can read it).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, lstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import { ensurePrivateDir, modeText, POSIX_MODES } from './file-modes.js';

export interface SecretBox {
  /** Seals `plain`; `context` (e.g. the setting's name) must be given again to open it. */
  seal(plain: string, context?: string): string;
  /** Opens what seal returned; AUTH_FAILED for another key, CORRUPT_FILE for anything altered. */
  open(sealed: string, context?: string): string;
  /** Where the key lives, in words ('file', 'electron-safeStorage', ...). */
  readonly kind: string;
}

export const SEALED_PREFIX = 'fsb1:';
export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True for text in the sealed format (whatever key sealed it). */
export function isSealed(s: unknown): s is string {
  return typeof s === 'string' && s.startsWith(SEALED_PREFIX);
}

/** The key's public name: 8 hex digits of its SHA-256 (says which key sealed a value, reveals nothing of it). */
export function keyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function b64(s: string, what: string): Buffer {
  if (!B64.test(s)) throw new FedSegError('CORRUPT_FILE', `the sealed value's ${what} is not base64; the stored value was altered or truncated`);
  return Buffer.from(s, 'base64');
}

/** A box over a 32-byte key the caller holds. */
export function keySecretBox(key: Uint8Array, kind: string): SecretBox {
  if (key.length !== KEY_BYTES) throw new FedSegError('INVALID_ARGUMENT', `a secret box key is ${KEY_BYTES} bytes, got ${key.length}`);
  const k = Buffer.from(key);
  const id = keyId(k);
  const aad = (context: string | undefined) => Buffer.from(`${SEALED_PREFIX}${id}:${context ?? ''}`, 'utf8');
  return {
    kind,
    seal(plain, context) {
      if (typeof plain !== 'string') throw new FedSegError('INVALID_ARGUMENT', 'only text can be sealed');
      const iv = randomBytes(IV_BYTES);
      const c = createCipheriv('aes-256-gcm', k, iv);
      c.setAAD(aad(context));
      const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return `${SEALED_PREFIX}${id}:${iv.toString('base64')}:${c.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
    },
    open(sealed, context) {
      if (!isSealed(sealed)) throw new FedSegError('CORRUPT_FILE', `the stored secret is not a sealed value (expected ${SEALED_PREFIX}<key id>:<iv>:<tag>:<data>)`);
      const parts = sealed.slice(SEALED_PREFIX.length).split(':');
      if (parts.length !== 4 || !/^[0-9a-f]{8}$/.test(parts[0]!))
        throw new FedSegError('CORRUPT_FILE', `the sealed value has ${parts.length} fields instead of 4 (key id, iv, tag, data); it was altered or truncated`);
      const [sid, ivS, tagS, ctS] = parts as [string, string, string, string];
      if (sid !== id)
        throw new FedSegError('AUTH_FAILED', `the secret was sealed with another key (key ${sid}; this ${kind} key is ${id}): the key was replaced, or the database was copied from another computer`);
      const iv = b64(ivS, 'iv');
      const tag = b64(tagS, 'tag');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
        throw new FedSegError('CORRUPT_FILE', `the sealed value's iv/tag are ${iv.length}/${tag.length} bytes instead of ${IV_BYTES}/${TAG_BYTES}; it was altered`);
      const d = createDecipheriv('aes-256-gcm', k, iv);
      d.setAAD(aad(context));
      d.setAuthTag(tag);
      try {
        return Buffer.concat([d.update(b64(ctS, 'data')), d.final()]).toString('utf8');
      } catch (e) {
        if (e instanceof FedSegError) throw e;
        throw new FedSegError('CORRUPT_FILE', `the sealed secret failed its integrity check: it was altered${context ? `, or it belongs to another setting than '${context}'` : ''}`);
      }
    },
  };
}

/** The key file of a file box: exactly KEY_BYTES random bytes, owned by this user, mode 0600. */
export const KEY_FILE = 'secret.key';

function readKeyFile(path: string): Buffer | null {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FedSegError('IO_ERROR', `cannot read the key file ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new FedSegError('POLICY_REFUSED', `the key file ${path} is not a regular file (a link or a folder); remove it so FedSeg can create its own`);
  if (POSIX_MODES) {
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid)
      throw new FedSegError('POLICY_REFUSED', `the key file ${path} belongs to another user (uid ${st.uid}); FedSeg uses only a key file of its own user`);
    if (st.mode & 0o077)
      throw new FedSegError('POLICY_REFUSED', `the key file ${path} can be read by other users (mode ${modeText(st.mode)}): it may have been copied. ` +
        `Make it private (chmod 600 ${path}) and, if others could log in here, ask the coordinator for a new join token`);
  }
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot read the key file ${path}: ${(e as Error).message}`);
  }
  if (key.length !== KEY_BYTES) throw new FedSegError('CORRUPT_FILE', `the key file ${path} holds ${key.length} bytes instead of ${KEY_BYTES}; it is damaged`);
  return key;
}

function createKeyFile(path: string): Buffer | null {
  const key = randomBytes(KEY_BYTES);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null; // another process made it first: use theirs
    throw new FedSegError('IO_ERROR', `cannot create the key file ${path}: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, key);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return key;
}

/**
 * A box whose key is `<dir>/secret.key`, read (or created, on the first seal) when first needed, so a
 * store that never keeps a secret never gets a key file. Opening without the key file is AUTH_FAILED.
 */
export function fileSecretBox(dir: string): SecretBox & { readonly keyPath: string } {
  const keyPath = join(dir, KEY_FILE);
  let box: SecretBox | null = null;
  const load = (create: boolean): SecretBox | null => {
    if (box) return box;
    let key = readKeyFile(keyPath);
    if (!key && create) {
      ensurePrivateDir(dir);
      key = createKeyFile(keyPath) ?? readKeyFile(keyPath);
    }
    if (key) box = keySecretBox(key, 'file');
    return box;
  };
  return {
    kind: 'file',
    keyPath,
    seal(plain, context) {
      return load(true)!.seal(plain, context);
    },
    open(sealed, context) {
      const b = load(false);
      if (!b) throw new FedSegError('AUTH_FAILED', `cannot open the sealed secret: its key file ${keyPath} is missing (deleted, or the database was copied without it); enter the secret again`);
      return b.open(sealed, context);
    },
  };
}
