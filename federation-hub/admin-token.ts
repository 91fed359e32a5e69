// The hub's admin credential: the bearer token that GET /status needs for the full status document
// (site names, sample counts, backends, rejection reasons, metrics; docs/security.md §6). Issued and
// rotated by `fedseg-hub admin-token` (shown once); the state keeps only a salted hash (tokens.ts) under
// one meta key, so issuing a new token revokes the old one.
import { randomBytes } from 'node:crypto';
import type { HubState } from './state.js';
import { hashToken, newSalt, verifyToken } from './tokens.js';

const META_KEY = 'adminTokenHash';

/** Creates (or replaces) the admin token; returns it — the only time it is seen. */
export function issueAdminToken(state: Pick<HubState, 'setMeta'>): string {
  const token = 'fsa_' + randomBytes(32).toString('base64url');
  const salt = newSalt();
  state.setMeta(META_KEY, `${salt.toString('hex')}:${hashToken(token, salt).toString('hex')}`);
  return token;
}

/** Whether an admin token has been issued. */
export function hasAdminToken(state: Pick<HubState, 'getMeta'>): boolean {
  return state.getMeta(META_KEY) !== null;
}

/** Constant-time check of a presented admin token; false when none was issued. */
export function verifyAdminToken(state: Pick<HubState, 'getMeta'>, token: string): boolean {
  const stored = state.getMeta(META_KEY);
  const m = stored ? /^([0-9a-f]{32}):([0-9a-f]{64})$/.exec(stored) : null;
  if (!m || token.length > 200) return false;
  return verifyToken(token, Buffer.from(m[1]!, 'hex'), Buffer.from(m[2]!, 'hex'));
}

/** The token of an `Authorization: Bearer T` header; null for none, undefined for a malformed one. */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : undefined;
}
