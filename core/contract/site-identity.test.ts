// Site identity (docs/security.md §2): a Hello signed for one connection's nonce verifies only there,
// only for its own key, name and role; the stored private key round-trips; damage is CORRUPT_FILE.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peekKind, encodeMessage } from './hub-protocol.js';
import { keyFingerprint, newSiteIdentity, signedHello, siteIdentityFromPrivate, verifyHelloSignature } from './site-identity.js';

const caps = { backend: 'x', modes: ['fedavg' as const], kinds: ['unet' as const], float16: false, role: 'train' as const };
const nonce = 'a1'.repeat(32);

test('a signed hello verifies for its nonce, and for nothing else', () => {
  const id = newSiteIdentity();
  const h = signedHello({ nonce, site: 'A', identity: id, capabilities: caps, token: 'tok' });
  assert.equal(verifyHelloSignature(h, nonce), true);
  assert.equal(verifyHelloSignature(h, 'b2'.repeat(32)), false, 'replayed on another connection');
  assert.equal(verifyHelloSignature({ ...h, site: 'B' }, nonce), false, 'another name');
  assert.equal(verifyHelloSignature({ ...h, capabilities: { ...caps, role: 'eval' } }, nonce), false, 'another role');
  const other = newSiteIdentity();
  assert.equal(verifyHelloSignature({ ...h, identity: { ...h.identity, publicKey: other.publicKey } }, nonce), false, 'another key');
  assert.equal(verifyHelloSignature({ ...h, identity: { publicKey: h.identity.publicKey, signature: `${'A'.repeat(86)}==` } }, nonce), false);
});

test('the private key round-trips through its stored form; a damaged one is CORRUPT_FILE', () => {
  const id = newSiteIdentity();
  const back = siteIdentityFromPrivate(id.exportPrivate());
  assert.equal(back.publicKey, id.publicKey);
  const h = signedHello({ nonce, site: 'A', identity: back, capabilities: caps });
  assert.equal(verifyHelloSignature({ ...h, identity: { ...h.identity, publicKey: id.publicKey } }, nonce), true);
  assert.throws(() => siteIdentityFromPrivate('AAAA'), { code: 'CORRUPT_FILE' });
  assert.match(keyFingerprint(id.publicKey), /^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
});

test('peekKind reads the kind of a frame without decoding its attachment', () => {
  const text = encodeMessage({ kind: 'heartbeat', t: 1 });
  assert.equal(peekKind(text.data, false), 'heartbeat');
  const bin = encodeMessage({ kind: 'train_res', round: 1, globalHash: 'a'.repeat(64), numSamples: 1, metrics: {} }, [{ name: 'w', shape: [2], data: Float32Array.from([1, 2]) }]);
  // A corrupted attachment does not matter to peekKind: only the header is read.
  const b = (bin.data as Uint8Array).slice();
  b.fill(0xff, b.length - 8);
  assert.equal(peekKind(b, true), 'train_res');
  assert.equal(peekKind('{not json', false), null);
  assert.equal(peekKind(Uint8Array.from([1, 2, 3]), true), null);
});
