// The hub's own durable state, one SQLite file (better-sqlite3, WAL): enrolled sites (hashed tokens),
// rounds, one global checkpoint per completed round, the spectrum bank, evaluations and an append-only
// audit log. A round is completed in ONE transaction (checkpoint + round row), so a hub killed at any
// moment restarts at the last completed round; a round left 'open' is marked 'aborted' and re-run.
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { FedSegError } from '../core/contract/errors.js';
import type { SiteRole } from '../core/contract/hub-protocol.js';
import { hashToken, newSalt, newToken, verifyToken } from './tokens.js';

export interface SiteRecord {
  name: string;
  role: SiteRole;
  createdAt: number;
  lastSeen: number | null;
  numSamples: number | null;
  /** The site's Ed25519 public key (base64), bound at its first signed Hello; null until then. */
  publicKey: string | null;
  /** When the enrolment token stops enrolling a key (ms since the epoch). */
  tokenExpires: number | null;
  /** The most samples one update of this site counts for (add-site --samples; docs/security.md §7); null = the hub's maxSamplesPerSite. */
  maxSamples: number | null;
}

/** How long an enrolment token can bind a key, unless add-site says otherwise. */
export const DEFAULT_TOKEN_LIFETIME_MS = 30 * 24 * 3600_000;

export type HelloVerdict = { role: SiteRole; bound: boolean } | { fail: string };

export interface RoundRecord {
  round: number;
  status: 'open' | 'done' | 'aborted';
  mode: string;
  startedAt: number;
  finishedAt: number | null;
  participants: string[];
  accepted: string[];
  rejected: { site: string; reason: string }[];
  numSamples: number;
  /** Per-site training metrics reported with the updates. */
  metrics: Record<string, Record<string, number>>;
}

export interface EvaluationRecord {
  round: number;
  site: string;
  numSamples: number;
  metrics: Record<string, number>;
}

export interface AuditRecord {
  id: number;
  ts: number;
  event: string;
  site: string | null;
  direction: 'in' | 'out' | null;
  bytes: number | null;
  detail: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sites(name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK(role IN ('train','eval')), salt BLOB NOT NULL,
  token_hash BLOB NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER, num_samples INTEGER);
CREATE TABLE IF NOT EXISTS rounds(round INTEGER PRIMARY KEY, status TEXT NOT NULL CHECK(status IN ('open','done','aborted')), mode TEXT NOT NULL,
  started_at INTEGER NOT NULL, finished_at INTEGER, participants TEXT NOT NULL, accepted TEXT NOT NULL DEFAULT '[]',
  rejected TEXT NOT NULL DEFAULT '[]', num_samples INTEGER NOT NULL DEFAULT 0, metrics TEXT NOT NULL DEFAULT '{}', attempts INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS checkpoints(round INTEGER PRIMARY KEY, hash TEXT NOT NULL, weights BLOB NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spectra(site TEXT PRIMARY KEY, count INTEGER NOT NULL, channels INTEGER NOT NULL, half_width INTEGER NOT NULL,
  windows BLOB NOT NULL, received_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations(round INTEGER NOT NULL, site TEXT NOT NULL, num_samples INTEGER NOT NULL, metrics TEXT NOT NULL,
  received_at INTEGER NOT NULL, PRIMARY KEY(round, site));
CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, event TEXT NOT NULL, site TEXT,
  direction TEXT, bytes INTEGER, detail TEXT NOT NULL DEFAULT '');
`;

export class HubState {
  readonly db: Database.Database;

  /** `mustExist`: for commands that only read (status, sites, audit, export-model): a missing file is NOT_FOUND, never created. */
  constructor(readonly path: string, opts: { mustExist?: boolean } = {}) {
    if (opts.mustExist && !existsSync(path))
      throw new FedSegError('NOT_FOUND', `hub state ${path} does not exist (check --db or --config; \`fedseg-hub start\` creates it)`);
    // Enrolment hashes, global models and the audit are the coordinator's alone (docs/security.md §5): a new
    // file is created 0600 before SQLite opens it (its -wal/-shm then get the same mode); a file of this
    // user's that others can read is tightened, with a warning; another user's file is left as it is.
    if (process.platform !== 'win32' && path !== ':memory:' && path !== '') {
      try {
        if (!opts.mustExist) closeSync(openSync(path, 'wx', 0o600));
      } catch {
        /* it exists (checked below), or its folder is missing (SQLite says so) */
      }
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        try {
          const st = statSync(f);
          if (st.uid !== process.getuid?.() || !(st.mode & 0o077)) continue;
          chmodSync(f, st.mode & 0o700);
          console.warn(`warning: ${f} could be read by other users (mode 0${(st.mode & 0o777).toString(8)}); it is now 0${(st.mode & 0o700).toString(8)}`);
        } catch {
          /* not there */
        }
      }
    }
    try {
      this.db = new Database(path, opts.mustExist ? { fileMustExist: true } : {});
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (e) {
      throw new FedSegError('DB_ERROR', `cannot open hub state ${path}: ${(e as Error).message}`);
    }
    const v = this.getMeta('schema_version');
    if (v !== null && v !== '1' && v !== '2') throw new FedSegError('DB_ERROR', `hub state ${path} has schema version ${v}; this hub understands 1-2`);
    if (v !== '2' && !opts.mustExist) this.migrateToKeys();
    if (!opts.mustExist) this.addSampleBounds();
  }

  /** The enrolled sample bound (docs/security.md §7): an optional column, added when missing; older hubs ignore it. */
  private addSampleBounds(): void {
    const cols = new Set((this.db.prepare('PRAGMA table_info(sites)').all() as { name: string }[]).map((c) => c.name));
    if (!cols.has('max_samples')) this.db.exec('ALTER TABLE sites ADD COLUMN max_samples INTEGER');
  }

  /** Version 2: sites are identified by a key bound at enrolment; tokens expire (docs/security.md §2). */
  private migrateToKeys(): void {
    this.db.transaction(() => {
      const cols = new Set((this.db.prepare('PRAGMA table_info(sites)').all() as { name: string }[]).map((c) => c.name));
      if (!cols.has('public_key')) this.db.exec('ALTER TABLE sites ADD COLUMN public_key TEXT');
      if (!cols.has('token_expires')) this.db.exec('ALTER TABLE sites ADD COLUMN token_expires INTEGER');
      if (!cols.has('key_bound_at')) this.db.exec('ALTER TABLE sites ADD COLUMN key_bound_at INTEGER');
      this.setMeta('schema_version', '2');
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  getMeta(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- sites ----
  /**
   * Enrols a site and returns its token (shown once; only a salted hash is stored); the token binds the
   * site's key once, until it expires. `maxSamples`: the most samples one of its updates counts for.
   */
  addSite(name: string, role: SiteRole = 'train', lifetimeMs = DEFAULT_TOKEN_LIFETIME_MS, maxSamples?: number): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name))
      throw new FedSegError('INVALID_ARGUMENT', `site name '${name}' is invalid (1-64 chars of A-Z a-z 0-9 _ . -)`);
    if (maxSamples !== undefined && !(Number.isSafeInteger(maxSamples) && maxSamples >= 1))
      throw new FedSegError('INVALID_ARGUMENT', `the sample bound of site '${name}' must be a positive integer, got ${maxSamples}`);
    if (this.db.prepare('SELECT 1 FROM sites WHERE name = ?').get(name))
      throw new FedSegError('ALREADY_EXISTS', `site '${name}' is already enrolled (remove-site it first to issue a new token)`);
    const token = newToken();
    const salt = newSalt();
    this.db.prepare('INSERT INTO sites(name, role, salt, token_hash, created_at, token_expires, max_samples) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(name, role, salt, hashToken(token, salt), Date.now(), Date.now() + lifetimeMs, maxSamples ?? null);
    this.audit('enrol', name, null, null, `role=${role}; token valid until ${new Date(Date.now() + lifetimeMs).toISOString()}${maxSamples !== undefined ? `; at most ${maxSamples} samples per update` : ''}`);
    return token;
  }

  removeSite(name: string): void {
    const r = this.db.prepare('DELETE FROM sites WHERE name = ?').run(name);
    if (r.changes === 0) throw new FedSegError('NOT_FOUND', `site '${name}' is not enrolled`);
    this.db.prepare('DELETE FROM spectra WHERE site = ?').run(name);
    this.audit('unenrol', name, null, null, '');
  }

  /**
   * Who a signed Hello is (its signature was checked against the nonce already). A site whose key is
   * bound must present that key; a token it also sends must still be its token (a typo is refused
   * rather than ignored). A site without a bound key needs its unexpired token, and its key is bound
   * now. Unknown names and wrong tokens read the same.
   */
  authenticateHello(name: string, token: string | undefined, publicKey: string): HelloVerdict {
    const r = this.db.prepare('SELECT role, salt, token_hash, public_key, token_expires FROM sites WHERE name = ?').get(name) as
      | { role: SiteRole; salt: Buffer; token_hash: Buffer; public_key: string | null; token_expires: number | null }
      | undefined;
    const unknown = { fail: `authentication failed for site '${name}': unknown site or wrong token` };
    if (!r) {
      if (token) verifyToken(token, Buffer.alloc(16), Buffer.alloc(32));
      return unknown;
    }
    if (token !== undefined && !verifyToken(token, r.salt, r.token_hash)) return unknown;
    if (r.public_key) {
      if (r.public_key !== publicKey) return { fail: `authentication failed for site '${name}': it signed with another key than the one it enrolled (a copy of the token is not enough; the coordinator re-enrols a site that lost its key)` };
      return { role: r.role, bound: false };
    }
    if (token === undefined) return { fail: `authentication failed for site '${name}': it has not enrolled a key yet and sent no enrolment token` };
    if (r.token_expires !== null && Date.now() > r.token_expires) return { fail: `authentication failed for site '${name}': its enrolment token expired on ${new Date(r.token_expires).toISOString()}; ask the coordinator for a new one` };
    this.db.prepare('UPDATE sites SET public_key = ?, key_bound_at = ? WHERE name = ? AND public_key IS NULL').run(publicKey, Date.now(), name);
    this.audit('key_bound', name, null, null, `enrolment token used; key ${publicKey.slice(0, 12)}… bound`);
    return { role: r.role, bound: true };
  }

  touchSite(name: string, numSamples?: number): void {
    if (numSamples !== undefined) this.db.prepare('UPDATE sites SET last_seen = ?, num_samples = ? WHERE name = ?').run(Date.now(), numSamples, name);
    else this.db.prepare('UPDATE sites SET last_seen = ? WHERE name = ?').run(Date.now(), name);
  }

  listSites(): SiteRecord[] {
    return (this.db.prepare('SELECT * FROM sites ORDER BY name').all() as {
      name: string; role: SiteRole; created_at: number; last_seen: number | null; num_samples: number | null; public_key?: string | null; token_expires?: number | null;
      max_samples?: number | null;
    }[]).map((r) => ({
      name: r.name, role: r.role, createdAt: r.created_at, lastSeen: r.last_seen, numSamples: r.num_samples,
      publicKey: r.public_key ?? null, tokenExpires: r.token_expires ?? null, maxSamples: r.max_samples ?? null,
    }));
  }

  // ---- rounds + checkpoints ----
  lastCompletedRound(): number {
    const r = this.db.prepare("SELECT MAX(round) AS r FROM rounds WHERE status = 'done'").get() as { r: number | null };
    return r.r ?? 0;
  }

  /** Marks rounds left open by a killed hub as aborted; returns their numbers. */
  abortOpenRounds(reason: string): number[] {
    const open = (this.db.prepare("SELECT round FROM rounds WHERE status = 'open'").all() as { round: number }[]).map((r) => r.round);
    for (const r of open) {
      this.db.prepare("UPDATE rounds SET status = 'aborted', finished_at = ? WHERE round = ?").run(Date.now(), r);
      this.audit('round_aborted', null, null, null, `round ${r}: ${reason}`);
    }
    return open;
  }

  openRound(round: number, mode: string, participants: string[]): void {
    this.db.prepare(`INSERT INTO rounds(round, status, mode, started_at, participants) VALUES (?, 'open', ?, ?, ?)
      ON CONFLICT(round) DO UPDATE SET status = 'open', mode = excluded.mode, started_at = excluded.started_at, finished_at = NULL,
      participants = excluded.participants, accepted = '[]', rejected = '[]', num_samples = 0, metrics = '{}', attempts = attempts + 1`)
      .run(round, mode, Date.now(), JSON.stringify(participants));
    this.audit('round_open', null, null, null, `round ${round} (${mode}): ${participants.join(', ')}`);
  }

  abortRound(round: number, reason: string, rejected: { site: string; reason: string }[]): void {
    this.db.prepare("UPDATE rounds SET status = 'aborted', finished_at = ?, rejected = ? WHERE round = ?").run(Date.now(), JSON.stringify(rejected), round);
    this.audit('round_aborted', null, null, null, `round ${round}: ${reason}`);
  }

  /** Atomically stores the new global checkpoint and marks the round done. */
  completeRound(r: Omit<RoundRecord, 'status' | 'startedAt' | 'finishedAt' | 'mode' | 'participants'>, weights: Uint8Array, hash: string, keep: number): void {
    const tx = this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO checkpoints(round, hash, weights, created_at) VALUES (?, ?, ?, ?)').run(r.round, hash, weights, Date.now());
      this.db.prepare("UPDATE rounds SET status = 'done', finished_at = ?, accepted = ?, rejected = ?, num_samples = ?, metrics = ? WHERE round = ?")
        .run(Date.now(), JSON.stringify(r.accepted), JSON.stringify(r.rejected), r.numSamples, JSON.stringify(r.metrics), r.round);
      if (keep > 0) this.db.prepare('DELETE FROM checkpoints WHERE round > 0 AND round <= ?').run(r.round - keep);
      this.audit('round_done', null, null, weights.byteLength, `round ${r.round}: accepted ${r.accepted.join(', ') || '-'}; ${r.numSamples} samples; hash ${hash.slice(0, 12)}`);
    });
    tx();
  }

  saveInitialCheckpoint(weights: Uint8Array, hash: string, source: string): void {
    this.db.prepare('INSERT OR REPLACE INTO checkpoints(round, hash, weights, created_at) VALUES (0, ?, ?, ?)').run(hash, weights, Date.now());
    this.audit('init_model', null, null, weights.byteLength, `initial global model from ${source}; hash ${hash.slice(0, 12)}`);
  }

  /** The newest checkpoint (round 0 = the initial model), or null. */
  latestCheckpoint(): { round: number; hash: string; weights: Uint8Array } | null {
    const r = this.db.prepare('SELECT round, hash, weights FROM checkpoints ORDER BY round DESC LIMIT 1').get() as
      | { round: number; hash: string; weights: Buffer }
      | undefined;
    return r ? { round: r.round, hash: r.hash, weights: new Uint8Array(r.weights.buffer, r.weights.byteOffset, r.weights.byteLength) } : null;
  }

  checkpoint(round: number): { hash: string; weights: Uint8Array } | null {
    const r = this.db.prepare('SELECT hash, weights FROM checkpoints WHERE round = ?').get(round) as { hash: string; weights: Buffer } | undefined;
    return r ? { hash: r.hash, weights: new Uint8Array(r.weights.buffer, r.weights.byteOffset, r.weights.byteLength) } : null;
  }

  listRounds(limit = 1000): RoundRecord[] {
    const rows = this.db.prepare('SELECT * FROM rounds ORDER BY round DESC LIMIT ?').all(limit) as {
      round: number; status: RoundRecord['status']; mode: string; started_at: number; finished_at: number | null; participants: string;
      accepted: string; rejected: string; num_samples: number; metrics: string;
    }[];
    return rows.reverse().map((r) => ({
      round: r.round, status: r.status, mode: r.mode, startedAt: r.started_at, finishedAt: r.finished_at,
      participants: JSON.parse(r.participants) as string[], accepted: JSON.parse(r.accepted) as string[],
      rejected: JSON.parse(r.rejected) as RoundRecord['rejected'], numSamples: r.num_samples,
      metrics: JSON.parse(r.metrics) as RoundRecord['metrics'],
    }));
  }

  // ---- spectra ----
  saveSpectra(site: string, count: number, channels: number, halfWidth: number, windows: Uint8Array): void {
    this.db.prepare('INSERT OR REPLACE INTO spectra(site, count, channels, half_width, windows, received_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(site, count, channels, halfWidth, windows, Date.now());
  }

  hasSpectra(site: string): boolean {
    return this.db.prepare('SELECT 1 FROM spectra WHERE site = ?').get(site) !== undefined;
  }

  /** Spectra of enrolled TRAIN sites only (an eval site's windows are never stored nor shared). */
  listSpectra(): { site: string; count: number; windows: Uint8Array }[] {
    return (this.db.prepare("SELECT s.site, s.count, s.windows FROM spectra s JOIN sites t ON t.name = s.site WHERE t.role = 'train' ORDER BY s.site").all() as {
      site: string; count: number; windows: Buffer;
    }[]).map((r) => ({ site: r.site, count: r.count, windows: new Uint8Array(r.windows.buffer, r.windows.byteOffset, r.windows.byteLength) }));
  }

  // ---- evaluations ----
  saveEvaluation(e: EvaluationRecord): void {
    this.db.prepare('INSERT OR REPLACE INTO evaluations(round, site, num_samples, metrics, received_at) VALUES (?, ?, ?, ?, ?)')
      .run(e.round, e.site, e.numSamples, JSON.stringify(e.metrics), Date.now());
  }

  listEvaluations(): EvaluationRecord[] {
    return (this.db.prepare('SELECT round, site, num_samples, metrics FROM evaluations ORDER BY round, site').all() as {
      round: number; site: string; num_samples: number; metrics: string;
    }[]).map((r) => ({ round: r.round, site: r.site, numSamples: r.num_samples, metrics: JSON.parse(r.metrics) as Record<string, number> }));
  }

  hasEvaluation(round: number, site: string): boolean {
    return this.db.prepare('SELECT 1 FROM evaluations WHERE round = ? AND site = ?').get(round, site) !== undefined;
  }

  // ---- audit ----
  audit(event: string, site: string | null, direction: 'in' | 'out' | null, bytes: number | null, detail: string): void {
    this.db.prepare('INSERT INTO audit(ts, event, site, direction, bytes, detail) VALUES (?, ?, ?, ?, ?, ?)').run(Date.now(), event, site, direction, bytes, detail.slice(0, 2000));
  }

  listAudit(opts: { event?: string; site?: string; limit?: number } = {}): AuditRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.event) { where.push('event = ?'); args.push(opts.event); }
    if (opts.site) { where.push('site = ?'); args.push(opts.site); }
    args.push(opts.limit ?? 100000);
    return this.db.prepare(`SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`).all(...args) as AuditRecord[];
  }
}
