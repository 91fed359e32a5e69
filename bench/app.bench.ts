// App responsiveness: what an operator waits for in browser mode. Real engine on a temp SQLite file,
// real server, calls over the local WebSocket (JSON + base64 typed arrays, core/contract/wire-json.ts).
// Rows: API round trip, a 256x256 picture to the viewer, a spectrum, a CFSI preview, segmentation with a
// fresh (untrained) U-Net checkpoint at two sizes.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { decodeWire, encodeWire, type WireFrame } from '../core/contract/wire-json.js';
import { encodeWeights } from '../core/contract/weights.js';
import { buildNetwork } from '../core/models/registry.js';
import { startBrowserApp } from '../core/serve/serve-app.js';
import { tf } from '../core/tf/tf.js';
import { initBackend } from '../core/backend.js';
import { fmt, timeMedian, type BenchContext, type BenchTable } from './harness.js';

export default async function appBench(ctx: BenchContext): Promise<BenchTable[]> {
  await initBackend({ backend: 'wasm' });
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-app-bench-'));
  mkdirSync(join(dir, 'ui'));
  writeFileSync(join(dir, 'ui', 'index.html'), '<!doctype html>');
  const app = await startBrowserApp({ dbPath: join(dir, 'site.sqlite'), staticDir: join(dir, 'ui') });
  const ws = new WebSocket(`ws://127.0.0.1:${app.server.port}/${app.server.token}/api`, { origin: `http://127.0.0.1:${app.server.port}` });
  await new Promise((r) => ws.once('open', r));
  let id = 0;
  const waiting = new Map<number, (f: WireFrame) => void>();
  ws.on('message', (d) => {
    const f = decodeWire(d.toString()) as WireFrame;
    if (f.t === 'result') waiting.get(f.id)?.(f);
  });
  const call = (method: string, args: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const n = ++id;
      waiting.set(n, (f) => (f.t === 'result' && f.ok ? resolve(f.value) : reject(new Error(JSON.stringify(f)))));
      ws.send(encodeWire({ t: 'call', id: n, method, args }));
    });
  const rows: (string | number)[][] = [];
  try {
    for (const size of [64, 256]) {
      const r = (await call('generateDemoData', { kind: 'fundus', sites: 1, perSite: 4, size, seed: 1 })) as { datasets: { id: string }[] };
      const ds = r.datasets[0]!.id;
      const model = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 16, depth: 5 } }).model;
      const w = model.init(1);
      const arrays = Object.entries(w).map(([name, t]) => ({ name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) }));
      tf.dispose(Object.values(w));
      const ck = app.engine.store.saveCheckpoint({ name: `bench ${size}`, modelKind: 'unet', blob: encodeWeights(arrays), meta: { usable: true, model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 16, depth: 5 } } });
      await call('buildAmplitudeBank', { datasetId: ds, alpha: 0.01 });
      const bank = (await call('listAmplitudeBank', {})) as { id: string }[];
      const runs = ctx.runs;
      rows.push([`${size}x${size}`, 'listDatasets (round trip)', fmt(await timeMedian(() => call('listDatasets', {}), runs))]);
      rows.push([`${size}x${size}`, 'getSample (picture + mask)', fmt(await timeMedian(() => call('getSample', { datasetId: ds, index: 1 }), runs))]);
      rows.push([`${size}x${size}`, 'getSpectrum', fmt(await timeMedian(() => call('getSpectrum', { datasetId: ds, index: 1, alpha: 0.05 }), runs))]);
      rows.push([`${size}x${size}`, 'previewInterpolation (CFSI)', fmt(await timeMedian(() => call('previewInterpolation', { datasetId: ds, index: 1, bankId: bank.at(-1)!.id, lambda: 0.5 }), runs))]);
      rows.push([`${size}x${size}`, 'runSegmentation (U-Net base 16, + Dice/HD95)', fmt(await timeMedian(() => call('runSegmentation', { modelId: String(ck.id), datasetId: ds, index: 1 }), runs))]);
    }
  } finally {
    ws.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return [{ title: 'App API in browser mode (median ms, wasm backend)', columns: ['image', 'call', 'ms'], rows, notes: ['WebSocket on 127.0.0.1; typed arrays as base64 JSON; one fundus dataset per size'] }];
}
