// The import's own budget (docs/security.md §4 Import budgets), on top of the per-file limits of
// core/data/codecs/decode-limits.ts: every item reserves the bytes its files decode to, as their
// headers declare, BEFORE it decodes them.
//  - Total: an import decodes at most maxDecodedBytes (2 GiB) freely; beyond that, only as long as it
//    has read at least 1 byte of file per maxDecodedRatio (100) bytes decoded. A folder of small bombs
//    (48 all-zero 8000x8000 PNG pairs are 7 MB on disk and 6 GB decoded) is refused once it passes the
//    allowance, while a real hospital folder (photos and scans compress 2:1 to 20:1) of any size is not.
//  - Read-ahead: items loaded ahead of the one being staged hold at most maxInflightBytes of decoded
//    data (256 MiB); the item the runner waits for always proceeds, so memory stays near one item plus
//    that. Decoding costs a few times the raster it yields (pngjs goes through RGBA, the importer
//    through float32), so a few 64-megapixel pairs in flight would already take gigabytes.
// Reservations are granted in plan order (item j charges only after items before it charged or
// finished), so which item crosses the budget does not depend on timing: a dry run refuses exactly
// the items the import refuses.
import { FedSegError } from '../../contract/errors.js';
import { decodeLimits, DEFAULT_DECODE_LIMITS, formatBytes, type DecodeLimits } from '../codecs/decode-limits.js';

export interface ImportLimits extends DecodeLimits {
  /** Decoded bytes an import may reach regardless of its files' size. */
  maxDecodedBytes: number;
  /** Beyond maxDecodedBytes: decoded bytes allowed per byte of file read. */
  maxDecodedRatio: number;
  /** Decoded bytes that items loaded ahead of the current one may hold together. */
  maxInflightBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: Readonly<ImportLimits> = Object.freeze({
  ...DEFAULT_DECODE_LIMITS,
  maxDecodedBytes: 2 * 1024 ** 3,
  maxDecodedRatio: 100,
  maxInflightBytes: 256 * 1024 ** 2,
});

/** Defaults overridden by `partial`; a non-positive or non-numeric limit is an INVALID_ARGUMENT naming it. */
export function importLimits(partial: Partial<ImportLimits> = {}): ImportLimits {
  const out: ImportLimits = { ...DEFAULT_IMPORT_LIMITS, ...decodeLimits(partial) };
  for (const k of ['maxDecodedBytes', 'maxDecodedRatio', 'maxInflightBytes'] as const) {
    const v = partial[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new FedSegError('INVALID_ARGUMENT', `import limit ${k} must be a positive number, got ${String(v)}`);
    out[k] = v;
  }
  return out;
}

/** What an item's load() gets from the runner. */
export interface LoadContext {
  limits: ImportLimits;
  /**
   * Charges the item's decoded bytes (and the bytes of its files on disk) to the import, throwing a
   * message naming `file` and the budget when it does not fit, then waits until the read-ahead holds
   * little enough. Call it once per item, after reading headers and before decoding.
   */
  reserve(file: string, decodedBytes: number, fileBytes: number): Promise<void>;
}

export class ImportBudget {
  /** Decoded bytes charged so far, and bytes of file read for them. */
  decoded = 0;
  read = 0;
  private turn = 0;
  private readonly passed = new Set<number>();
  private head = 0;
  private heldTotal = 0;
  private readonly held = new Map<number, number>();
  private waiters: { index: number; ready: () => boolean; take: () => void; go: () => void; fail: (e: unknown) => void }[] = [];
  private closed: FedSegError | null = null;

  constructor(readonly limits: ImportLimits = importLimits()) {}

  /** The context for item `index` of the plan. */
  context(index: number): LoadContext {
    let reserved = false;
    return {
      limits: this.limits,
      reserve: async (file, decodedBytes, fileBytes) => {
        if (reserved) throw new FedSegError('INTERNAL', `${file}: reserved twice`);
        reserved = true;
        await this.wait(index, () => this.turn >= index);
        try {
          this.charge(file, decodedBytes, fileBytes);
        } finally {
          this.pass(index);
        }
        await this.wait(index, () => index <= this.head || this.heldTotal + decodedBytes <= this.limits.maxInflightBytes, () => {
          this.held.set(index, decodedBytes);
          this.heldTotal += decodedBytes;
        });
      },
    };
  }

  /** Item `index` finished loading (either way): later items no longer wait for its reservation. */
  pass(index: number): void {
    if (index < this.turn) return;
    this.passed.add(index);
    while (this.passed.has(this.turn)) this.passed.delete(this.turn++);
    this.pump();
  }

  /** The runner is done with item `index` (staged or rejected): its read-ahead bytes are freed. */
  consumed(index: number): void {
    this.heldTotal -= this.held.get(index) ?? 0;
    this.held.delete(index);
    this.head = Math.max(this.head, index + 1);
    this.pump();
  }

  /** The import stopped: items still waiting give up with `reason`. */
  close(reason = new FedSegError('CANCELLED', 'import stopped')): void {
    this.closed = reason;
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.fail(reason);
  }

  private charge(file: string, decodedBytes: number, fileBytes: number): void {
    const decoded = this.decoded + decodedBytes;
    const read = this.read + fileBytes;
    const { maxDecodedBytes: max, maxDecodedRatio: ratio } = this.limits;
    if (decoded > max && decoded > ratio * read) {
      throw new FedSegError('INVALID_INPUT', `${file}: decoding it would bring this import to ${formatBytes(decoded)} of decoded data from ${formatBytes(read)} of files, over the ${formatBytes(max)} budget per import (beyond it, at most ${ratio} bytes decoded per byte of file)`);
    }
    this.decoded = decoded;
    this.read = read;
  }

  /** Resolves once ready() holds; take() runs at the moment of the grant, before any later check. */
  private wait(index: number, ready: () => boolean, take: () => void = () => undefined): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    if (ready()) {
      take();
      return Promise.resolve();
    }
    return new Promise((go, fail) => {
      this.waiters.push({ index, ready, take, go, fail });
      this.waiters.sort((a, b) => a.index - b.index);
    });
  }

  /** Grants, in plan order, every waiter whose condition now holds. */
  private pump(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]!;
      if (w.ready()) {
        this.waiters.splice(i, 1);
        w.take();
        w.go();
        i = 0; // a grant can change the turn seen by earlier-sorted waiters only forwards; rescan
        continue;
      }
      i++;
    }
  }
}
