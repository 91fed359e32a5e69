// An OS keychain for tests of the desktop shell's safeStorage use (electron/secret-box.ts): Electron's
// binary cannot be installed here, so this stands in for safeStorage with real encryption under a key
// that lives only in this object (as the keychain's lives only in the OS), so what the shell writes to
// disk is really wrapped and a different "login" cannot unwrap it.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SafeStorageLike } from '../../electron/electron-api.js';

export function osKeychain(backend: string, opts: { available?: boolean; key?: Buffer } = {}): SafeStorageLike & { readonly key: Buffer } {
  const key = opts.key ?? randomBytes(32);
  return {
    key,
    isEncryptionAvailable: () => opts.available ?? true,
    getSelectedStorageBackend: () => backend,
    encryptString(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([Buffer.from('v11'), iv, c.getAuthTag(), ct]);
    },
    decryptString(enc) {
      if (enc.subarray(0, 3).toString() !== 'v11') throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      const d = createDecipheriv('aes-256-gcm', key, enc.subarray(3, 15));
      d.setAuthTag(enc.subarray(15, 31));
      try {
        return Buffer.concat([d.update(enc.subarray(31)), d.final()]).toString('utf8');
      } catch {
        throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      }
    },
  };
}
