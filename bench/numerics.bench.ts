// Numerics benchmarks: FFT2 of 384x384x3, CFSI window-only throughput at 384^2 (3x3 window),
// HD95 of a 384^2 mask pair. Single-threaded plain TypeScript; targets printed beside the figures.
import { fft2, ifft2 } from '../core/freq/fft2d.js';
import { extractAmplitudeWindow, interpolateAmplitude, interpolateAmplitudeFull } from '../core/freq/amplitude-interpolation.js';
import { hd95 } from '../core/metrics/hausdorff.js';
import { dice } from '../core/metrics/dice.js';
import { createRng } from '../core/rng.js';
import type { ImageF32 } from '../core/contract/image.js';
import { availableParallelism, loadavg } from 'node:os';
import { fmt, timeMedian, type BenchContext, type BenchTable } from './harness.js';

const N = 384;

/** Median CPU time (user + system, ms) of fn: less distorted than wall time on a shared machine. */
function cpuMedian(fn: () => unknown, runs: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    ts.push((d.user + d.system) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1]!;
}

function fundusLike(seed: number): ImageF32 {
  const r = createRng(seed);
  const data = new Float32Array(N * N * 3);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const d = Math.hypot(y - 190, x - 200) / 190;
      for (let c = 0; c < 3; c++) data[(y * N + x) * 3 + c] = Math.max(0, Math.min(255, (1 - d) * (200 - 50 * c) + r.normal() * 8));
    }
  }
  return { width: N, height: N, channels: 3, data };
}

function blob(seed: number, cy: number, cx: number, rad: number): Uint8Array {
  const r = createRng(seed);
  const m = new Uint8Array(N * N);
  const k = Array.from({ length: 6 }, () => r.normal() * 0.06);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const t = Math.atan2(y - cy, x - cx);
      const rr = rad * (1 + k.reduce((s, a, i) => s + a * Math.sin((i + 1) * t + i), 0));
      m[y * N + x] = Math.hypot(y - cy, x - cx) <= rr ? 1 : 0;
    }
  }
  return m;
}

export default async function numerics(ctx: BenchContext): Promise<BenchTable[]> {
  const runs = Math.max(3, ctx.runs);
  const img = fundusLike(1);
  const planes = [0, 1, 2].map((c) => Float64Array.from({ length: N * N }, (_, i) => img.data[i * 3 + c]!));
  const fftMs = await timeMedian(() => planes.map((p) => fft2(p, null, N, N)), runs);
  const spectra = planes.map((p) => fft2(p, null, N, N));
  const roundMs = await timeMedian(() => spectra.map((s) => ifft2(s.re, s.im, N, N)), runs);

  const target = extractAmplitudeWindow(fundusLike(2), 0.003);
  const a = blob(3, 190, 200, 70);
  const b = blob(4, 185, 205, 66);
  const batch = 50;
  const cfsiMs = await timeMedian(() => {
    for (let i = 0; i < batch; i++) interpolateAmplitude(img, target, 0.5, { clip: [0, 255] });
  }, runs);
  const reuse = new Float32Array(img.data.length);
  const cfsiReuseMs = await timeMedian(() => {
    for (let i = 0; i < batch; i++) interpolateAmplitude(img, target, 0.5, { clip: [0, 255], out: reuse });
  }, runs);
  const cfsiJsCpuMs = cpuMedian(() => {
    for (let i = 0; i < batch; i++) interpolateAmplitude(img, target, 0.5, { clip: [0, 255], out: reuse, simd: false });
  }, runs);
  const cfsiCpuMs = cpuMedian(() => {
    for (let i = 0; i < batch; i++) interpolateAmplitude(img, target, 0.5, { clip: [0, 255], out: reuse });
  }, runs);
  const fftCpuMs = cpuMedian(() => planes.map((p) => fft2(p, null, N, N)), runs);
  const hdCpuMs = cpuMedian(() => {
    for (let i = 0; i < 20; i++) hd95(a, b, N, N);
  }, runs) / 20;
  const extractMs = await timeMedian(() => extractAmplitudeWindow(img, 0.003), runs);
  const fullMs = await timeMedian(() => interpolateAmplitudeFull(img, target, 0.5, { clip: [0, 255] }), 3);

  const hdMs = await timeMedian(() => hd95(a, b, N, N), runs * 4, 3);
  const hdVal = hd95(a, b, N, N);
  const dMs = await timeMedian(() => dice(a, b), runs * 4, 3);

  const cfsiPerS = (1000 * batch) / cfsiMs;
  const cfsiReusePerS = (1000 * batch) / cfsiReuseMs;
  const cfsiCpuPerS = (1000 * batch) / cfsiCpuMs;
  const cpus = availableParallelism();
  return [
    {
      title: 'Numerics (TypeScript; CFSI rows via hand-assembled wasm SIMD; one core, 384x384)',
      columns: ['measure', 'value', 'target', 'meets'],
      rows: [
        ['FFT2 of 384x384x3 (3 channel planes, f64), ms', fmt(fftMs), '(docs/measured.md: fft.js+radix-3 63 ms)', '-'],
        ['FFT2 of 384x384x3, CPU ms (user+sys)', fmt(fftCpuMs), '-', '-'],
        ['IFFT2 of 384x384x3, ms', fmt(roundMs), '-', '-'],
        ['CFSI window-only, images/s (384^2 x3, 3x3 window, clip)', fmt(cfsiPerS, 0), '>= 1000', cfsiPerS >= 1000 ? 'yes' : 'no'],
        ['CFSI window-only, reused output buffer (opts.out), images/s', fmt(cfsiReusePerS, 0), '>= 1000', cfsiReusePerS >= 1000 ? 'yes' : 'no'],
        ['CFSI window-only, opts.out, images per CPU-second', fmt(cfsiCpuPerS, 0), '>= 1000', cfsiCpuPerS >= 1000 ? 'yes' : 'no'],
        ['CFSI window-only, plain f64 TS loops (simd: false), opts.out, images per CPU-second', fmt((1000 * batch) / cfsiJsCpuMs, 0), '>= 1000', (1000 * batch) / cfsiJsCpuMs >= 1000 ? 'yes' : 'no'],
        ['extractAmplitudeWindow (what a site shares), ms/image', fmt(extractMs, 2), '-', '-'],
        ['CFSI full-FFT oracle, ms/image', fmt(fullMs), '-', '-'],
        [`HD95 of a 384^2 pair (value ${hdVal.toFixed(3)} px), ms`, fmt(hdMs, 2), '< 5', hdMs < 5 ? 'yes' : 'no'],
        ['HD95 of a 384^2 pair, CPU ms', fmt(hdCpuMs, 2), '< 5', hdCpuMs < 5 ? 'yes' : 'no'],
        ['Dice of a 384^2 pair, ms', fmt(dMs, 3), '-', '-'],
      ],
      notes: [
        `medians of ${runs}+ runs; CFSI timed over batches of ${batch} images; wall-clock rows and CPU-time rows both shown; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' / ')} on ${cpus} cores (a busy machine inflates every figure)`,
      ],
    },
  ];
}
