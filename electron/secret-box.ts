// The desktop app's secret key (docs/security.md §5). The engine seals the join token and the site's
// identity key with a 32-byte key (core/secrets/secret-box.ts); in the app that key is wrapped by the OS
// keychain through Electron's safeStorage (Keychain on macOS, DPAPI on Windows, libsecret/KWallet on
// Linux) and kept wrapped in `<userData>/secret.key.safe` (0600). safeStorage exists only in the main
// process and the engine runs in a utility process, so the main process unwraps the key here and sends
// it to the engine with the init message (electron/engine-link.ts), never through the environment
// (which child processes inherit). Where no keychain is available (safeStorage off, or Linux's
// 'basic_text' backend, a password compiled into Chromium), the engine falls back to the key file next
// to the store, and the caller logs the warning returned here.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, lstatSync, chmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SafeStorageLike } from './electron-api.js';
import type { EngineSecrets } from './engine-link.js';

export const SAFE_KEY_FILE = 'secret.key.safe';
const KEY_BYTES = 32;
/** Linux backends that are no keychain at all. */
const NO_KEYCHAIN = new Set(['basic_text', 'unknown']);

export type KeychainKey = { secrets: EngineSecrets; warning: null } | { secrets: null; warning: string };

const fallback = (why: string): KeychainKey => ({
  secrets: null,
  warning: `${why}; the join token is sealed with a key file next to the site's data instead (secret.key, readable by this user only)`,
});

function unwrap(safe: SafeStorageLike, path: string, kind: string): KeychainKey {
  let plain: string;
  try {
    plain = safe.decryptString(readFileSync(path));
  } catch (e) {
    // Kept as it is: the keychain may come back (another login session, an unlocked wallet).
    return fallback(`the OS keychain could not unwrap ${path} (${(e as Error).message})`);
  }
  const key = Buffer.from(plain, 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== plain) return fallback(`${path} does not hold a ${KEY_BYTES}-byte key; it is damaged`);
  return { secrets: { key: plain, kind }, warning: null };
}

/** The engine's key, unwrapped by the OS keychain (created on first use), or why the key file is used instead. */
export function keychainSecretKey(safe: SafeStorageLike | undefined, dir: string, platform: NodeJS.Platform = process.platform): KeychainKey {
  if (!safe || !safe.isEncryptionAvailable()) return fallback('the OS keychain is not available to FedSeg (Electron safeStorage)');
  const backend = platform === 'linux' ? safe.getSelectedStorageBackend?.() ?? 'unknown' : null;
  if (backend !== null && NO_KEYCHAIN.has(backend)) return fallback(`no OS keychain is running (Electron safeStorage backend '${backend}')`);
  const kind = backend ? `electron-safeStorage (${backend})` : 'electron-safeStorage';
  const path = join(dir, SAFE_KEY_FILE);
  if (existsSync(path)) {
    const st = lstatSync(path);
    if (!st.isFile()) return fallback(`${path} is not a regular file`);
    if (platform !== 'win32' && st.mode & 0o077) chmodSync(path, 0o600);
    return unwrap(safe, path, kind);
  }
  const key = randomBytes(KEY_BYTES).toString('base64');
  let wrapped: Buffer;
  try {
    wrapped = safe.encryptString(key);
  } catch (e) {
    return fallback(`the OS keychain could not wrap a new key (${(e as Error).message})`);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return unwrap(safe, path, kind);
    return fallback(`cannot write ${path} (${(e as Error).message})`);
  }
  try {
    writeSync(fd, wrapped);
  } finally {
    closeSync(fd);
  }
  return { secrets: { key, kind }, warning: null };
}
