// One training step of the reference U-Net (3,179,890 params), batch 5, 128x128x3:
// FedAvg (plain Dice step) and ELCFS (first-order meta step with one CFSI view + boundary loss), incl.
// Adam, on the best backend (or --backend ...), plus inference of one 384x384 image. Anchor, measured in
// the same run (docs/measured.md §10 CPU against PyTorch): the same network, losses and steps in PyTorch on
// the CPU (bench/anchors/torch_unet.py) with torch.set_num_threads(N), N = the thread count of FedSeg's
// row, on the same batch; FedSeg and PyTorch samples alternate so machine noise hits both, and the ratio
// column is FedSeg / PyTorch from this run. Without /usr/bin/python3 + torch (or FEDSEG_ANCHOR_PYTHON) the
// rows show the old fixed anchor (authors' code, torch 1.13, 1 thread: 0.9-1.4 s FedAvg, 2.2-2.4 s ELCFS),
// labelled as not measured here.
//   npm run bench -- --only elcfs [--backend wasm] [--runs N] [--second-order] [--profile] [--no-anchor]
// --profile adds a breakdown (forward, forward+backward) to see where the time goes.
import { tf } from '../core/tf/tf.js';
import { initBackend, describeBackend, type BackendName } from '../core/backend.js';
import { buildNetwork } from '../core/models/registry.js';
import { generateFundusSites } from '../core/data/synthetic/fundus.js';
import { extractAmplitudeWindow, interpolateAmplitude, presetAlpha } from '../core/freq/amplitude-interpolation.js';
import { boundaryRegions } from '../core/losses/boundary-loss.js';
import { diceLoss } from '../core/losses/dice-loss.js';
import { trainStep, valueAndGradsAllowUnused, type MetaStepOptions, type StepInputs } from '../core/train/episodic-step.js';
import { imagesToTensor, masksToTensor } from '../core/train/batch.js';
import { Adam } from '../core/train/adam.js';
import { createRng } from '../core/rng.js';
import { availableParallelism } from 'node:os';
import { unetWeightShapes } from '../core/models/unet.js';
import { fmt, type BenchContext, type BenchTable } from './harness.js';
import { AnchorWorker, FIXED_ANCHOR_LABEL, anchorSample, b64, interleave, oursSample, startAnchor, threadEnv } from './anchor.js';

/** Median wall and CPU (user+sys of this process) ms; on a shared machine the CPU time is the fairer number
 *  for single-threaded wasm (it is what the wall time would be on an idle core). */
async function timeBoth(fn: () => unknown, runs: number, warmup = 1): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const med = (a: number[]) => {
    const b = [...a].sort((x, y) => x - y);
    const m = b.length >> 1;
    return b.length % 2 ? b[m]! : (b[m - 1]! + b[m]!) / 2;
  };
  return { wall: med(walls), cpu: med(cpus) };
}

const ANCHOR = { fedavg: [900, 1400], elcfs: [2200, 2400] } as const;
const mid = (r: readonly [number, number]) => (r[0] + r[1]) / 2;
const INFER_SIZE = 384;

/** The thread count FedSeg's row runs on (wasm reports it; tfjs-node uses every core; cpu/webgpu: one JS thread). */
function rowThreads(name: BackendName, threads: number | null): number {
  if (threads !== null) return threads;
  return name === 'tensorflow' || name === 'tensorflow-gpu' ? availableParallelism() : 1;
}

/**
 * One ELCFS step under tf.profile, by kernel: time, share, calls. Conv2D is split into the filter
 * gradient (core/tf/conv-grad.ts runs it as a forward conv whose "filter" is dy, so its filter is larger
 * than 3x3), the 3x3 forward / input-gradient convs and the 1x1 convs.
 */
async function opProfile(backend: string, step: () => Promise<unknown>): Promise<BenchTable> {
  const info = await tf.profile(async () => {
    await step();
  });
  const agg = new Map<string, { ms: number; n: number }>();
  let total = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    total += ms;
    let key = k.name;
    if (k.name === 'Conv2D') {
      const f = k.inputShapes[1] ?? [];
      key = (f[0] ?? 0) > 3 ? 'Conv2D (filter gradient)' : f[0] === 1 ? 'Conv2D (1x1)' : 'Conv2D (3x3 forward / input gradient)';
    }
    const a = agg.get(key) ?? { ms: 0, n: 0 };
    a.ms += ms;
    a.n++;
    agg.set(key, a);
  }
  const rows = [...agg].sort((p, q) => q[1].ms - p[1].ms).slice(0, 14)
    .map(([k, a]) => [k, fmt(a.ms), `${fmt((100 * a.ms) / total)}%`, a.n]);
  return {
    title: `ELCFS step by kernel (${backend})`,
    columns: ['kernel', 'ms', 'share', 'calls'],
    rows,
    notes: [`tf.profile of one first-order ELCFS step: ${info.kernels.length} kernels, ${fmt(total)} ms of kernel time (profiling adds overhead). Top 14 shown.`],
  };
}

export default async function elcfsBench(ctx: BenchContext): Promise<BenchTable[]> {
  const runs = Math.max(1, Math.min(ctx.runs, Number(ctx.flags['runs'] ?? 3)));
  const backends = ctx.backends.includes('all') ? (['wasm', 'webgpu'] as BackendName[]) : (ctx.backends as (BackendName | 'auto')[]);
  const data = generateFundusSites({ sites: 2, perSite: 5, size: 128, seed: 1 });
  const samples = data[0]!.samples;
  const alpha = presetAlpha(128, 128);
  const windows = data[1]!.samples.map((s) => extractAmplitudeWindow(s.image, alpha));
  const rng = createRng(3);
  const views = samples.map((s, i) => interpolateAmplitude(s.image, windows[i]!, rng.next(), { clip: [0, 255] }));
  const regions = boundaryRegions(samples.map((s) => s.mask));
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  let fixedRows = 0;
  const profiles: BenchTable[] = [];
  for (const b of backends) {
    let torchW: AnchorWorker | null = null;
    try {
      let report;
      try {
        report = await initBackend({ backend: b });
      } catch (e) {
        notes.push(`${b}: not available (${(e as Error).message.split('\n')[0]})`);
        continue;
      }
      const name = describeBackend(report);
      const threads = rowThreads(report.name, report.threads);
      const model = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2 }).model;
      const weights = model.init(1);
      const ourParams = Object.values(weights).reduce((a, t) => a + t.size, 0);
      const adam = new Adam();
      const x = imagesToTensor(samples.map((s) => s.image));
      const y = masksToTensor(samples.map((s) => s.mask));
      const meta = [imagesToTensor(views)];
      const inp: StepInputs = { x, y, meta, regions };
      const x384 = tf.randomUniform([1, INFER_SIZE, INFER_SIZE, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const step = (o: MetaStepOptions) => async () => {
        await trainStep(model, weights, adam, inp, o);
      };
      const infer = () => tf.tidy(() => void model.forward(weights, x384).probs.dataSync());

      // The anchor: same network (checked name by name and by count), same batch, FedSeg's thread count
      // (one worker per backend row, since its libraries' thread pools are sized at start).
      let anchorNote = '';
      const started = ctx.flags['no-anchor'] ? { unavailable: '--no-anchor' } : await startAnchor('torch_unet.py', threadEnv(threads));
      torchW = started instanceof AnchorWorker ? started : null;
      let anchor: AnchorWorker | null = torchW;
      if (!anchor) anchorNote = `PyTorch anchor unavailable (${(started as { unavailable: string }).unavailable}): ${FIXED_ANCHOR_LABEL} (authors' code, torch 1.13 CPU, 1 thread)`;
      if (anchor) {
        try {
          const set = await anchor.call({ op: 'setup', threads, inChannels: 3, classes: 2, baseWidth: 16, depth: 5, shapes: unetWeightShapes({ inChannels: 3, classes: 2 }).map((w) => ({ name: w.name, shape: w.shape })) });
          if (set.params !== ourParams) throw new Error(`PyTorch U-Net has ${String(set.params)} params, FedSeg's ${ourParams}`);
          const [bn, h, w] = x.shape;
          await anchor.call({ op: 'data', b: bn, h, w, x: b64(x.dataSync() as Float32Array), views: meta.map((v) => b64(v.dataSync() as Float32Array)), y: b64(y.dataSync() as Float32Array), regions: b64(regions.weights), present: regions.present });
          anchorNote = `PyTorch ${String(set.torch)} CPU, torch.set_num_threads(${String(set.threads)}); U-Net ${String(set.params)} params = FedSeg's ${ourParams}, same names and shapes`;
        } catch (e) {
          anchorNote = `PyTorch anchor failed (${(e as Error).message}): ${FIXED_ANCHOR_LABEL}`;
          anchor = null;
        }
      }
      notes.push(`${name}: ${anchorNote || FIXED_ANCHOR_LABEL}`);
      const measured = async (label: string, fn: () => Promise<void> | void, what: string, fixed?: readonly [number, number]) => {
        if (anchor) {
          const r = await interleave(oursSample(fn), anchorSample(anchor, { what, size: INFER_SIZE }), runs, 2);
          rows.push([name, label, threads, fmt(r.ours.wall), fmt(r.ours.cpu), fmt(r.theirs.wall), fmt(r.theirs.cpu), fmt(r.ours.wall / r.theirs.wall, 2), fmt(r.ours.cpu / r.theirs.cpu, 2)]);
        } else {
          const t = await timeBoth(fn, runs);
          fixedRows++;
          const a = fixed ? `${fixed[0]}-${fixed[1]} (fixed)` : '-';
          rows.push([name, label, threads, fmt(t.wall), fmt(t.cpu), a, a, fixed ? fmt(t.wall / mid(fixed), 2) : '-', fixed ? fmt(t.cpu / mid(fixed), 2) : '-']);
        }
      };
      const plain = (label: string, t: { wall: number; cpu: number }) => rows.push([name, label, threads, fmt(t.wall), fmt(t.cpu), '-', '-', '-', '-']);
      await measured('FedAvg step (fwd+bwd+Adam)', step({ mode: 'fedavg' }), 'fedavg', ANCHOR.fedavg);
      await measured('ELCFS step (1st order)', step({ mode: 'elcfs' }), 'elcfs', ANCHOR.elcfs);
      await measured(`inference ${INFER_SIZE}x${INFER_SIZE}, 1 image`, infer, 'infer');
      if (ctx.flags['second-order']) plain('ELCFS step (2nd order, fd-hvp)', await timeBoth(step({ mode: 'elcfs', secondOrder: 'fd-hvp' }), Math.min(runs, 2), 0));
      if (ctx.flags['profile']) {
        const names = Object.keys(weights);
        const fwd = await timeBoth(() => tf.tidy(() => void model.forward(weights, x).probs.dataSync()), runs, 1);
        const fb = await timeBoth(() => {
          const { value, grads } = valueAndGradsAllowUnused((...ws: tf.Tensor[]) => diceLoss(model.forward(Object.fromEntries(names.map((n, i) => [n, ws[i]!])), x).probs, y), names.map((n) => weights[n]!));
          value.dataSync();
          tf.dispose([value, ...grads]);
        }, runs, 1);
        plain('profile: forward only', fwd);
        plain('profile: forward+backward (Dice grads)', fb);
        profiles.push(await opProfile(name, () => trainStep(model, weights, adam, inp, { mode: 'elcfs' })));
      }
      tf.dispose([x, y, x384, ...meta, ...Object.values(weights)]);
      adam.dispose();
    } finally {
      await torchW?.close();
    }
  }
  notes.push(fixedRows
    ? `ratio = FedSeg / the fixed anchor's midpoint in ${fixedRows} row(s) (FedSeg median of ${runs} run(s) after 1 warm-up; the anchor was not measured here); < 1 is faster.`
    : 'ratio = FedSeg / PyTorch, both measured in this run, samples alternating (FedSeg, torch, FedSeg, ...), medians; < 1 is faster.');
  notes.push('cpu ms = user+sys CPU time of the measuring process per step (median): on a busy shared machine it approximates the idle-core wall time of a single-threaded run.');
  notes.push(`Batch 5, 128x128x3, reference U-Net (3,179,890 params), median of ${runs} run(s) (interleaved with PyTorch: after 2 warm-ups each, as torch needs 2-3 steps to reach its steady speed); ELCFS = inner Dice grad + meta Dice + boundary NT-Xent, one CFSI view; both sides use Dice only (docs/algorithms.md §4-5).`);
  return [{ title: 'ELCFS / FedAvg training step and inference, reference U-Net, against PyTorch', columns: ['backend', 'step', 'threads', 'FedSeg wall ms', 'FedSeg cpu ms', 'torch wall ms', 'torch cpu ms', 'ratio wall', 'ratio cpu'], rows, notes }, ...profiles];
}
