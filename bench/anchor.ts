// Anchors measured in the same run (docs/measured.md §10 CPU against PyTorch): starts a Python worker
// (bench/anchors/torch_unet.py or bench/anchors/numpy_fedavg.py) as a child process and talks to it one
// JSON line per command, so a bench can alternate FedSeg and anchor samples and the ratio column is
// FedSeg / anchor from this run. Which Python: env FEDSEG_ANCHOR_PYTHON, else Debian's /usr/bin/python3
// (a pyenv python3 comes first on PATH and has neither torch nor numpy). When the interpreter or the module
// is missing, `startAnchor` returns the reason instead of a worker, and the bench prints its fixed numbers
// labelled as not measured here (FIXED_ANCHOR_LABEL) — never a made-up measurement.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const FIXED_ANCHOR_LABEL = 'anchor: fixed, not measured here';
const here = dirname(fileURLToPath(import.meta.url));

/**
 * Thread-pool sizes for the worker's libraries. torch.set_num_threads(N) sizes only ATen's pool: without
 * these, OpenBLAS starts its own threads, which on a 2-core machine spin against the main thread (measured:
 * "1 thread" used 1.9x its wall time in CPU and ran slower). PASSIVE: idle OpenMP threads sleep instead of
 * spinning while the FedSeg sample between two anchor samples runs.
 */
export function threadEnv(n: number): Record<string, string> {
  const v = String(n);
  return { OMP_NUM_THREADS: v, OPENBLAS_NUM_THREADS: v, MKL_NUM_THREADS: v, OMP_WAIT_POLICY: 'PASSIVE' };
}

export function anchorPython(): string {
  return process.env.FEDSEG_ANCHOR_PYTHON || '/usr/bin/python3';
}

export interface AnchorReply {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export interface Samples {
  wall: number[];
  cpu: number[];
  threads?: number;
}

export class AnchorWorker {
  private pending: ((r: AnchorReply) => void)[] = [];
  private closed = false;
  private stderr = '';

  constructor(private readonly child: ChildProcessWithoutNullStreams, readonly hello: AnchorReply) {
    child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    child.on('exit', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p({ ok: false, error: `anchor worker exited${this.stderr ? ': ' + this.stderr.trim().split('\n').pop() : ''}` });
    });
  }

  static attach(child: ChildProcessWithoutNullStreams, onLine: (l: string) => void): void {
    createInterface({ input: child.stdout }).on('line', onLine);
  }

  deliver(line: string): void {
    let r: AnchorReply;
    try {
      r = JSON.parse(line) as AnchorReply;
    } catch {
      r = { ok: false, error: `anchor worker wrote a non-JSON line: ${line.slice(0, 200)}` };
    }
    this.pending.shift()?.(r);
  }

  /** Sends one command; throws Error(reply.error) when the worker reports a failure. */
  async call(msg: Record<string, unknown>): Promise<AnchorReply> {
    if (this.closed) throw new Error('anchor worker is not running');
    const r = await new Promise<AnchorReply>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(JSON.stringify(msg) + '\n');
    });
    if (!r.ok) throw new Error(r.error ?? 'anchor worker failed');
    return r;
  }

  async time(msg: Record<string, unknown>): Promise<Samples> {
    const r = await this.call({ op: 'time', ...msg });
    return { wall: r.wall as number[], cpu: r.cpu as number[], threads: r.threads as number | undefined };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.end(JSON.stringify({ op: 'quit' }) + '\n');
    await done;
  }
}

/**
 * Starts bench/anchors/<script> with the anchor Python; resolves to the worker once it says it is ready,
 * or to `{ unavailable: reason }` when the interpreter cannot start or its imports fail.
 */
export async function startAnchor(script: string, env: Record<string, string> = {}): Promise<AnchorWorker | { unavailable: string }> {
  const py = anchorPython();
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(py, [join(here, 'anchors', script)], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    return { unavailable: `${py}: ${(e as Error).message}` };
  }
  return new Promise((resolve) => {
    let worker: AnchorWorker | null = null;
    let err = '';
    child.stderr.on('data', (d: Buffer) => { if (!worker) err = (err + d.toString()).slice(-1000); });
    child.once('error', (e) => resolve({ unavailable: `${py}: ${e.message}` }));
    child.once('exit', (code) => { if (!worker) resolve({ unavailable: `${py} ${script} exited ${code}${err ? ': ' + err.trim().split('\n').pop() : ''}` }); });
    AnchorWorker.attach(child, (line) => {
      if (worker) return worker.deliver(line);
      let hello: AnchorReply;
      try {
        hello = JSON.parse(line) as AnchorReply;
      } catch {
        hello = { ok: false, error: `unexpected output: ${line.slice(0, 200)}` };
      }
      if (!hello.ok) {
        resolve({ unavailable: `${py} ${script}: ${hello.error}` });
        child.kill();
        return;
      }
      worker = new AnchorWorker(child, hello);
      resolve(worker);
    });
  });
}

export function median(a: number[]): number {
  const b = [...a].sort((x, y) => x - y);
  const m = b.length >> 1;
  return b.length % 2 ? b[m]! : (b[m - 1]! + b[m]!) / 2;
}

/**
 * Alternates `runs` single samples: FedSeg, anchor, FedSeg, anchor, ... after `warmup` of each, so load
 * changes on a shared machine hit both sides; returns the medians.
 */
export async function interleave(
  ours: () => Promise<{ wall: number; cpu: number }>,
  theirs: () => Promise<{ wall: number; cpu: number }>,
  runs: number,
  warmup = 1,
): Promise<{ ours: { wall: number; cpu: number }; theirs: { wall: number; cpu: number } }> {
  for (let i = 0; i < warmup; i++) {
    await ours();
    await theirs();
  }
  const o: { wall: number; cpu: number }[] = [];
  const t: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < runs; i++) {
    o.push(await ours());
    t.push(await theirs());
  }
  const med = (xs: { wall: number; cpu: number }[]) => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) });
  return { ours: med(o), theirs: med(t) };
}

/** One anchor sample of `what` (the worker's own wall and CPU time, without the pipe's latency). */
export function anchorSample(w: AnchorWorker, msg: Record<string, unknown>): () => Promise<{ wall: number; cpu: number }> {
  return async () => {
    const s = await w.time({ runs: 1, warmup: 0, ...msg });
    return { wall: s.wall[0]!, cpu: s.cpu[0]! };
  };
}

/** One FedSeg sample: wall and CPU (user+sys of this process) ms of one call. */
export function oursSample(fn: () => unknown): () => Promise<{ wall: number; cpu: number }> {
  return async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1000 };
  };
}

/** Float32 array as base64 (how a bench hands a batch to a worker). */
export function b64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}
