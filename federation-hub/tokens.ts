// Site enrolment tokens: random 256-bit secrets, shown once by `fedseg-hub add-site`, stored only as a
// salted SHA-256 hash, compared in constant time (crypto.timingSafeEqual). Tokens are high-entropy
// random strings, so a fast salted hash is enough (no password-stretching needed).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newToken(): string {
  return 'fst_' + randomBytes(32).toString('base64url');
}

export function newSalt(): Buffer {
  return randomBytes(16);
}

export function hashToken(token: string, salt: Uint8Array): Buffer {
  return createHash('sha256').update(salt).update(token, 'utf8').digest();
}

/** Constant-time check of a presented token against the stored salt + hash. */
export function verifyToken(token: string, salt: Uint8Array, stored: Uint8Array): boolean {
  const h = hashToken(token, salt);
  return h.length === stored.length && timingSafeEqual(h, stored);
}
