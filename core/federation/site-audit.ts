// How the site names and describes each protocol message in its audit log (the app's Outbox:
// "what leaves this hospital"), and the writer that puts the rows in the store without ever throwing
// into a socket or timer callback (docs/security.md §9): a store locked by another process keeps the
// row in a bounded queue that is written, in order, once the store is writable again. The token is
// never logged.
import type { HubMessage } from '../contract/hub-protocol.js';

export const auditKind: Record<HubMessage['kind'], string> = {
  challenge: 'challenge', hello: 'hello', welcome: 'welcome', error: 'error', bye: 'bye', heartbeat: 'heartbeat', init_ins: 'init-request', init_res: 'initial-model',
  spectrum_ins: 'spectrum-request', spectrum_res: 'amplitude-window', spectrum_bank: 'spectrum-bank', train_ins: 'global-model',
  train_res: 'weights-update', evaluate_ins: 'global-model', evaluate_res: 'evaluation-metrics', global_model: 'global-model',
};

export function describeMessage(m: HubMessage): string {
  switch (m.kind) {
    case 'hello': return `hello as ${m.site} (protocol ${m.protocol}, ${m.capabilities.role})`;
    case 'welcome': return `welcome from ${m.hub}: ${m.mode}, round ${m.round}/${m.totalRounds}, model ${m.model.kind}`;
    case 'spectrum_res': return `${m.count} amplitude windows ${m.channels}x${2 * m.halfWidth + 1}x${2 * m.halfWidth + 1}`;
    case 'spectrum_bank': return `${m.count} windows from ${m.sources} other sites`;
    // Round numbering (same as the hub's checkpoints and status): the global model "of round r" is the one
    // produced by round r; train_ins for round r carries the model of round r-1 (round 0 = initial model).
    case 'train_ins': return `global model of round ${m.round - 1} (${m.round === 1 ? 'initial model' : 'after round ' + (m.round - 1)}), to train round ${m.round} (${m.mode})`;
    case 'train_res': return `weights trained in round ${m.round}, ${m.numSamples} samples, metrics ${Object.keys(m.metrics).join(',')}`;
    case 'evaluate_ins': return `global model of round ${m.round} to evaluate`;
    case 'evaluate_res': return `evaluation of round ${m.round} on ${m.numSamples} samples`;
    case 'global_model': return `${m.final ? 'final ' : ''}global model of round ${m.round}`;
    case 'error': return `${m.code}: ${m.message}`;
    case 'bye': return `${m.reason}${m.message ? `: ${m.message}` : ''}`;
    default: return m.kind;
  }
}

/** One audit row as the site client writes it (the store adds its id and time). */
export interface AuditRow {
  direction: 'out' | 'in';
  kind: string;
  bytes: number;
  peer: string;
  summary: string;
}

/** Where rows go: the site's store (core/store/sqlite-store.ts appendAudit), which may throw. */
export interface AuditSink {
  appendAudit(e: AuditRow): unknown;
}

export interface AuditWriterOptions {
  /** Rows kept while the store is locked; past it the oldest are dropped and counted (default 1000). */
  maxQueued?: number;
  /** Backoff between attempts while the store is locked (ms): initial, doubled up to max (defaults 250, 5000). */
  retryMs?: { initial?: number; max?: number };
  /** Told once when rows start waiting or are lost, and once when they are written again. */
  onTrouble?: (message: string) => void;
  now?: () => Date;
}

export interface AuditWriterStats {
  /** Rows waiting for the store. */
  queued: number;
  /** Rows lost so far (queue bound passed, or refused by the store for another reason than a lock). */
  dropped: number;
  /** Rows written after having waited. */
  writtenLate: number;
  /** Attempts that found the store locked. */
  busy: number;
}

export { isTransientStoreError } from '../contract/store-errors.js';
import { isTransientStoreError } from '../contract/store-errors.js';

interface Waiting {
  row: AuditRow;
  at: Date;
}

/**
 * Writes audit rows and never throws. A row the store cannot take now because it is locked is kept,
 * with the time it happened, and written before any later row: at the next append once the backoff
 * has passed, or by a timer. Each attempt on a locked store costs up to the store's busy_timeout
 * (5 s in core/store/sqlite-store.ts), so attempts are spaced by the backoff rather than made on
 * every append. Past maxQueued the oldest waiting rows are dropped; once the store is writable again
 * one row (kind 'audit-gap') says how many were lost and how many bytes they accounted for.
 */
export class AuditWriter {
  private readonly queue: Waiting[] = [];
  private readonly max: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly now: () => Date;
  private delayMs: number;
  private nextTryAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lost = { rows: 0, outBytes: 0, inBytes: 0, peer: '', reason: '' };
  private troubled = false;
  private readonly counts: AuditWriterStats = { queued: 0, dropped: 0, writtenLate: 0, busy: 0 };

  constructor(private readonly sink: AuditSink, private readonly o: AuditWriterOptions = {}) {
    this.max = Math.max(1, Math.floor(o.maxQueued ?? 1000));
    this.initialMs = Math.max(1, o.retryMs?.initial ?? 250);
    this.maxMs = Math.max(this.initialMs, o.retryMs?.max ?? 5000);
    this.delayMs = this.initialMs;
    this.now = o.now ?? (() => new Date());
  }

  stats(): AuditWriterStats {
    return { ...this.counts, queued: this.queue.length };
  }

  append(row: AuditRow): void {
    const at = this.now();
    if (this.queue.length === 0 && this.lost.rows === 0) {
      const r = this.write(row);
      if (r === 'ok') return;
      if (r === 'lost') return this.schedule(); // the 'audit-gap' row follows
      this.trouble(`the audit log is locked by another process; rows are kept in memory (at most ${this.max}) and written when it is free`);
      this.queue.push({ row, at });
      this.backoff();
      return;
    }
    this.queue.push({ row, at });
    while (this.queue.length > this.max) this.drop(this.queue.shift()!.row, `more than ${this.max} rows waited while the store was locked`);
    if (Date.now() >= this.nextTryAt) this.flush();
    else this.schedule();
  }

  /** Writes what waits, oldest first; returns true when nothing waits any more. Never throws. */
  flush(): boolean {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lost.rows > 0) {
      const l = this.lost;
      const note: AuditRow = {
        direction: 'out', kind: 'audit-gap', bytes: 0, peer: l.peer,
        summary: `${l.rows} audit row(s) were lost (${l.outBytes} bytes out, ${l.inBytes} bytes in): ${l.reason}`,
      };
      if (this.write(note, false) === 'busy') return this.backoff();
      this.lost = { rows: 0, outBytes: 0, inBytes: 0, peer: '', reason: '' };
    }
    while (this.queue.length > 0) {
      const w = this.queue[0]!;
      const r = this.write({ ...w.row, summary: `${w.row.summary} (written late: happened at ${w.at.toISOString()})` });
      if (r === 'busy') return this.backoff();
      this.queue.shift();
      if (r === 'ok') this.counts.writtenLate++;
    }
    if (this.lost.rows > 0) return this.flush(); // a row refused while draining: its 'audit-gap' row
    this.delayMs = this.initialMs;
    this.nextTryAt = 0;
    if (this.troubled) {
      this.troubled = false;
      this.tell(`the audit log is writable again; every waiting row is written${this.counts.dropped ? ` (${this.counts.dropped} lost so far)` : ''}`);
    }
    return true;
  }

  /** Stops the retry timer (what still waits stays in memory; flush() writes it). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private write(row: AuditRow, countLoss = true): 'ok' | 'busy' | 'lost' {
    try {
      this.sink.appendAudit(row);
      return 'ok';
    } catch (e) {
      if (isTransientStoreError(e)) {
        this.counts.busy++;
        return 'busy';
      }
      // Anything else (the store closed, a row the store refuses) does not pass by waiting.
      const why = `the store refused it: ${(e as Error)?.message ?? String(e)}`;
      if (countLoss) this.drop(row, why);
      this.trouble(`an audit row could not be written (${why})`);
      return 'lost';
    }
  }

  private drop(row: AuditRow, reason: string): void {
    this.counts.dropped++;
    this.lost.rows++;
    this.lost.peer = row.peer;
    this.lost.reason = reason;
    if (row.direction === 'out') this.lost.outBytes += row.bytes;
    else this.lost.inBytes += row.bytes;
  }

  private backoff(): false {
    this.nextTryAt = Date.now() + this.delayMs;
    this.delayMs = Math.min(this.maxMs, this.delayMs * 2);
    this.schedule();
    return false;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.flush();
      } catch {
        /* flush never throws; a timer callback must not either */
      }
    }, Math.max(0, this.nextTryAt - Date.now()));
    this.timer.unref?.();
  }

  private trouble(message: string): void {
    if (this.troubled) return;
    this.troubled = true;
    this.tell(message);
  }

  private tell(message: string): void {
    try {
      this.o.onTrouble?.(message);
    } catch {
      /* a listener's failure is not the audit log's */
    }
  }
}

const writers = new WeakMap<object, AuditWriter>();

/** The writer of one site client (created on its first row), so its rows keep their order. */
export function auditWriterFor(owner: object, sink: AuditSink, opts: AuditWriterOptions = {}): AuditWriter {
  let w = writers.get(owner);
  if (!w) {
    w = new AuditWriter(sink, opts);
    writers.set(owner, w);
  }
  return w;
}
