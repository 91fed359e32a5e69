// Import throughput: 256x256 RGB PNG images with REFUGE grey-level PNG masks, imported
// through importFolder (read, decode, validate, encode, stage, one-transaction commit) into a fresh
// SQLite file. Target >= 200 images/s. The default row decodes in the importing thread (png-fast.ts);
// the worker row starts a decode pool as JPEG imports do (its start-up is part of the import). Also
// reports the stages separately (PNG decode of a pair, store-only insert of decoded samples) to show
// where the time goes, and a generate->write rate.
// Flags: --count N (pairs, default 200), --size N (default 256).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultDecodeWorkers } from '../core/data/codecs/decode-pool.js';
import { decodeImageFile } from '../core/data/codecs/image-file.js';
import { writeDofeLayout } from '../core/data/export.js';
import { importFolder } from '../core/data/import/folder.js';
import { REFUGE } from '../core/data/masks.js';
import { generateFundusSite } from '../core/data/synthetic/fundus.js';
import { openSqliteStore } from '../core/store/sqlite-store.js';
import { fmt, timeMedian, type BenchContext, type BenchTable } from './harness.js';

export default async function importBench(ctx: BenchContext): Promise<BenchTable[]> {
  const count = Number(ctx.flags.count ?? 200);
  const size = Number(ctx.flags.size ?? 256);
  const runs = Math.max(1, Math.min(ctx.runs, 3));
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-import-bench-'));
  try {
    const tg = performance.now();
    const site = generateFundusSite(0, { perSite: count, size, seed: 0 });
    const genMs = performance.now() - tg;
    const tw = performance.now();
    await writeDofeLayout([site], dir, { testFraction: 0 });
    const writeMs = performance.now() - tw;
    const imgDir = join(dir, site.site, 'train/ROIs/image');
    const maskDir = join(dir, site.site, 'train/ROIs/mask');

    let k = 0;
    /** Median wall ms and CPU ms (all threads, process.cpuUsage) of an import with `workers` decode threads. */
    const runImport = async (workers: number | undefined): Promise<{ wall: number; cpu: number }> => {
      const cpus: number[] = [];
      const wall = await timeMedian(async () => {
        const db = join(dir, `bench-${k++}.sqlite`);
        const store = openSqliteStore(db);
        const c0 = process.cpuUsage();
        const r = await importFolder(store, { images: imgDir, masks: maskDir, convention: REFUGE, dataset: 'bench', decodeWorkers: workers });
        const c = process.cpuUsage(c0);
        cpus.push((c.user + c.system) / 1000);
        if (r.datasets[0]!.samples !== count) throw new Error(`imported ${r.datasets[0]!.samples} of ${count}`);
        store.close();
        for (const ext of ['', '-wal', '-shm']) rmSync(db + ext, { force: true });
      }, runs, 1);
      cpus.sort((a, b) => a - b);
      return { wall, cpu: cpus[cpus.length >> 1]! };
    };
    const byDefault = await runImport(undefined);
    const workers = Math.max(1, defaultDecodeWorkers());
    const pooled = await runImport(workers);
    const importMs = byDefault.wall;

    const first = site.samples[0]!.name;
    const imgBuf = readFileSync(join(imgDir, `${first}.png`));
    const maskBuf = readFileSync(join(maskDir, `${first}.png`));
    const decodeMs = await timeMedian(() => {
      decodeImageFile(imgBuf, 'img');
      decodeImageFile(maskBuf, 'mask');
    }, 20, 3);

    let j = 0;
    const storeMs = await timeMedian(() => {
      const db = join(dir, `store-${j++}.sqlite`);
      const store = openSqliteStore(db);
      const d = store.createDataset({ name: 'bench', channels: 3, classes: 2 });
      store.addSamples(d.id, site.samples);
      store.close();
      for (const ext of ['', '-wal', '-shm']) rmSync(db + ext, { force: true });
    }, runs, 1);

    const rate = (count * 1000) / importMs;
    return [{
      title: `Import throughput: ${count} ${size}x${size} PNG pairs (RGB image + REFUGE mask) into a file DB`,
      columns: ['stage', 'wall', 'per pair', 'pairs/s', 'CPU ms/pair', 'target'],
      rows: [
        ['importFolder (default: in-thread decode, inflate on libuv)', `${fmt(importMs)} ms`, `${fmt(importMs / count, 2)} ms`, fmt(rate), fmt(byDefault.cpu / count, 2),
          `>= 200/s ${rate >= 200 ? 'PASS' : 'MISS'}`],
        [`importFolder, ${workers} decode worker(s) (JPEG's default)`, `${fmt(pooled.wall)} ms`, `${fmt(pooled.wall / count, 2)} ms`, fmt((count * 1000) / pooled.wall), fmt(pooled.cpu / count, 2), ''],
        ['  PNG decode of one pair', '', `${fmt(decodeMs, 2)} ms`, fmt(1000 / decodeMs), '', ''],
        ['  store.addSamples only (decoded)', `${fmt(storeMs)} ms`, `${fmt(storeMs / count, 2)} ms`, fmt((count * 1000) / storeMs), '', ''],
        ['generate fundus (not import)', `${fmt(genMs)} ms`, `${fmt(genMs / count, 2)} ms`, fmt((count * 1000) / genMs), '', ''],
        ['write DoFE PNGs (not import)', `${fmt(writeMs)} ms`, `${fmt(writeMs / count, 2)} ms`, fmt((count * 1000) / writeMs), '', ''],
      ],
      notes: [
        `median of ${runs} run(s); Node ${process.version}; ${availableParallelism()} core(s), load average ${loadavg()[0]!.toFixed(1)} at the end; WAL, synchronous=NORMAL`,
        'read + decode + validate + encode + stage in a TEMP table + one-transaction commit; CPU counts every thread (workers included)',
      ],
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
