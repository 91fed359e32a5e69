// The admin token of docs/security.md §6: shown once, kept as a salted hash, replaced by the next one,
// and read from an `Authorization: Bearer` header only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerToken, hasAdminToken, issueAdminToken, verifyAdminToken } from './admin-token.js';

/** The two meta calls of the hub state, in memory. */
function meta() {
  const m = new Map<string, string>();
  return { getMeta: (k: string) => m.get(k) ?? null, setMeta: (k: string, v: string) => void m.set(k, v), m };
}

test('an issued token verifies, its stored form is not the token, and the next one revokes it', () => {
  const st = meta();
  assert.equal(hasAdminToken(st), false);
  assert.equal(verifyAdminToken(st, 'fsa_anything'), false, 'no token issued: nothing verifies');
  const a = issueAdminToken(st);
  assert.match(a, /^fsa_[A-Za-z0-9_-]{43}$/);
  assert.ok(![...st.m.values()].some((v) => v.includes(a.slice(4))), 'only a hash is stored');
  assert.equal(verifyAdminToken(st, a), true);
  assert.equal(verifyAdminToken(st, a + 'x'), false);
  const b = issueAdminToken(st);
  assert.notEqual(a, b);
  assert.equal(verifyAdminToken(st, a), false, 'rotated');
  assert.equal(verifyAdminToken(st, b), true);
});

test('bearerToken: none, a token, or malformed', () => {
  assert.equal(bearerToken(undefined), null);
  assert.equal(bearerToken('Bearer fsa_x'), 'fsa_x');
  assert.equal(bearerToken('bearer   fsa_x '), 'fsa_x');
  for (const h of ['fsa_x', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b']) assert.equal(bearerToken(h), undefined, h);
});
