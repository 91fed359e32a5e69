// ASC layer (ASCNet Eq. 3-6, core/models/asc-conv.ts) forward and forward+backward against a plain 3x3
// conv of the same shape: batch 2, 128x128, 32 -> 32 channels (target <= 4x the plain conv),
// plus whole-network train steps of the ASCNet experiment models (64x64, batch 2).
//   npm run bench -- --only asc                   # auto backend
//   npm run bench -- --only asc --backend wasm,cpu
//   --runs N (default 5); --size N (default 128); --steps-only / --layer-only
import { tf } from '../core/tf/tf.js';
import { describeBackend, initBackend, type BackendName } from '../core/backend.js';
import { ascConv2d, type AscImpl } from '../core/models/asc-conv.js';
import type { AscNetKind } from '../core/models/ascnet.js';
import { buildNetwork, trainableParamCount } from '../core/models/registry.js';
import { createSoftmaxTrainer } from '../core/train/softmax-step.js';
import { fmt, timeMedian, type BenchContext, type BenchTable } from './harness.js';

async function settle(f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  await Promise.all(list.map((t) => t.data()));
  tf.dispose(list);
}

async function layerTable(backend: string, size: number, runs: number): Promise<BenchTable> {
  const [B, H, W, C] = [2, size, size, 32];
  const x = tf.randomNormal([B, H, W, C], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, C, C], 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const bias = tf.zeros([C]) as tf.Tensor1D;
  const dy = tf.randomNormal([B, H, W, C], 0, 1, 'float32', 3) as tf.Tensor4D;
  const rate = tf.randomUniform([B, H, W, 1], 0.2, 3, 'float32', 4) as tf.Tensor4D;
  // A fresh rate buffer per call: the fused op caches bilinear corners per rate buffer (shared by all
  // ASC layers of a network), so "cold" is the cost of a single layer, "warm" of every further layer.
  const fresh = () => tf.add(rate, 0) as tf.Tensor4D;
  const conv = () => settle(() => tf.add(tf.conv2d(x, w, 1, 'same'), bias));
  const convFB = () => settle(() => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(tf.add(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), c), dy)))([x, w, bias]));
  const asc = (impl: AscImpl, warm: boolean) => () => settle(() => ascConv2d(x, warm ? rate : fresh(), w, bias, { impl }));
  const ascFB = (impl: AscImpl, warm: boolean) => () => settle(() => tf.grads((a: tf.Tensor, r: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(ascConv2d(a as tf.Tensor4D, r as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor1D, { impl }), dy)))([x, warm ? rate : fresh(), w, bias]));
  const rows: (string | number)[][] = [];
  const cf = await timeMedian(conv, runs);
  const cfb = await timeMedian(convFB, runs);
  rows.push(['plain conv2d 3x3 (dx, dW, db)', fmt(cf), fmt(cfb), '1.0', '1.0']);
  const impls: AscImpl[] = backend === 'wasm' || backend === 'cpu' ? ['fused', 'ops'] : ['ops'];
  for (const impl of impls) {
    for (const warm of impl === 'fused' ? [false, true] : [false]) {
      const f = await timeMedian(asc(impl, warm), runs);
      const fb = await timeMedian(ascFB(impl, warm), runs);
      rows.push([`ASC ${impl}${impl === 'fused' ? (warm ? ' (corners cached)' : ' (single layer)') : ''} (dx, dr, dW, db)`, fmt(f), fmt(fb), (f / cf).toFixed(2), (fb / cfb).toFixed(2)]);
    }
  }
  tf.dispose([x, w, bias, dy, rate]);
  return {
    title: `ASC layer vs plain 3x3 conv, ${backend}, batch ${B}, ${H}x${W}, ${C}->${C} (median ms of ${runs})`,
    columns: ['op', 'fwd ms', 'fwd+bwd ms', 'fwd ratio', 'fwd+bwd ratio'],
    rows,
    notes: ['target: ASC fwd+bwd <= 4x the plain conv', 'ratios are against the plain conv measured in the same run'],
  };
}

async function stepTable(backend: string, runs: number): Promise<BenchTable> {
  const rows: (string | number)[][] = [];
  const x = tf.randomUniform([2, 64, 64, 1], 0, 255, 'float32', 5) as tf.Tensor4D;
  const y = tf.randomUniform([2, 64, 64], 0, 3, 'int32', 6) as tf.Tensor3D;
  for (const kind of ['cnn-7', 'dilated-7', 'ascnet-7', 'ascnet-14'] as AscNetKind[]) {
    const net = buildNetwork({ kind, inChannels: 1, classes: 2 });
    const m = net.model as Parameters<typeof createSoftmaxTrainer>[0];
    const init = m.init(0);
    const tr = createSoftmaxTrainer(m, init);
    tf.dispose(Object.values(init));
    const ms = await timeMedian(() => tr.step(x, y), kind === 'ascnet-14' ? Math.min(runs, 3) : runs);
    rows.push([kind, trainableParamCount(net), fmt(ms)]);
    tr.dispose();
  }
  tf.dispose([x, y]);
  return { title: `ASCNet experiment models: one Adam step, batch 2, 64x64x1, 3 classes, ${backend}`, columns: ['model', 'params', 'ms/step'], rows };
}

export default async function (ctx: BenchContext): Promise<BenchTable[]> {
  const size = Number(ctx.flags.size ?? 128);
  const tables: BenchTable[] = [];
  for (const want of ctx.backends) {
    const report = await initBackend({ backend: want as BackendName | 'auto' });
    console.log(`asc bench on ${describeBackend(report)}`);
    if (!ctx.flags['steps-only']) tables.push(await layerTable(report.name, size, ctx.runs));
    if (!ctx.flags['layer-only']) tables.push(await stepTable(report.name, ctx.runs));
  }
  return tables;
}
