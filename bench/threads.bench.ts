// Thread scaling of the wasm backend (core/tf/wasm-threads.ts; docs/measured.md §11): the same workloads
// (FedAvg step of the reference U-Net, batch 5, 128²; conv 3x3 32->32, batch 4, 128²; inference 384²)
// in one child process per thread count, 1 .. the cores this process may use (at most 8), each count
// run twice in alternating order (1, 2, .., 1, 2, ..) and the faster of its two medians kept, so a
// noisy neighbour slows one sample rather than one column. Speed-up = 1-thread ms / N-thread ms.
//   npm run bench -- --only threads [--runs N] [--max-threads N]
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MAX_WASM_THREADS, THREADS_ENV } from '../core/tf/wasm-threads.js';
import { fmt, type BenchContext, type BenchTable } from './harness.js';

const CHILD = fileURLToPath(new URL('./threads-child.ts', import.meta.url));

interface Sample {
  threads: number;
  fedavg: number;
  conv: number;
  infer: number;
}

function child(threads: number, runs: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, String(runs)], {
      env: { ...process.env, [THREADS_ENV]: String(threads), FEDSEG_BACKEND: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Sample);
      } catch {
        reject(new Error(`thread-scaling child (${threads} threads) exited ${code}: ${err.slice(-500)}`));
      }
    });
  });
}

export default async function threadsBench(ctx: BenchContext): Promise<BenchTable[]> {
  const runs = Math.max(1, Math.min(ctx.runs, 3));
  const max = Math.min(MAX_WASM_THREADS, Number(ctx.flags['max-threads'] ?? availableParallelism()));
  const counts = Array.from({ length: Math.max(1, max) }, (_, i) => i + 1);
  const best = new Map<number, Sample>();
  for (let rep = 0; rep < 2; rep++) {
    for (const n of counts) {
      const s = await child(n, runs);
      if (s.threads !== n) throw new Error(`asked for ${n} wasm threads, the backend reported ${s.threads}`);
      const b = best.get(n);
      best.set(n, b ? { threads: n, fedavg: Math.min(b.fedavg, s.fedavg), conv: Math.min(b.conv, s.conv), infer: Math.min(b.infer, s.infer) } : s);
    }
  }
  const one = best.get(1)!;
  const rows = counts.map((n) => {
    const s = best.get(n)!;
    return [n, fmt(s.fedavg), `${fmt(one.fedavg / s.fedavg, 2)}x`, fmt(s.conv), `${fmt(one.conv / s.conv, 2)}x`, fmt(s.infer), `${fmt(one.infer / s.infer, 2)}x`];
  });
  return [{
    title: 'wasm thread scaling (one process per thread count)',
    columns: ['threads', 'FedAvg step ms', 'speed-up', 'conv 3x3 32->32 b4 128² ms', 'speed-up', 'inference 384² ms', 'speed-up'],
    rows,
    notes: [
      `${availableParallelism()} core(s) available; median of ${runs} step(s) per process, the faster of 2 processes per count.`,
      'Only XNNPACK\'s kernels (conv, matmul-like) use the threads; tfjs\'s other wasm kernels (slices, transposes, element-wise ops) run on one, which bounds the speed-up of a whole step.',
    ],
  }];
}
