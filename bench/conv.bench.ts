// conv2d 3×3 forward and forward+backward: batch 4, 128×128, 32→32 channels, 'same',
// on each backend that loads, with ratios against wasm measured in the same run; plus FedSeg's conv
// backward paths against the stock tfjs kernels; plus the same conv in PyTorch on the CPU, measured in the
// same run with wasm's thread count (bench/anchors/torch_unet.py; docs/measured.md §10 CPU against PyTorch),
// samples alternating with wasm's (--no-anchor skips it; without torch it says so and measures nothing).
//   npm run bench -- --only conv                  # auto backend (+ wasm as baseline)
//   npm run bench -- --only conv --backend all    # every backend that loads (cpu: reduced, see notes)
//   --runs N (default 5), --cpu-runs N (default 1)
import { tf } from '../core/tf/tf.js';
import { BACKEND_ORDER, initBackend, type BackendName } from '../core/backend.js';
import { convFilterGrad, convInputGrad } from '../core/tf/conv-grad.js';
import { stockWasmKernel } from '../core/tf/wasm-kernels.js';
import { fmt, timeMedian, type BenchContext, type BenchTable } from './harness.js';
import { AnchorWorker, FIXED_ANCHOR_LABEL, anchorSample, interleave, oursSample, startAnchor, threadEnv } from './anchor.js';

type S4 = [number, number, number, number];
const FULL: S4 = [4, 128, 128, 32];
const W_SHAPE: S4 = [3, 3, 32, 32];

interface Inputs { x: tf.Tensor4D; w: tf.Tensor4D; dy: tf.Tensor4D }
const make = (xShape: S4): Inputs => ({
  x: tf.randomNormal(xShape, 0, 1, 'float32', 1) as tf.Tensor4D,
  w: tf.randomNormal(W_SHAPE, 0, 0.1, 'float32', 2) as tf.Tensor4D,
  dy: tf.randomNormal([xShape[0], xShape[1], xShape[2], W_SHAPE[3]], 0, 1, 'float32', 3) as tf.Tensor4D,
});
const free = (i: Inputs) => tf.dispose([i.x, i.w, i.dy]);

/** Runs f, waits for every output's data (works on async-only backends too), disposes them. */
async function settle(f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  await Promise.all(list.map((t) => t.data()));
  tf.dispose(list);
}

const fwd = (i: Inputs) => () => settle(() => tf.conv2d(i.x, i.w, 1, 'same'));
const fwdBwd = (i: Inputs) => () =>
  settle(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), i.dy)))([i.x, i.w]));

/** Times a kernel's own kernelFunc (bypassing the registry), e.g. the wasm kernel FedSeg replaced. */
function rawKernel(cfg: tf.KernelConfig, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) {
  return async () => {
    const b = tf.backend();
    const r = cfg.kernelFunc({ inputs, backend: b, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    await b.read(r.dataId);
    b.disposeData(r.dataId);
  };
}

/** Per-tap alternative for dW (9 shifted slices × matMul), measured to justify the forward-conv choice. */
function perTapFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor {
  const [b, h, w, ci] = x.shape;
  const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const d2 = tf.reshape(dy, [b * h * w, dy.shape[3]]);
  const taps: tf.Tensor[] = [];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) taps.push(tf.matMul(tf.reshape(tf.slice(xp, [0, ky, kx, 0], [b, h, w, ci]), [b * h * w, ci]), d2, true));
  }
  return tf.reshape(tf.stack(taps), W_SHAPE);
}

export default async function convBench(ctx: BenchContext): Promise<BenchTable[]> {
  const runs = ctx.runs;
  const cpuRuns = Number(ctx.flags['cpu-runs'] ?? 1);
  let wanted: BackendName[];
  if (ctx.backends.includes('all')) wanted = [...BACKEND_ORDER];
  else if (ctx.backends.includes('auto')) wanted = [(await initBackend({ backend: 'auto' })).name];
  else wanted = ctx.backends as BackendName[];
  if (!wanted.includes('wasm')) wanted.push('wasm'); // the baseline for ratios
  wanted = ['wasm', ...wanted.filter((b) => b !== 'wasm')];

  const main: BenchTable = {
    title: 'conv2d 3×3 same, 4×128×128×32 → 32: ms (median)',
    columns: ['backend', 'fwd', 'fwd+bwd (dx, dW)', 'fwd vs wasm', 'fwd+bwd vs wasm', 'runs', 'note'],
    rows: [],
    notes: [
      'fwd+bwd = tf.grads of sum(conv2d(x, W) · dy) wrt x and W, through FedSeg\'s gradient overrides (forward convs only).',
      'Ratios are this backend\'s time / wasm\'s time in the same run (>1 = slower than wasm).',
    ],
  };
  let wasmFwd = NaN, wasmFb = NaN;
  for (const name of wanted) {
    let report;
    try {
      report = await initBackend({ backend: name });
    } catch (e) {
      const why = (e as Error).message.split('\n')[0]!.replace(/^no TensorFlow\.js backend could be initialised: [a-z-]+: /, '');
      main.rows.push([name, 'not available', '', '', '', 0, why.slice(0, 100)]);
      continue;
    }
    const isCpu = name === 'cpu';
    const n = isCpu ? cpuRuns : runs;
    const full = make(FULL);
    const tF = await timeMedian(fwd(full), n, isCpu ? 0 : 1);
    free(full);
    let tFB: number, note = `${report.tfBackend} ${report.version}${report.simd === null ? '' : report.simd ? ', SIMD' : ''}`;
    if (isCpu) {
      // cpu fwd+bwd at batch 4 takes ~8 s with our overrides (~135 s with tfjs's stock filter kernel);
      // measure batch 1 and scale ×4 (conv cost is linear in batch).
      const one = make([1, 128, 128, 32]);
      tFB = 4 * (await timeMedian(fwdBwd(one), n, 0));
      free(one);
      note += '; fwd+bwd measured at batch 1 ×4';
    } else {
      const i2 = make(FULL);
      tFB = await timeMedian(fwdBwd(i2), n, 1);
      free(i2);
    }
    if (name === 'wasm') [wasmFwd, wasmFb] = [tF, tFB];
    main.rows.push([name, fmt(tF), fmt(tFB), `${fmt(tF / wasmFwd, 2)}×`, `${fmt(tFB / wasmFb, 2)}×`, n, note]);
  }

  // The same conv in PyTorch (CPU, wasm's thread count), alternating with wasm samples.
  const wasmReport = await initBackend({ backend: 'wasm' });
  const threads = wasmReport.threads ?? 1;
  const torchTable: BenchTable = {
    title: 'conv2d 3×3 same, 4×128×128×32 → 32: wasm against PyTorch CPU, ms (median)',
    columns: ['pass', 'threads', 'FedSeg wasm', 'torch', 'ratio (FedSeg / torch)'],
    rows: [],
    notes: ['Measured in this run, samples alternating (wasm, torch, wasm, ...), after 1 warm-up each; torch: NCHW, F.conv2d(padding=1), fwd+bwd = autograd of sum(conv · dy) wrt x and W.'],
  };
  const started = ctx.flags['no-anchor'] ? { unavailable: '--no-anchor' } : await startAnchor('torch_unet.py', threadEnv(threads));
  if (started instanceof AnchorWorker) {
    try {
      const c = make(FULL);
      for (const [label, what, fn] of [['fwd', 'conv_fwd', fwd(c)], ['fwd+bwd (dx, dW)', 'conv_fwdbwd', fwdBwd(c)]] as const) {
        const r = await interleave(oursSample(fn), anchorSample(started, { what, threads }), runs, 1);
        torchTable.rows.push([label, threads, fmt(r.ours.wall), fmt(r.theirs.wall), `${fmt(r.ours.wall / r.theirs.wall, 2)}×`]);
      }
      free(c);
      torchTable.notes!.push(`PyTorch ${String(started.hello.torch)}, torch.set_num_threads(${threads}), OMP/OpenBLAS threads ${threads}.`);
    } finally {
      await started.close();
    }
  } else {
    torchTable.notes!.push(`PyTorch anchor unavailable (${started.unavailable}): no torch column (${FIXED_ANCHOR_LABEL}; this row never had a fixed one).`);
  }

  // Backward paths on wasm: FedSeg's composites vs the stock wasm kernels and the per-tap alternative.
  const paths: BenchTable = {
    title: 'conv backward paths on wasm, 4×128×128×32 → 32: ms (median)',
    columns: ['path', 'dx (input grad)', 'dW (filter grad)', 'fwd+bwd'],
    rows: [],
    notes: [],
  };
  const i = make(FULL);
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined };
  const oursDx = await timeMedian(() => settle(() => convInputGrad(FULL, i.dy, i.w, { strides: 1, pad: 'same' })), runs);
  const oursDw = await timeMedian(() => settle(() => convFilterGrad(i.x, i.dy, W_SHAPE, { strides: 1, pad: 'same' })), runs);
  paths.rows.push(['FedSeg: forward convs (grad override + wasm kernels)', fmt(oursDx), fmt(oursDw), fmt(wasmFb)]);
  const stockIn = stockWasmKernel('Conv2DBackpropInput');
  const stockDx = stockIn ? await timeMedian(rawKernel(stockIn, { dy: i.dy, filter: i.w }, { ...attrs, inputShape: FULL }), runs) : NaN;
  paths.rows.push(['tfjs stock wasm kernels', stockIn ? fmt(stockDx) : 'not available', 'not available (no Conv2DBackpropFilter kernel on wasm)', 'not available']);
  const tap = await timeMedian(() => settle(() => perTapFilterGrad(i.x, i.dy)), Math.min(runs, 3));
  paths.rows.push(['alternative: 9 per-tap matMuls for dW', '', fmt(tap), '']);
  free(i);
  paths.notes!.push(`dx: FedSeg ${fmt(stockDx / oursDx, 1)}× faster than the stock wasm Conv2DBackpropInput kernel; dW: forward conv ${fmt(tap / oursDw, 1)}× faster than per-tap matMuls.`);

  // Stock vs FedSeg filter gradient on cpu, reduced size (the stock cpu kernel is pathological).
  if (ctx.backends.includes('all')) {
    await initBackend({ backend: 'cpu' });
    const small: S4 = [1, 32, 32, 32];
    const s = make(small);
    const cpuOurs = await timeMedian(() => settle(() => convFilterGrad(s.x, s.dy, W_SHAPE, { strides: 1, pad: 'same' })), cpuRuns, 0);
    const cpuStock = await timeMedian(
      () => settle(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: s.x, dy: s.dy }, { ...attrs, filterShape: W_SHAPE } as unknown as tf.NamedAttrMap) as tf.Tensor),
      cpuRuns, 0);
    free(s);
    paths.rows.push(['cpu, 1×32×32×32: FedSeg dW / stock Conv2DBackpropFilter', '', `${fmt(cpuOurs)} / ${fmt(cpuStock)}`, '']);
    paths.notes!.push(`cpu stock filter kernel is ${fmt(cpuStock / cpuOurs, 1)}× slower than FedSeg's forward-conv dW at 1×32², ${cpuRuns} run(s).`);
  }
  await initBackend({ backend: 'wasm' });
  return [main, torchTable, paths];
}
