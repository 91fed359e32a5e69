// GPU benchmark for the webgpu backend: conv 3x3 forward and forward+backward with tfjs's
// stock webgpu kernels vs FedSeg's WGSL kernels (core/tf/webgpu-kernels.ts), and the reference U-Net
// train step (core/models/unet.ts, Dice loss, Adam), batch 5.
//   npm run bench -- --backend webgpu [--only webgpu] [--runs 5] [--reps 10] [--full] [--unet 128,384|none]
//     [--batch 5] [--unetStock false] [--unetOnly 1]
// On a software adapter (SwiftShader) it uses tiny shapes unless --full is given: the numbers then only
// show that the path works. On a GPU box without Node/npm, see docs/gpu.md (one-file esbuild bundle;
// FEDSEG_WEBGPU_BENCH_MAIN=1 makes the bundle run itself).
// Timing: `reps` back-to-back iterations, then one 1-element readback (GPU work is asynchronous), over
// reps (fewer when an iteration is slow, --sampleMs); median over `runs` samples, after warm-up iterations
// that compile every pipeline.
import { performance } from 'node:perf_hooks';
import { tf } from '../core/tf/tf.js';
import { initBackend, describeBackend } from '../core/backend.js';
import { useSwiftShader, webGpuAdapter, webGpuDeviceErrors } from '../core/tf/webgpu-backend.js';
import { fedSegWebGpuKernelsEnabled, setFedSegWebGpuKernels } from '../core/tf/webgpu-kernels.js';
import { fusedAdamStep } from '../core/tf/webgpu-fused.js';
import { setConvGradMode } from '../core/tf/grad-overrides.js';
import { buildNetwork, trainableParamCount } from '../core/models/registry.js';
import { diceLoss } from '../core/losses/dice-loss.js';
import { fmt, renderTable, type BenchContext, type BenchTable } from './harness.js';

type Conv = { b: number; h: number; ci: number; co: number };
/** Progress lines (the self-running GPU bundle prints them so a timed-out run still reports). */
const progress = (msg: string) => {
  if (process.env.FEDSEG_WEBGPU_BENCH_MAIN === '1') console.log(`# ${msg}`);
};

const FULL_CONVS: Conv[] = [
  { b: 4, h: 128, ci: 32, co: 32 },
  { b: 5, h: 384, ci: 16, co: 16 },
  { b: 5, h: 48, ci: 256, co: 256 },
];
const SMALL_CONVS: Conv[] = [
  { b: 1, h: 32, ci: 8, co: 8 },
  { b: 2, h: 16, ci: 16, co: 16 },
];

let sampleMs = 1000;

/** Median ms per iteration of fn (which returns tensors it owns; they are disposed). */
async function timeGpu(fn: () => tf.Tensor[], runs: number, reps: number, warmup = 2): Promise<number> {
  const once = async (n: number) => {
    let last: tf.Tensor | null = null;
    for (let i = 0; i < n; i++) {
      const outs = tf.tidy(fn);
      if (i === n - 1) last = tf.tidy(() => tf.slice(tf.reshape(outs[outs.length - 1]!, [-1]), 0, 1));
      tf.dispose(outs);
    }
    await last!.data();
    last!.dispose();
  };
  const w0 = performance.now();
  await once(warmup);
  // slow cases (stock kernels at 384²) get fewer back-to-back reps: a sample is at most ~sampleMs
  reps = Math.max(1, Math.min(reps, Math.round(sampleMs / ((performance.now() - w0) / warmup))));
  const ts: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await once(reps);
    ts.push((performance.now() - t0) / reps);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1]!;
}

function rnd(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);
}

async function convRow(c: Conv, runs: number, reps: number): Promise<{ fwd: number; train: number; composite: number }> {
  const x = rnd([c.b, c.h, c.h, c.ci], 1) as tf.Tensor4D;
  const w = rnd([3, 3, c.ci, c.co], 2, Math.sqrt(2 / (9 * c.co))) as tf.Tensor4D;
  const dy = rnd([c.b, c.h, c.h, c.co], 3) as tf.Tensor4D;
  const train = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), dy)));
  const fwd = await timeGpu(() => [tf.conv2d(x, w, 1, 'same')], runs, reps);
  // forward + dx + dW as training runs them on webgpu: the Conv2DBackpropInput/Filter kernels
  const prev = setConvGradMode('kernels');
  const tr = await timeGpu(() => train([x, w]), runs, reps);
  // the same through FedSeg's forward-conv composites (core/tf/conv-grad.ts; what wasm/cpu use)
  setConvGradMode('composite');
  const composite = await timeGpu(() => train([x, w]), runs, reps);
  setConvGradMode(prev);
  tf.dispose([x, w, dy]);
  return { fwd, train: tr, composite };
}

/** One reference U-Net ELCFS-style local step: forward, Dice loss, gradients of all weights, Adam. */
async function unetStep(size: number, batch: number, runs: number, reps: number): Promise<{ ms: number; params: number }> {
  const net = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2 });
  const model = net.model;
  const weights = model.init(1);
  const names = Object.keys(weights);
  const x = rnd([batch, size, size, 3], 4) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 2], 0, 1, 'float32', 5), 0.5), 'float32'));
  const m = new Map<string, tf.Tensor>(names.map((n) => [n, tf.zerosLike(weights[n]!)]));
  const v = new Map<string, tf.Tensor>(names.map((n) => [n, tf.zerosLike(weights[n]!)]));
  // The U-Net (core/models/unet.ts) skips conv biases that instance norm cancels: differentiate only the weights in use
  const lossWith = (map: Record<string, tf.Tensor>) => diceLoss(model.forward(map, x, { training: true }).probs, y);
  const probe = tf.engine().gradients(() => lossWith(weights), names.map((n) => weights[n]!), undefined, true);
  const used = names.filter((_, i) => probe.grads[i] != null);
  tf.dispose([probe.value, ...probe.grads.filter((g): g is tf.Tensor => g != null)]);
  const grads = tf.grads((...ws: tf.Tensor[]) => lossWith({ ...weights, ...Object.fromEntries(used.map((n, i) => [n, ws[i]!])) }));
  let t = 0;
  const step = (): tf.Tensor[] => {
    t++;
    const gs = grads(used.map((n) => weights[n]!));
    // Adam, torch defaults (the update of core/train/adam.ts): 3 fused WGSL programs per weight with
    // FedSeg kernels on (core/tf/webgpu-fused.ts), the ~12 tf ops per weight with stock kernels
    const fused = fedSegWebGpuKernelsEnabled();
    used.forEach((n, i) => {
      const r = fusedAdamStep(weights[n]!, gs[i]!, m.get(n)!, v.get(n)!, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, t, fused);
      tf.keep(r.w); tf.keep(r.m); tf.keep(r.v);
      tf.dispose([m.get(n)!, v.get(n)!, weights[n]!]);
      m.set(n, r.m);
      v.set(n, r.v);
      weights[n] = r.w;
    });
    return [tf.clone(weights[names[names.length - 1]!]!)];
  };
  const ms = await timeGpu(step, runs, reps, 2);
  tf.dispose([x, y, ...Object.values(weights), ...m.values(), ...v.values()]);
  return { ms, params: trainableParamCount(net) };
}

export default async function webgpuBench(ctx: BenchContext): Promise<BenchTable[]> {
  if (!ctx.backends.includes('webgpu') && !ctx.backends.includes('all')) {
    return [{ title: 'webgpu (skipped)', columns: ['note'], rows: [['run with --backend webgpu (see docs/gpu.md)']] }];
  }
  if (process.env.FEDSEG_WEBGPU_SWIFTSHADER === '1') useSwiftShader();
  // forced: a software adapter is accepted (small shapes). No GPU at all: fall back to chromium's SwiftShader.
  let report;
  try {
    report = await initBackend({ backend: 'webgpu' });
  } catch (e) {
    if (!useSwiftShader()) throw e;
    progress(`no GPU adapter (${(e as Error).message.split('\n')[0]}); using SwiftShader`);
    report = await initBackend({ backend: 'webgpu' });
  }
  const adapter = webGpuAdapter();
  const full = ctx.flags.full === 'true' || !adapter?.software;
  const runs = ctx.runs;
  sampleMs = Number(ctx.flags.sampleMs ?? 1000);
  const reps = Number(ctx.flags.reps ?? (full ? 10 : 1));
  const convs = ctx.flags.unetOnly ? [] : full ? FULL_CONVS : SMALL_CONVS;
  const device = describeBackend(report);
  progress(device);

  const rows: (string | number)[][] = [];
  for (const c of convs) {
    setFedSegWebGpuKernels(false);
    const before = await convRow(c, runs, reps);
    setFedSegWebGpuKernels(true);
    progress(`conv b${c.b} ${c.h}² ${c.ci}->${c.co} stock: ${JSON.stringify(before)}`);
    const after = await convRow(c, runs, reps);
    progress(`conv b${c.b} ${c.h}² ${c.ci}->${c.co} FedSeg: ${JSON.stringify(after)}`);
    rows.push([
      `b${c.b} ${c.h}x${c.h} ${c.ci}->${c.co}`,
      fmt(before.fwd, 2), fmt(before.train, 2), fmt(before.composite, 2),
      fmt(after.fwd, 2), fmt(after.train, 2), fmt(after.composite, 2),
      `${fmt(before.train / after.train, 1)}x`, `${fmt(after.train / after.fwd, 1)}x`,
    ]);
  }
  const tables: BenchTable[] = [{
    title: `webgpu conv 3x3 same, ms (${device})`,
    columns: ['shape', 'stock fwd', 'stock fwd+bwd', 'stock fwd+bwd (composite)', 'FedSeg fwd', 'FedSeg fwd+bwd', 'FedSeg fwd+bwd (composite)', 'fwd+bwd speed-up', 'FedSeg (fwd+bwd)/fwd'],
    rows,
    notes: [
      'fwd+bwd = forward + dx + dW through the Conv2DBackpropInput/Filter kernels (what webgpu training runs, setConvGradMode auto).',
      '(composite) = the same gradients as forward convs + pads/transposes (core/tf/conv-grad.ts, what wasm/cpu run).',
      'stock = @tensorflow/tfjs-backend-webgpu 4.22 kernels; FedSeg = core/tf/webgpu-conv-programs.ts (implicit GEMM, split-K).',
      `median of ${runs} samples x ${reps} back-to-back iterations${full ? '' : ' (small shapes: software adapter; pass --full for the GPU shapes)'}`,
    ],
  }];

  const unetSizes = (ctx.flags.unet ?? (full ? '128,384' : '32')).split(',').filter(Boolean).map(Number);
  if (ctx.flags.unet !== 'none') {
    const urows: (string | number)[][] = [];
    const batch = Number(ctx.flags.batch ?? (full ? 5 : 1));
    for (const s of unetSizes) {
      setFedSegWebGpuKernels(false);
      const b = ctx.flags.unetStock === 'false' ? { ms: NaN } : await unetStep(s, batch, runs, Math.max(1, Math.round(reps / 5)));
      progress(`U-Net b${batch} ${s}² stock kernels: ${b.ms.toFixed(1)} ms`);
      setFedSegWebGpuKernels(true);
      const a = await unetStep(s, batch, runs, Math.max(1, Math.round(reps / 5)));
      progress(`U-Net b${batch} ${s}² FedSeg kernels: ${a.ms.toFixed(1)} ms`);
      urows.push([`b${batch} ${s}x${s}`, a.params, fmt(b.ms, 1), fmt(a.ms, 1), `${fmt(b.ms / a.ms, 1)}x`]);
    }
    tables.push({
      title: `webgpu reference U-Net train step (fwd + Dice + grads + Adam), ms (${device})`,
      columns: ['input', 'params', 'stock kernels', 'FedSeg kernels', 'speed-up'],
      rows: urows,
      notes: ['U-Net: core/models/unet.ts defaults (base 16, depth 5, instance norm); targets: b5 384² ≤ 170 ms on an H100-class GPU.', 'FedSeg column: WGSL conv kernels + GPU-side Sum/Mean gradients + fused Adam (core/tf/webgpu-fused.ts); stock: tfjs 4.22 kernels/gradients, Adam as tf ops.'],
    });
  }
  const errs = webGpuDeviceErrors();
  if (errs.length) tables[0]!.notes!.push(`WebGPU device errors: ${errs.length} (first: ${errs[0]!.split('\n')[0]})`);
  return tables;
}

// Self-running mode for the one-file bundle used on GPU machines without Node tooling (docs/gpu.md).
if (process.env.FEDSEG_WEBGPU_BENCH_MAIN === '1') {
  const argv = process.argv.slice(2);
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) { flags[a.slice(2)] = next; i++; } else flags[a.slice(2)] = 'true';
  }
  const t0 = performance.now();
  const tables = await webgpuBench({ backends: ['webgpu'], runs: Number(flags.runs ?? 5), flags });
  for (const t of tables) console.log('\n' + renderTable(t));
  console.log(`(webgpu bench: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
