// A site's identity on the wire (docs/security.md §2): an Ed25519 key pair made by the site. The hub
// opens every connection with a random nonce (the `challenge` message); the site's Hello carries its
// public key and a signature of (protocol, nonce, name, key, role), so a recorded Hello cannot be
// replayed on another connection and a stolen enrolment token is useless once the hub has bound the
// site's key. Both ends derive the signed bytes from hub-protocol.ts helloSigningPayload.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { FedSegError } from './errors.js';
import { helloSigningPayload, PROTOCOL_VERSION, type Capabilities, type HelloMsg } from './hub-protocol.js';

export interface SiteIdentity {
  /** The raw 32-byte Ed25519 public key, base64 (what the hub binds at enrolment). */
  readonly publicKey: string;
  /** The private key as PKCS#8 DER, base64: what the site keeps, sealed (docs/security.md §5). */
  exportPrivate(): string;
  sign(payload: Uint8Array): string;
}

/** The SPKI DER prefix of an Ed25519 public key; the raw key is the 32 bytes after it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function rawPublic(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32).toString('base64');
}

function fromKeyObject(priv: KeyObject): SiteIdentity {
  if (priv.asymmetricKeyType !== 'ed25519') throw new FedSegError('CORRUPT_FILE', `the site key is a ${priv.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  const publicKey = rawPublic(createPublicKey(priv));
  return {
    publicKey,
    exportPrivate: () => priv.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    sign: (payload) => sign(null, payload, priv).toString('base64'),
  };
}

export function newSiteIdentity(): SiteIdentity {
  return fromKeyObject(generateKeyPairSync('ed25519').privateKey);
}

/** The identity kept as exportPrivate() returned it; a damaged value is CORRUPT_FILE. */
export function siteIdentityFromPrivate(pkcs8: string): SiteIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new FedSegError('CORRUPT_FILE', `the site's stored key cannot be read (${(e as Error).message}); a new key must be enrolled`);
  }
  return fromKeyObject(key);
}

/** Checks a Hello's signature against its own public key and the connection's nonce. */
export function verifyHelloSignature(hello: HelloMsg, nonce: string): boolean {
  try {
    const raw = Buffer.from(hello.identity.publicKey, 'base64');
    if (raw.length !== 32) return false;
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    const payload = helloSigningPayload(nonce, hello.site, hello.identity.publicKey, hello.capabilities.role);
    return verify(null, payload, key, Buffer.from(hello.identity.signature, 'base64'));
  } catch {
    return false;
  }
}

/** A short, readable fingerprint of a public key (for logs and the coordinator's site list). */
export function keyFingerprint(publicKey: string): string {
  const b = Buffer.from(publicKey, 'base64');
  return b.subarray(0, 8).toString('hex').replace(/(.{4})(?=.)/g, '$1:');
}

/** The signed Hello a site answers a challenge with. */
export function signedHello(o: {
  nonce: string;
  site: string;
  identity: SiteIdentity;
  capabilities: Capabilities;
  token?: string | undefined;
  resumeRound?: number | null | undefined;
  protocol?: number | undefined;
}): HelloMsg {
  const payload = helloSigningPayload(o.nonce, o.site, o.identity.publicKey, o.capabilities.role);
  return {
    kind: 'hello', protocol: o.protocol ?? PROTOCOL_VERSION, site: o.site,
    ...(o.token ? { token: o.token } : {}),
    identity: { publicKey: o.identity.publicKey, signature: o.identity.sign(payload) },
    capabilities: o.capabilities,
    ...(o.resumeRound !== null && o.resumeRound !== undefined ? { resumeRound: o.resumeRound } : {}),
  };
}
