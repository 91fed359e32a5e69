// Benchmark harness: `npm run bench [-- --backend wasm|cpu|webgpu|all] [--only NAME] [--runs N]`.
// Every bench/<name>.bench.ts exports `default async function (ctx: BenchContext): Promise<BenchTable[]>`.
// Benchmarks never run in tests. Machines are noisy, so tables report medians and ratios against a
// baseline measured in the same run.
import { performance } from 'node:perf_hooks';

export interface BenchContext {
  /** Backends requested on the command line ('all' expands to every backend that loads). */
  backends: string[];
  runs: number;
  /** Free-form flags (`--size 384` -> { size: '384' }). */
  flags: Record<string, string>;
}

export interface BenchTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

/** Median wall time in ms of `runs` calls after `warmup` calls. fn may be async. */
export async function timeMedian(fn: () => unknown, runs = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  const m = ts.length >> 1;
  return ts.length % 2 ? ts[m]! : (ts[m - 1]! + ts[m]!) / 2;
}

export function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v.toFixed(digits);
}

export function renderTable(t: BenchTable): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map(String))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  const out = [`### ${t.title}`, line(t.columns), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.slice(1).map(line)];
  for (const n of t.notes ?? []) out.push(`> ${n}`);
  return out.join('\n');
}
