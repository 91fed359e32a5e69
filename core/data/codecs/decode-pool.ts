// Parallel image decoding for imports (throughput): PNG/JPEG decoding dominates the cost
// of an import, so it runs in worker threads while the main thread validates, encodes and writes
// SQLite. The pool is a hybrid: until its workers are up (or when they are all busy, or if they
// cannot start at all) the calling thread decodes the file itself, so a pool is never slower than
// decoding inline by more than the workers' start-up CPU. Results and errors are exactly those of
// readRegularFile + decodeImageFile, with the same per-file limits (docs/security.md §4 Import budgets):
// a FIFO is refused without being opened and an oversized header before any pixel is decoded.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FedSegError, type ErrorValue } from '../../contract/errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { readRegularFile } from './file-read.js';
import { decodeImageFile, decodeImageFileAsync, type Raster } from './image-file.js';

export interface RasterReader {
  read(file: string, limits?: DecodeLimits): Promise<Raster>;
  /** Decodes bytes already read (the importers read each file once, to check its header first). */
  decode(buf: Uint8Array, file: string, limits?: DecodeLimits): Promise<Raster>;
  close(): Promise<void>;
  /** Files decoded by workers so far (the rest were decoded inline). */
  readonly offloaded: number;
  /** Resolves when every worker is up or has failed: the number of usable workers. */
  ready(): Promise<number>;
}

export async function readRasterInline(file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<Raster> {
  return decodeImageFile(await readRegularFile(file, limits), file, limits);
}

async function decodeInline(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<Raster> {
  return decodeImageFileAsync(buf, file, limits);
}

export const inlineReader: RasterReader = { read: readRasterInline, decode: decodeInline, close: async () => undefined, offloaded: 0, ready: async () => 0 };

/** Workers to use by default: one per spare core, at most 4. */
export function defaultDecodeWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 1));
}

interface Slot {
  worker: Worker;
  ready: boolean;
  dead: boolean;
  settled: Promise<void>;
  settle: () => void;
  inflight: Map<number, { resolve: (r: Raster) => void; reject: (e: unknown) => void }>;
}

export function createDecodePool(workers = defaultDecodeWorkers(), maxInflight = 2): RasterReader {
  if (workers <= 0) return inlineReader;
  let nextId = 0;
  let offloaded = 0;
  const slots: Slot[] = [];
  for (let i = 0; i < workers; i++) {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./decode-worker.mjs', import.meta.url));
    } catch {
      continue;
    }
    worker.unref();
    let settle = (): void => undefined;
    const settled = new Promise<void>((r) => {
      settle = r;
    });
    const slot: Slot = { worker, ready: false, dead: false, settled, settle, inflight: new Map() };
    const fail = (why: string): void => {
      slot.settle();
      if (slot.dead) return;
      slot.dead = true;
      for (const p of slot.inflight.values()) p.reject(new FedSegError('IO_ERROR', `image decode worker stopped (${why})`));
      slot.inflight.clear();
    };
    worker.on('message', (m: { ready?: boolean; id?: number; raster?: Raster; error?: ErrorValue }) => {
      if (m.ready) {
        slot.ready = true;
        slot.settle();
        return;
      }
      const p = slot.inflight.get(m.id!);
      if (!p) return;
      slot.inflight.delete(m.id!);
      if (m.error) p.reject(new FedSegError(m.error.code, m.error.message));
      else p.resolve(m.raster!);
    });
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    slots.push(slot);
  }
  const dispatch = (job: { file: string; buf?: Uint8Array; limits: DecodeLimits }, inline: () => Promise<Raster>): Promise<Raster> => {
    let best: Slot | null = null;
    for (const s of slots) {
      if (s.ready && !s.dead && s.inflight.size < maxInflight && (!best || s.inflight.size < best.inflight.size)) best = s;
    }
    if (!best) return inline();
    const slot = best;
    const id = nextId++;
    offloaded++;
    return new Promise<Raster>((resolve, reject) => {
      slot.inflight.set(id, { resolve, reject });
      slot.worker.postMessage({ id, ...job });
    });
  };
  return {
    get offloaded() {
      return offloaded;
    },
    read(file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<Raster> {
      return dispatch({ file, limits }, () => readRasterInline(file, limits));
    },
    decode(buf: Uint8Array, file: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<Raster> {
      // The bytes are copied to the worker (they may sit in Node's shared Buffer pool).
      return dispatch({ file, buf, limits }, () => decodeInline(buf, file, limits));
    },
    async ready(): Promise<number> {
      await Promise.all(slots.map((s) => s.settled));
      return slots.filter((s) => s.ready && !s.dead).length;
    },
    async close(): Promise<void> {
      await Promise.all(slots.map((s) => {
        s.dead = true;
        return s.worker.terminate();
      }));
    },
  };
}
