// Runs one import in a fresh Node process and reports its peak memory, for the import-budget tests
// (docs/security.md §4 Import budgets): process.resourceUsage().maxRSS is the process's lifetime peak,
// so a fresh process per import measures that import alone, worker threads included.
// As a script: `node --import tsx test/helpers/measure-import.ts '<json>'` prints one JSON line.
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ImportReport } from '../../core/data/import/runner.js';

export interface MeasureRequest {
  format: 'folder' | 'nifti' | 'npy';
  /** Importer options (images/dir, dataset, convention, limits, decodeWorkers, skipBad, ...). */
  options: Record<string, unknown>;
  /** SQLite file to import into (default: an in-memory store). */
  db?: string;
}

export interface Measured {
  /** Peak resident set size growth during the import, in MiB. */
  peakRssGrowthMiB: number;
  /** ArrayBuffer memory still held after the import, minus before, in MiB. */
  arrayBuffersGrowthMiB: number;
  ms: number;
  report?: ImportReport;
  error?: { code: string; message: string };
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Spawns this file as a script for one import and returns what it measured. */
export function measureImport(req: MeasureRequest): Promise<Measured> {
  return new Promise((ok, fail) => {
    execFile(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(req)], { cwd: repo, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`measure-import failed: ${err.message}\n${stderr}`));
      ok(JSON.parse(stdout.trim().split('\n').pop()!) as Measured);
    });
  });
}

async function main(req: MeasureRequest): Promise<void> {
  const imp = (p: string) => import(pathToFileURL(join(repo, p)).href);
  const { importFolder } = await imp('core/data/import/folder.ts');
  const { importNifti, importNpy } = await imp('core/data/import/arrays.ts');
  const { openSqliteStore } = await imp('core/store/sqlite-store.ts');
  const { createMemoryStore } = await imp('core/store/memory-store.ts');
  const masks = await imp('core/data/masks.ts');
  const store = req.db ? openSqliteStore(req.db) : createMemoryStore();
  const options = { ...req.options };
  if (typeof options.convention === 'string') options.convention = masks[options.convention as string];
  const run = req.format === 'folder' ? importFolder : req.format === 'nifti' ? importNifti : importNpy;
  const before = process.memoryUsage();
  const peak0 = process.resourceUsage().maxRSS;
  const t0 = Date.now();
  const out: Measured = { peakRssGrowthMiB: 0, arrayBuffersGrowthMiB: 0, ms: 0 };
  try {
    out.report = await run(store, options);
  } catch (e) {
    out.error = { code: (e as { code?: string }).code ?? 'INTERNAL', message: (e as Error).message };
  }
  out.ms = Date.now() - t0;
  out.peakRssGrowthMiB = (process.resourceUsage().maxRSS - peak0) / 1024;
  out.arrayBuffersGrowthMiB = (process.memoryUsage().arrayBuffers - before.arrayBuffers) / 2 ** 20;
  store.close?.();
  process.stdout.write(JSON.stringify(out) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(JSON.parse(process.argv[2]!) as MeasureRequest);
}
