// `fedseg data <generate|import|list|stats|rename|delete>`: the site's data catalogue from the
// command line. Built-in multi-site data is written either as the on-disk layouts the
// importers read (DoFE PNG folders, FedDG .npy, SAML-like NIfTI) or straight into a store; imports
// are all-or-nothing with a dry run; stats print per-dataset summaries and can write a thumbnail grid.
// Progress goes to stderr, results to stdout. Exit codes: the shared table (core/contract/exit-codes.ts;
// 7 when a dry run found problems). Commands that only read never create a store.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { intArg, needArg as need } from '../contract/cli-args.js';
import { FedSegError } from '../contract/errors.js';
import { describeFailure, EXIT, UsageError } from '../contract/exit-codes.js';
import { datasetStats, datasetThumbnailGrid } from '../data/stats.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { openStore, parse, type Opts } from './data-args.js';
import { cmdGenerate, cmdImport } from './data-generate-import.js';
import { HELP, USAGE } from './data-help.js';

export const summary = 'generate, import, list and inspect site datasets (SQLite store)';

type Values = Record<string, string | boolean | undefined>;

/**
 * Parses `fedseg data <sub>`, then runs `fn` on the existing --db store. `check` reads the flag values
 * that need no store (numbers) first, so a bad one is a usage error whatever --db says.
 */
function withStore<T, C>(sub: string, argv: string[], extra: Opts, fn: (store: DatasetStore, v: Values, checked: NoInfer<C>) => T, check?: (v: Values) => C): T | number {
  const { values: v } = parse(sub, argv, { db: { type: 'string' }, ...extra });
  if (v.help) {
    console.log(HELP[sub]);
    return EXIT.OK;
  }
  const checked = (check ? check(v) : null) as C;
  const store = openStore(need(v.db, 'db'), true);
  try {
    return fn(store, v, checked);
  } finally {
    store.close();
  }
}

function datasetArg(v: string | boolean | undefined): string | number {
  const s = need(v, 'dataset');
  return /^\d+$/.test(s) ? Number(s) : s;
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(3);
}

async function cmdStats(argv: string[]): Promise<number> {
  const r = withStore('stats', argv, { dataset: { type: 'string' }, grid: { type: 'string' }, 'grid-size': { type: 'string' }, 'grid-count': { type: 'string' }, json: { type: 'boolean' } }, (store, v, grid) => {
    const list = v.dataset !== undefined ? [store.getDataset(datasetArg(v.dataset))] : store.listDatasets();
    if (list.some((d) => d === null)) throw new FedSegError('NOT_FOUND', `dataset '${String(v.dataset)}' does not exist`);
    const stats = list.map((d) => datasetStats(store, d!.id));
    if (v.json) console.log(JSON.stringify(stats, null, 2));
    else {
      for (const s of stats) {
        const it = s.intensity;
        console.log(`${s.name} (id ${s.datasetId}, ${s.kind}): ${s.count} samples, ${s.channels} channel(s), sizes ${Object.entries(s.sizes).map(([k, n]) => `${k} x${n}`).join(', ') || '-'}`);
        console.log(`  splits ${Object.entries(s.splits).map(([k, n]) => `${k} ${n}`).join(', ') || '-'}; intensity ${it ? `min ${fmt(it.min)} max ${fmt(it.max)} mean ${fmt(it.mean)} std ${fmt(it.std)}` : '-'}`);
        console.log(`  ${s.classNames.map((c, i) => `${c}: ${(s.labelFractions[i]! * 100).toFixed(2)}% of pixels, ${s.emptyMasks[i]} empty`).join('; ')}; all-empty masks ${s.emptyAll}`);
        if (s.spacing) console.log(`  spacing ${s.spacing.min.join('x')} .. ${s.spacing.max.join('x')} mm`);
      }
      if (stats.length === 0) console.log('no datasets');
    }
    if (typeof v.grid === 'string') {
      if (list.length !== 1) throw new UsageError('--grid needs --dataset (the store has several datasets)');
      return { grid: v.grid, png: datasetThumbnailGrid(store, list[0]!.id, grid) };
    }
    return null;
  }, (v: Values) => ({ size: intArg(v['grid-size'], 'grid-size', { min: 8, max: 1024 }) ?? 96, limit: intArg(v['grid-count'], 'grid-count', { min: 1, max: 1024 }) ?? 16 }));
  if (r && typeof r === 'object') {
    await writeFile(r.grid, r.png);
    console.log(`wrote thumbnail grid ${resolve(r.grid)}`);
  }
  return EXIT.OK;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'generate':
        return await cmdGenerate(rest);
      case 'import':
        return await cmdImport(rest);
      case 'list':
        return withStore('list', rest, { json: { type: 'boolean' } }, (store, v) => {
          const ds = store.listDatasets();
          if (v.json) console.log(JSON.stringify(ds, null, 2));
          else if (ds.length === 0) console.log('no datasets');
          else for (const d of ds) console.log(`${String(d.id).padStart(4)}  ${d.name.padEnd(24)} ${d.kind.padEnd(9)} ${String(d.sampleCount).padStart(6)} samples  ${d.channels}ch  ${d.classNames.join('/')}`);
          return EXIT.OK;
        });
      case 'stats':
        return await cmdStats(rest);
      case 'rename':
        return withStore('rename', rest, { dataset: { type: 'string' }, to: { type: 'string' } }, (store, v) => {
          const d = store.getDataset(datasetArg(v.dataset));
          if (!d) throw new FedSegError('NOT_FOUND', `dataset '${String(v.dataset)}' does not exist`);
          console.log(`renamed '${d.name}' to '${store.renameDataset(d.id, need(v.to, 'to')).name}'`);
          return EXIT.OK;
        });
      case 'delete':
        return withStore('delete', rest, { dataset: { type: 'string' } }, (store, v) => {
          const d = store.getDataset(datasetArg(v.dataset));
          if (!d) throw new FedSegError('NOT_FOUND', `dataset '${String(v.dataset)}' does not exist`);
          store.deleteDataset(d.id);
          console.log(`deleted '${d.name}' (${d.sampleCount} samples)`);
          return EXIT.OK;
        });
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        // Without a subcommand there is nothing to do: a usage error.
        return sub ? EXIT.OK : EXIT.USAGE;
      default:
        throw new UsageError(`unknown subcommand '${sub}' (generate, import, list, stats, rename, delete; see fedseg data --help)`);
    }
  } catch (e) {
    const f = describeFailure(e, sub && HELP[sub] ? `fedseg data ${sub} --help` : 'fedseg data --help');
    console.error(`fedseg data: ${f.line}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return f.code;
  }
}
