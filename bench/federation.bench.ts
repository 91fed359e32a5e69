// Federation benchmarks: the hub's streaming FedAvg of 50 updates of the reference U-Net
// (3,179,890 float32 params; target < 1 s) with its peak extra memory, and one weight message round
// trip hub -> site -> hub over loopback WebSocket (float32 and float16 frames). The aggregation row has a
// baseline measured in the same run when /usr/bin/python3 has numpy (bench/anchors/numpy_fedavg.py: the
// same checks and float64 weighted sum in numpy, one thread; docs/measured.md §10 CPU against PyTorch),
// samples alternating with FedSeg's; --no-anchor skips it.
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { decodeMessage, encodeMessage, type HubMessage } from '../core/contract/hub-protocol.js';
import type { NamedArray } from '../core/contract/weights.js';
import { unetWeightShapes } from '../core/models/unet.js';
import { FedAvgAccumulator } from '../federation-hub/weighted-average.js';
import { fmt, timeMedian, type BenchContext, type BenchTable } from './harness.js';
import { AnchorWorker, FIXED_ANCHOR_LABEL, anchorSample, interleave, oursSample, startAnchor, threadEnv } from './anchor.js';

function model(seed: number): NamedArray[] {
  let s = seed >>> 0;
  return unetWeightShapes({ inChannels: 3, classes: 2 }).map((w) => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      data[i] = (s / 2 ** 32 - 0.5) * 0.1;
    }
    return { name: w.name, shape: w.shape, data };
  });
}

const MB = 1024 * 1024;
const hash = '0'.repeat(64);

export default async function (ctx: BenchContext): Promise<BenchTable[]> {
  const K = Number(ctx.flags.updates ?? 50);
  const theta = model(1);
  const params = theta.reduce((a, g) => a + g.data.length, 0);
  const updates = [model(2), model(3)]; // two distinct updates, alternated (cost per add does not depend on values)
  const frames = updates.map((u) => encodeMessage({ kind: 'train_res', round: 1, globalHash: hash, numSamples: 10, metrics: {} }, u).data as Uint8Array);
  const rows: (string | number)[][] = [];

  // 1. aggregation only (updates already decoded)
  (globalThis as { gc?: () => void }).gc?.();
  let peak = 0;
  const aggOnly = await timeMedian(() => {
    peak = 0;
    const base = process.memoryUsage().arrayBuffers;
    const acc = new FedAvgAccumulator(theta);
    for (let k = 0; k < K; k++) {
      acc.add(updates[k % 2]!, 10 + k);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }
    return acc.result();
  }, Math.min(ctx.runs, 3), 1);
  rows.push([`FedAvg of ${K} decoded updates`, params, fmt(aggOnly), fmt(aggOnly / K, 2), fmt(peak / MB)]);

  // 1b. the same average in numpy (checks + float64 weighted sum), alternating with FedSeg's samples.
  const anchorNotes: string[] = [];
  const started = ctx.flags['no-anchor'] ? { unavailable: '--no-anchor' } : await startAnchor('numpy_fedavg.py', threadEnv(1));
  if (started instanceof AnchorWorker) {
    try {
      const set = await started.call({ op: 'setup', shapes: theta.map((g) => ({ name: g.name, shape: g.shape })), seed: 1 });
      if (set.params !== params) throw new Error(`numpy model has ${String(set.params)} params, FedSeg's ${params}`);
      const ours = () => {
        const acc = new FedAvgAccumulator(theta);
        for (let k = 0; k < K; k++) acc.add(updates[k % 2]!, 10 + k);
        return acc.result();
      };
      const r = await interleave(oursSample(ours), anchorSample(started, { updates: K }), Math.min(ctx.runs, 3), 1);
      rows.push([`  same, interleaved: FedSeg hub`, params, fmt(r.ours.wall), fmt(r.ours.wall / K, 2), '-']);
      rows.push([`  same, interleaved: numpy ${String(started.hello.numpy)} (1 thread)`, params, fmt(r.theirs.wall), fmt(r.theirs.wall / K, 2), '-']);
      anchorNotes.push(`FedSeg / numpy = ${fmt(r.ours.wall / r.theirs.wall, 2)} (wall, medians of samples alternating FedSeg, numpy, ...; numpy: names/shapes check, float64 delta norm as the finiteness check, float64 weighted sum, as federation-hub/weighted-average.ts).`);
    } catch (e) {
      anchorNotes.push(`numpy anchor failed (${(e as Error).message}): ${FIXED_ANCHOR_LABEL} (numpy with the same checks: 542-545 ms for 50 updates, docs/measured.md §10).`);
    } finally {
      await started.close();
    }
  } else {
    anchorNotes.push(`numpy anchor unavailable (${started.unavailable}): ${FIXED_ANCHOR_LABEL} (numpy with the same checks: 542-545 ms for 50 updates, docs/measured.md §10).`);
  }

  // 2. what the hub does per arriving frame: decode + validate + fold in
  peak = 0;
  const base2 = process.memoryUsage().arrayBuffers;
  const withDecode = await timeMedian(() => {
    const acc = new FedAvgAccumulator(theta);
    for (let k = 0; k < K; k++) {
      const f = decodeMessage(frames[k % 2]!, true);
      acc.add(f.arrays!, 10 + k);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base2);
    }
    return acc.result();
  }, 1, 0);
  rows.push([`decode + check + FedAvg of ${K} frames`, params, fmt(withDecode), fmt(withDecode / K, 2), fmt(peak / MB)]);

  // 3. one weight message round trip over loopback ws
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 256 * MB });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d: Buffer, bin) => {
    // the "site": decode the global model, send the same weights back as its update
    const f = decodeMessage(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), bin);
    const dtype = (f.msg as { mode?: string }).mode === 'elcfs' ? 'float16' : 'float32';
    ws.send(encodeMessage({ kind: 'train_res', round: 1, globalHash: hash, numSamples: 1, metrics: {} }, f.arrays!, { dtype }).data);
  }));
  const port = (wss.address() as { port: number }).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: 256 * MB });
  await new Promise<void>((r) => client.once('open', () => r()));
  const rt: [string, number, number][] = [];
  for (const dtype of ['float32', 'float16'] as const) {
    // mode is only a flag telling the echo side which dtype to answer with
    const msg: HubMessage = { kind: 'train_ins', round: 1, mode: dtype === 'float16' ? 'elcfs' : 'fedavg', globalHash: hash, deadline: 0, timeLeftMs: 0 };
    let bytes = 0;
    const t = await timeMedian(async () => {
      const e = encodeMessage(msg, theta, { dtype });
      bytes = e.bytes;
      const back = new Promise<Buffer>((r) => client.once('message', (d: Buffer) => r(d)));
      client.send(e.data);
      const d = await back;
      decodeMessage(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), true);
    }, Math.min(ctx.runs, 5), 1);
    rt.push([dtype, bytes, t]);
  }
  client.close();
  await new Promise<void>((r) => wss.close(() => r()));
  void performance;
  return [
    {
      title: `Hub FedAvg (streaming, O(params) memory), ${K} updates of the reference U-Net`,
      columns: ['what', 'params', 'total ms', 'ms / update', 'peak extra ArrayBuffer MB'],
      rows,
      notes: [`peak extra = ArrayBuffer growth during the last run (includes garbage not yet collected); ` +
        `one float32 copy of the model = ${fmt((params * 4) / MB)} MB; the accumulator is float64 (${fmt((params * 8) / MB)} MB); target < 1000 ms for ${K} updates`, ...anchorNotes],
    },
    {
      title: 'Weight message round trip over loopback ws (encode -> send -> site decodes + re-encodes -> hub decodes)',
      columns: ['dtype', 'frame bytes', 'round trip ms'],
      rows: rt.map(([d, b, t]) => [d, b, fmt(t)]),
    },
  ];
}
