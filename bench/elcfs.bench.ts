// One training step of the reference U-Net (3,179,890 params), batch 5, 128x128x3:
// FedAvg (plain Dice step) and ELCFS (first-order meta step with one CFSI view + boundary loss), incl.
// Adam, on the best backend (or --backend ...). Anchor, measured on this machine type: the authors'
// PyTorch code (Debian torch 1.13, CPU, 1 thread) takes 0.9-1.4 s per FedAvg iteration and 2.2-2.4 s
// per ELCFS iteration at exactly this size; the ratio column is ours / the anchor's midpoint.
//   npm run bench -- --only elcfs [--backend wasm] [--runs N] [--second-order] [--profile]
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
import { fmt, type BenchContext, type BenchTable } from './harness.js';

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
  for (const b of backends) {
    let report;
    try {
      report = await initBackend({ backend: b });
    } catch (e) {
      notes.push(`${b}: not available (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    const name = describeBackend(report);
    const model = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2 }).model;
    const weights = model.init(1);
    const adam = new Adam();
    const x = imagesToTensor(samples.map((s) => s.image));
    const y = masksToTensor(samples.map((s) => s.mask));
    const meta = [imagesToTensor(views)];
    const inp: StepInputs = { x, y, meta, regions };
    const step = (o: MetaStepOptions) => async () => {
      await trainStep(model, weights, adam, inp, o);
    };
    const row = (label: string, t: { wall: number; cpu: number }, anchor?: readonly [number, number]) =>
      rows.push([name, label, fmt(t.wall), fmt(t.cpu), anchor ? `${anchor[0]}-${anchor[1]}` : '-', anchor ? fmt(t.wall / mid(anchor), 2) : '-', anchor ? fmt(t.cpu / mid(anchor), 2) : '-']);
    row('FedAvg step (fwd+bwd+Adam)', await timeBoth(step({ mode: 'fedavg' }), runs), ANCHOR.fedavg);
    row('ELCFS step (1st order)', await timeBoth(step({ mode: 'elcfs' }), runs), ANCHOR.elcfs);
    if (ctx.flags['second-order']) row('ELCFS step (2nd order, fd-hvp)', await timeBoth(step({ mode: 'elcfs', secondOrder: 'fd-hvp' }), Math.min(runs, 2), 0));
    if (ctx.flags['profile']) {
      const names = Object.keys(weights);
      const fwd = await timeBoth(() => tf.tidy(() => void model.forward(weights, x).probs.dataSync()), runs, 1);
      const fb = await timeBoth(() => {
        const { value, grads } = valueAndGradsAllowUnused((...ws: tf.Tensor[]) => diceLoss(model.forward(Object.fromEntries(names.map((n, i) => [n, ws[i]!])), x).probs, y), names.map((n) => weights[n]!));
        value.dataSync();
        tf.dispose([value, ...grads]);
      }, runs, 1);
      row('profile: forward only', fwd);
      row('profile: forward+backward (Dice grads)', fb);
    }
    tf.dispose([x, y, ...meta, ...Object.values(weights)]);
    adam.dispose();
  }
  notes.push('Anchor: authors\' PyTorch (torch 1.13 CPU, 1 thread) on this machine type; ratio = ours / anchor midpoint (< 1 is faster).');
  notes.push('cpu ms = user+sys CPU time of this process per step (median): on a busy shared machine it approximates the idle-core wall time of single-threaded wasm.');
  notes.push(`Batch 5, 128x128x3, reference U-Net (3,179,890 params), median of ${runs} run(s) after 1 warm-up; ELCFS = inner Dice grad + meta Dice + boundary NT-Xent, one CFSI view.`);
  return [{ title: 'ELCFS / FedAvg training step, reference U-Net', columns: ['backend', 'step', 'wall ms', 'cpu ms', 'anchor ms', 'ratio wall', 'ratio cpu'], rows, notes }];
}
