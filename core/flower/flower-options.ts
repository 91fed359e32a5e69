// What the Flower SuperNode of a site is given (core/flower/supernode.ts): the SuperLink's Fleet API
// address, the site's P-384 identity, its trainer (the run API's Participation), its store and policy,
// the same knobs as the ws site client (core/federation/site-options.ts). docs/flower.md.
import type { SiteRole } from '../contract/hub-protocol.js';
import type { SiteEvent } from '../contract/site-events.js';
import type { SitePolicy } from '../contract/site-policy.js';
import type { SiteLedger, SiteRunSummary } from '../federation/site-options.js';
import type { SiteTrainer } from '../federation/trainer.js';
import type { FlowerIdentity } from './flower-identity.js';

export interface FlowerSiteOptions {
  /** The SuperLink's Fleet API, host:port (e.g. 127.0.0.1:9092). */
  address: string;
  site: string;
  identity: FlowerIdentity;
  role?: SiteRole;
  /** What this site lets leave (docs/security.md §3); default DEFAULT_SITE_POLICY: no spectra without consent. */
  policy?: SitePolicy;
  trainer: SiteTrainer;
  ledger: SiteLedger;
  /** PEM root certificate(s) for a TLS SuperLink; without it the connection is plaintext, allowed only on loopback unless `insecure`. */
  rootCertificates?: string;
  /** Plaintext gRPC to a SuperLink that is not on this computer (a warning is printed). */
  insecure?: boolean;
  /** Largest message content (all objects of one message) accepted, bytes (default 256 MiB). */
  maxPayload?: number;
  /** Backoff between reconnects. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Give up when the SuperLink could not be reached for this long (ms) after having been reached. */
  giveUpAfterMs?: number;
  /** Attempts before the FIRST successful contact (a wrong address fails fast). */
  firstAttempts?: number;
  /** How often PullMessages asks for work (ms; default 1000). */
  pollMs?: number;
  /** Runs to take part in before stopping (default 1: the site stops when the run it worked for finishes; 0 = serve until stopped). */
  runs?: number;
  onEvent?: (e: SiteEvent) => void;
  signal?: AbortSignal;
}

export type { SiteRunSummary };
