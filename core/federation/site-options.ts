// What the site client is given (and gives back): the hub, the site's identity, its trainer (the run
// API's Participation in deployments), its store, and the knobs tests and operators turn.
import type { SiteRole } from '../contract/hub-protocol.js';
import type { SiteEvent } from '../contract/site-events.js';
import type { SiteIdentity } from '../contract/site-identity.js';
import type { SitePolicy } from '../contract/site-policy.js';
import type { Connector } from '../contract/transport.js';
import type { CheckpointLedger } from '../run/ports.js';
import type { SiteTrainer } from './trainer.js';

/** The part of the site's store the client uses: checkpoints (updates, global models) and the audit log. */
export interface SiteLedger extends CheckpointLedger {
  appendAudit(e: { direction: 'out' | 'in'; kind: string; bytes: number; peer: string; summary: string }): unknown;
}

export interface SiteClientOptions {
  hubUrl: string;
  site: string;
  /** The enrolment token: binds this site's key at the hub once; later Hellos are proven by the key alone. */
  token?: string;
  /** The site's key pair, kept in its store (docs/security.md §2); a one-off client makes its own. */
  identity?: SiteIdentity;
  role?: SiteRole;
  /** What this site lets leave (docs/security.md §3); default DEFAULT_SITE_POLICY: no spectra without consent. */
  policy?: SitePolicy;
  trainer: SiteTrainer;
  ledger: SiteLedger;
  /** PEM CA certificate(s) to trust for wss:// (self-signed hubs). */
  ca?: string | Uint8Array;
  /** A pinned hub certificate fingerprint (trust on first use, core/federation/tls-trust.ts). */
  trustedFingerprint?: string;
  /** Largest frame accepted from the hub (bytes). */
  maxPayload?: number;
  /** Backoff between reconnects. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Give up when no connection could be made for this long (ms) after having been connected. */
  giveUpAfterMs?: number;
  /** Connection attempts before the FIRST successful connection (a wrong URL fails fast). */
  firstAttempts?: number;
  /** How long a connection may stay open without a Welcome before it is dropped and retried (ms; default 30 s). */
  welcomeTimeoutMs?: number;
  /** Heartbeat period (ms) while working; the hub's value from Welcome wins. */
  heartbeatMs?: number;
  onEvent?: (e: SiteEvent) => void;
  /** Sees every frame on the wire (tests inspect them). */
  tap?: (dir: 'in' | 'out', data: Uint8Array | string, binary: boolean) => void;
  signal?: AbortSignal;
  /** How connections are made (default: WebSocket). Tests pass the hub's in-memory transport. */
  connect?: Connector;
  /** Test hook: override the protocol version sent in Hello. */
  protocolVersion?: number;
}

export interface SiteRunSummary {
  roundsTrained: number;
  roundsEvaluated: number;
  reconnects: number;
  /** Hub requests the site's policy refused. */
  refused: number;
  lastMetrics: Record<string, number> | null;
}
