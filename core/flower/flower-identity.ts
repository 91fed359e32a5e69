// A FedSeg site's identity as a Flower SuperNode (docs/flower.md §2): an EC P-384 key pair, made once
// and kept sealed in the site's store like its hub key (docs/security.md §2, §5). Every Fleet RPC
// carries the PEM public key, a UTC ISO-8601 timestamp and the DER ECDSA-SHA256 signature of that
// timestamp; the SuperLink binds the node id it hands out to this key, so the same key keeps the same
// node across restarts and nobody else can speak for it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { FedSegError } from '../contract/errors.js';
import type { SecretSlot } from '../federation/site-key.js';

/** Where the store keeps the sealed private key (next to the hub key, site.identityKey). */
export const FLOWER_KEY_SETTING = 'site.flowerKey';

export interface FlowerIdentity {
  /** PEM SubjectPublicKeyInfo of the public key, as Flower's flwr-public-key-bin carries it. */
  readonly publicKeyPem: string;
  /** The private key as PKCS#8 DER, base64: what the site keeps, sealed. */
  exportPrivate(): string;
  /** DER ECDSA-SHA256 signature of the bytes. */
  sign(data: Uint8Array): Buffer;
}

function fromKeyObject(priv: KeyObject): FlowerIdentity {
  const curve = priv.asymmetricKeyDetails?.namedCurve;
  if (priv.asymmetricKeyType !== 'ec' || curve !== 'secp384r1')
    throw new FedSegError('CORRUPT_FILE', `the site's Flower key is a ${priv.asymmetricKeyType ?? 'unknown'} ${curve ?? ''} key, not EC P-384`);
  const publicKeyPem = createPublicKey(priv).export({ type: 'spki', format: 'pem' }).toString();
  return {
    publicKeyPem,
    exportPrivate: () => priv.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    sign: (data) => sign('sha256', data, { key: priv, dsaEncoding: 'der' }),
  };
}

export function newFlowerIdentity(): FlowerIdentity {
  return fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey);
}

/** The identity kept as exportPrivate() returned it; a damaged value is CORRUPT_FILE. */
export function flowerIdentityFromPrivate(pkcs8: string): FlowerIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new FedSegError('CORRUPT_FILE', `the site's stored Flower key cannot be read (${(e as Error).message})`);
  }
  return fromKeyObject(key);
}

/** The stored identity, or a new one stored now; a key that cannot be opened is an error, never silently replaced (the node id is bound to it). */
export function flowerIdentity(slot: SecretSlot): FlowerIdentity {
  let kept: string | undefined;
  try {
    kept = slot.get();
  } catch (e) {
    throw new FedSegError('AUTH_FAILED', `this site's Flower key cannot be opened (${e instanceof Error ? e.message : String(e)})`);
  }
  if (kept) return flowerIdentityFromPrivate(kept);
  const id = newFlowerIdentity();
  slot.set(id.exportPrivate());
  return id;
}

/** Flower's timestamp format: UTC ISO 8601 with microseconds and an explicit offset (Python's datetime.isoformat()). */
export function flowerTimestamp(now: Date = new Date()): string {
  return `${now.toISOString().slice(0, 23)}000+00:00`;
}
