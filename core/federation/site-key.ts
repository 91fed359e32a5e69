// The site's key pair kept in its store (docs/security.md §2, §5): made once, sealed like the join
// token, and the same for every connection of this site — the app's Test connection, its federation
// worker and `fedseg site` — so the key the hub bound at enrolment keeps proving who the site is.
import { FedSegError } from '../contract/errors.js';
import { newSiteIdentity, siteIdentityFromPrivate, type SiteIdentity } from '../contract/site-identity.js';

/** Where the store keeps the sealed private key. */
export const SITE_KEY_SETTING = 'site.identityKey';

/** The part of a sealed setting (core/secrets/sealed-setting.ts) this needs. */
export interface SecretSlot {
  get(): string | undefined;
  set(plain: string): void;
  has(): boolean;
}

/** The stored identity, or a new one stored now. A key that cannot be opened is an error, never silently replaced (the hub would refuse a new key). */
export function siteIdentity(slot: SecretSlot): SiteIdentity {
  let kept: string | undefined;
  try {
    kept = slot.get();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new FedSegError('AUTH_FAILED', `this site's key cannot be opened (${why}); ask the coordinator to re-enrol the site (fedseg-hub remove-site, add-site) and join with the new token`);
  }
  if (kept) return siteIdentityFromPrivate(kept);
  const id = newSiteIdentity();
  slot.set(id.exportPrivate());
  return id;
}
