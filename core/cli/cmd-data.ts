// `fedseg data <generate|import|list|stats|rename|delete>`: the site's data catalogue from the
// command line. Built-in multi-site data is written either as the on-disk layouts the
// importers read (DoFE PNG folders, FedDG .npy, SAML-like NIfTI) or straight into a store; imports
// are all-or-nothing with a dry run; stats print per-dataset summaries and can write a thumbnail grid.
// Progress goes to stderr, results to stdout. Exit codes: 0 ok, 1 error, 2 bad arguments,
// 3 dry run found problems, 130 interrupted.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { writeBinaryMaskFolder, writeDofeLayout, writeNiftiLayout, writeNpyLayout, type SiteSamples } from '../data/export.js';
import { importNifti, importNpy } from '../data/import/arrays.js';
import { importDofe, importFolder } from '../data/import/folder.js';
import type { ImportProgress, ImportReport } from '../data/import/runner.js';
import { FUNDUS_BINARY, FUNDUS_LABELMAP, type MaskConvention } from '../data/masks.js';
import { datasetStats, datasetThumbnailGrid } from '../data/stats.js';
import { generateFundusSite } from '../data/synthetic/fundus.js';
import { generateProstateSite } from '../data/synthetic/prostate.js';
import type { DatasetStore, SampleSplit } from '../store/dataset-store.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export const summary = 'generate, import, list and inspect site datasets (SQLite store)';

const USAGE = `usage: fedseg data <subcommand> [options]   (fedseg data <subcommand> --help)

  generate   built-in multi-site data (fundus | prostate) as files (--out) or into a store (--db)
  import     PNG/JPEG folders with masks, DoFE layout, FedDG .npy, NIfTI volumes (all-or-nothing)
  list       datasets in a store
  stats      per-dataset statistics (and a thumbnail grid PNG with mask overlays)
  rename     rename a dataset
  delete     delete a dataset and its samples

exit codes: 0 ok, 1 error, 2 bad arguments, 3 dry run found problems, 130 interrupted`;

const HELP: Record<string, string> = {
  generate: `usage: fedseg data generate --kind fundus|prostate (--out DIR | --db FILE) [options]

  --kind K          fundus (RGB, disc + cup) or prostate (1-channel MRI-like, gland)
  --sites N         number of sites (default 4; fundus 1-4 / prostate 1-6 have fixed styles, more are random)
  --per-site N      samples (fundus images / prostate slices) per site (default 60)
  --size N          square image size in pixels (default 128)
  --seed N          seed (default 0); the same seed gives byte-identical data
  --depth N         prostate: slices per volume (default 20)
  --out DIR         write files: fundus -> DoFE layout DomainK/{train,test}/ROIs/{image,mask}/*.png,
                    prostate -> <site>/<case>.nii.gz + <case>_segmentation.nii.gz
  --format F        with --out: dofe | binary | npy (fundus), nifti | npy (prostate)
  --test-fraction F fundus DoFE layout: fraction of each site written to test/ (default 0.2)
  --db FILE         write straight into a store, one dataset per site
  --prefix P        dataset name prefix with --db (default '')`,
  import: `usage: fedseg data import --db FILE --format FMT PATH [options]

  --format FMT      folder | dofe | npy | nifti
  PATH              folder: the images folder; dofe: the folder holding DomainK/; npy/nifti: the folder of files
  --name NAME       dataset name (required except for dofe)
  --masks DIR       folder: masks folder (default: PATH, masks told apart by suffix)
  --convention C    folder: labelmap | refuge | binary (default refuge)
  --classes SPEC    labelmap/nifti: label values per class, ';' between classes, e.g. "1,2;2" (fundus
                    disc incl. cup; cup) or "1,2" (SAML prostate labels merged); default fundus / all non-zero
  --class-names L   comma-separated class names
  --structures SPEC binary: "suffix:name,..." (default "-Disc-T:disc,-Cup-T:cup")
  --tolerance N     refuge/binary: grey-level tolerance (default 0)
  --channels 1|3    folder: image channels (default: from the first image)
  --image-channels N npy: image channels at the front of the last axis (default 3 if it has 5, else 1)
  --split S         train | test | val for every imported sample (dofe keeps its own)
  --prefix P        dofe: dataset name prefix
  --resize WxH      resize on import (images bilinear, masks nearest), e.g. 128x128
  --no-zscore       nifti: keep raw intensities (default: per-volume z-score)
  --skip-empty      nifti: drop slices with an empty label
  --dry-run         validate and report only; writes nothing (exit 3 if problems were found)
  --kind K          dataset kind label (fundus, prostate, ...)`,
  list: `usage: fedseg data list --db FILE [--json]`,
  stats: `usage: fedseg data stats --db FILE [--dataset NAME|ID] [--grid FILE.png] [--grid-size N] [--json]

  --dataset D       one dataset (default: all)
  --grid FILE       write a thumbnail grid PNG with mask overlays (needs --dataset unless there is one dataset)
  --grid-size N     thumbnail cell size in pixels (default 96); --grid-count N thumbnails (default 16)`,
  rename: `usage: fedseg data rename --db FILE --dataset NAME|ID --to NEW_NAME`,
  delete: `usage: fedseg data delete --db FILE --dataset NAME|ID`,
};

type Opts = ParseArgsConfig['options'];

function parse(argv: string[], options: Opts, positionals = false): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', (e as Error).message.split('\n')[0]!);
  }
}

function int(v: string | boolean | undefined, name: string, def: number, lo = 0, hi = 1e9): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < lo || n > hi) throw new FedSegError('INVALID_ARGUMENT', `--${name} must be an integer in [${lo}, ${hi}], got '${String(v)}'`);
  return n;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function need(v: string | boolean | undefined, name: string): string {
  if (typeof v !== 'string' || v === '') throw new FedSegError('INVALID_ARGUMENT', `--${name} is required`);
  return v;
}

function parseClasses(spec: string): number[][] {
  const classes = spec.split(';').map((c) => c.split(',').map((v) => Number(v.trim())));
  if (classes.some((c) => c.length === 0 || c.some((v) => !Number.isInteger(v) || v <= 0))) {
    throw new FedSegError('INVALID_ARGUMENT', `--classes '${spec}': expected positive integer labels, ',' within a class and ';' between classes (e.g. "1,2;2")`);
  }
  return classes;
}

function parseResize(spec: string | undefined): { width: number; height: number } | null {
  if (spec === undefined) return null;
  const m = /^(\d+)x(\d+)$/.exec(spec);
  if (!m) throw new FedSegError('INVALID_ARGUMENT', `--resize '${spec}': expected WxH, e.g. 128x128`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

function parseSplit(v: string | undefined): SampleSplit | null {
  if (v === undefined) return null;
  if (v !== 'train' && v !== 'test' && v !== 'val') throw new FedSegError('INVALID_ARGUMENT', `--split must be train, test or val, got '${v}'`);
  return v;
}

/** Progress on stderr: a redrawn line on a TTY, a line per 10% otherwise. */
function progressLine(label: string): { update(done: number, total: number, extra?: string): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  let shown = false;
  return {
    update(done, total, extra = '') {
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      const text = `${label} ${done}/${total} (${pct}%)${extra ? ` ${extra}` : ''}`;
      if (tty) {
        process.stderr.write(`\r\x1b[K${text}`);
        shown = true;
      } else if (Math.floor(pct / 10) !== lastDecile) {
        lastDecile = Math.floor(pct / 10);
        process.stderr.write(`${text}\n`);
      }
    },
    end() {
      if (tty && shown) process.stderr.write('\n');
    },
  };
}

/**
 * Opens a site store. `mustExist` for commands that only read or change what is there (list, stats,
 * rename, delete, a dry run): a mistyped --db is an error, never a new empty store.
 */
function openStore(path: string, mustExist = false): DatasetStore {
  if (mustExist && !existsSync(path)) throw new FedSegError('NOT_FOUND', `store ${path} does not exist (check --db; \`fedseg data import\` or \`fedseg data generate --db\` creates one)`);
  return openSqliteStore(resolve(path));
}

async function cmdGenerate(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    kind: { type: 'string' }, sites: { type: 'string' }, 'per-site': { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' },
    depth: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, 'test-fraction': { type: 'string' }, db: { type: 'string' },
    prefix: { type: 'string' },
  });
  if (v.help) {
    console.log(HELP.generate);
    return 0;
  }
  const kind = need(v.kind, 'kind');
  if (kind !== 'fundus' && kind !== 'prostate') throw new FedSegError('INVALID_ARGUMENT', `--kind must be fundus or prostate, got '${kind}'`);
  const sites = int(v.sites, 'sites', 4, 1, 64);
  const perSite = int(v['per-site'], 'per-site', 60, 1, 100000);
  const size = int(v.size, 'size', 128, 16, 2048);
  const seed = int(v.seed, 'seed', 0, 0, 2 ** 32 - 1);
  const out = str(v.out);
  const db = str(v.db);
  if (!out === !db) throw new FedSegError('INVALID_ARGUMENT', 'give exactly one of --out DIR or --db FILE');
  const format = str(v.format) ?? (kind === 'fundus' ? 'dofe' : 'nifti');
  const okFormats = kind === 'fundus' ? ['dofe', 'binary', 'npy'] : ['nifti', 'npy'];
  if (out && !okFormats.includes(format)) throw new FedSegError('INVALID_ARGUMENT', `--format for ${kind} must be one of ${okFormats.join(', ')}, got '${format}'`);
  const tf = v['test-fraction'] === undefined ? 0.2 : Number(v['test-fraction']);
  if (!(tf >= 0 && tf <= 1)) throw new FedSegError('INVALID_ARGUMENT', `--test-fraction must be in [0, 1], got '${String(v['test-fraction'])}'`);

  const t0 = performance.now();
  const data: (SiteSamples & { channels: number; classes: number; classNames: string[] })[] = [];
  const pg = progressLine('generate');
  for (let k = 0; k < sites; k++) {
    // One site at a time (the generators are deterministic per site).
    if (kind === 'fundus') {
      const s = generateFundusSite(k, { perSite, size, seed });
      data.push({ site: s.site, samples: s.samples, channels: 3, classes: 2, classNames: ['disc', 'cup'] });
    } else {
      const s = generateProstateSite(k, { perSite, size, seed, depth: int(v.depth, 'depth', 20, 3, 512) });
      data.push({ site: s.site, samples: s.samples, channels: 1, classes: 1, classNames: ['gland'] });
    }
    pg.update(k + 1, sites, `sites (${data[k]!.site})`);
  }
  pg.end();
  if (out) {
    const w = progressLine('write');
    const onProgress = (d: number, t: number): void => w.update(d, t, 'samples');
    let files: string[];
    if (format === 'dofe') files = await writeDofeLayout(data, out, { testFraction: tf, onProgress });
    else if (format === 'npy') files = await writeNpyLayout(data, out, { onProgress });
    else if (format === 'nifti') files = await writeNiftiLayout(data, out, { onProgress });
    else {
      files = [];
      for (const s of data) files.push(...(await writeBinaryMaskFolder(s, out, ['-Disc-T', '-Cup-T'])));
    }
    w.end();
    console.log(`wrote ${files.length} files for ${sites} ${kind} site(s) x ${perSite} to ${resolve(out)} (${format}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return 0;
  }
  const store = openStore(db!);
  try {
    const prefix = str(v.prefix) ?? '';
    const infos = store.transaction(() => data.map((s) => {
      const d = store.createDataset({
        name: `${prefix}${s.site}`, kind, source: `synthetic:${kind} seed=${seed} size=${size}`, channels: s.channels, classes: s.classes,
        classNames: s.classNames, meta: { synthetic: true, seed, size, site: s.site },
      });
      const cut = kind === 'fundus' ? s.samples.length - Math.round(s.samples.length * tf) : s.samples.length;
      store.addSamples(d.id, s.samples.map((x, i) => ({ ...x, split: i < cut ? 'train' : 'test' })));
      return store.getDataset(d.id)!;
    }));
    for (const d of infos) console.log(`${d.name}\t${d.sampleCount} samples`);
    console.log(`stored ${infos.length} dataset(s) in ${resolve(db!)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    store.close();
  }
  return 0;
}

function printReport(r: ImportReport): void {
  for (const d of r.datasets) {
    const sizes = Object.entries(d.sizes).map(([k, n]) => `${k} x${n}`).join(', ');
    const splits = Object.entries(d.splits).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`${r.dryRun ? 'would import' : 'imported'} ${d.name}: ${d.samples} samples, ${d.channels} channel(s), classes ${d.classNames.join('/')}; sizes ${sizes || '-'}; splits ${splits || '-'}`);
  }
  if (r.skipped.length) {
    console.log(`skipped ${r.skipped.length} file(s):`);
    for (const s of r.skipped.slice(0, 50)) console.log(`  ${s.file}: ${s.reason}`);
    if (r.skipped.length > 50) console.log(`  ... and ${r.skipped.length - 50} more`);
  }
  if (r.problems.length) {
    console.log(`${r.problems.length} problem(s) would make the import fail:`);
    for (const p of r.problems) console.log(`  ${p.message.startsWith(p.file) ? p.message : `${p.file}: ${p.message}`}`);
  }
}

async function cmdImport(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    db: { type: 'string' }, format: { type: 'string' }, name: { type: 'string' }, masks: { type: 'string' }, convention: { type: 'string' },
    classes: { type: 'string' }, 'class-names': { type: 'string' }, structures: { type: 'string' }, tolerance: { type: 'string' },
    channels: { type: 'string' }, 'image-channels': { type: 'string' }, split: { type: 'string' }, prefix: { type: 'string' },
    resize: { type: 'string' }, 'no-zscore': { type: 'boolean' }, 'skip-empty': { type: 'boolean' }, 'dry-run': { type: 'boolean' },
    kind: { type: 'string' },
  }, true);
  if (v.help) {
    console.log(HELP.import);
    return 0;
  }
  if (positionals.length !== 1) throw new FedSegError('INVALID_ARGUMENT', `give exactly one PATH to import (got ${positionals.length})`);
  const path = positionals[0]!;
  const format = need(v.format, 'format');
  const dryRun = v['dry-run'] === true;
  const db = dryRun ? str(v.db) : need(v.db, 'db');
  const classNames = str(v['class-names'])?.split(',').map((s) => s.trim());
  const tolerance = int(v.tolerance, 'tolerance', 0, 0, 127);
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  const pg = progressLine(dryRun ? 'check' : 'import');
  const common = {
    dryRun, signal: ac.signal, resize: parseResize(str(v.resize)),
    onProgress: (p: ImportProgress) => {
      if (p.phase === 'read') pg.update(p.done, p.total, 'files');
      else if (p.phase === 'commit') {
        pg.end();
        process.stderr.write(`committing ${p.samples} samples...\n`);
      }
    },
  };
  // A dry run never creates a store: against a store that does not exist yet it checks the files alone
  // (and says so), so a mistyped --db leaves nothing behind.
  const missing = dryRun && db !== undefined && !existsSync(db);
  if (missing) process.stderr.write(`note: store ${db} does not exist; checking the files only (an import would create it)\n`);
  const store = db && !missing ? openStore(db) : null;
  let report: ImportReport;
  try {
    switch (format) {
      case 'folder': {
        const conv = str(v.convention) ?? 'refuge';
        let convention: MaskConvention;
        if (conv === 'refuge') convention = { kind: 'refuge', tolerance };
        else if (conv === 'labelmap') {
          const spec = str(v.classes);
          convention = spec ? { kind: 'labelmap', classes: parseClasses(spec), classNames } : { ...FUNDUS_LABELMAP, ...(classNames ? { classNames } : {}) } as MaskConvention;
        } else if (conv === 'binary') {
          const spec = str(v.structures);
          const structures = spec
            ? spec.split(',').map((p) => {
              const [suffix, name] = p.split(':');
              if (!suffix) throw new FedSegError('INVALID_ARGUMENT', `--structures '${spec}': expected "suffix:name,..."`);
              return { suffix, name: name ?? suffix };
            })
            : (FUNDUS_BINARY as Extract<MaskConvention, { kind: 'binary' }>).structures;
          convention = { kind: 'binary', structures, tolerance };
        } else throw new FedSegError('INVALID_ARGUMENT', `--convention must be labelmap, refuge or binary, got '${conv}'`);
        const ch = v.channels === undefined ? undefined : int(v.channels, 'channels', 3, 1, 3);
        if (ch === 2) throw new FedSegError('INVALID_ARGUMENT', '--channels must be 1 or 3');
        report = await importFolder(store, {
          ...common, images: path, masks: str(v.masks), convention, dataset: need(v.name, 'name'), kind: str(v.kind), split: parseSplit(str(v.split)),
          channels: ch as 1 | 3 | undefined,
        });
        break;
      }
      case 'dofe':
        report = await importDofe(store, { ...common, root: path, prefix: str(v.prefix), tolerance });
        break;
      case 'npy':
        report = await importNpy(store, {
          ...common, dir: path, dataset: need(v.name, 'name'), kind: str(v.kind), classNames, split: parseSplit(str(v.split)),
          imageChannels: v['image-channels'] === undefined ? undefined : int(v['image-channels'], 'image-channels', 3, 1, 64),
        });
        break;
      case 'nifti':
        report = await importNifti(store, {
          ...common, dir: path, dataset: need(v.name, 'name'), kind: str(v.kind), classNames, split: parseSplit(str(v.split)),
          classes: str(v.classes) ? parseClasses(str(v.classes)!) : undefined, zscore: v['no-zscore'] !== true, keepEmpty: v['skip-empty'] !== true,
        });
        break;
      default:
        throw new FedSegError('INVALID_ARGUMENT', `--format must be folder, dofe, npy or nifti, got '${format}'`);
    }
  } finally {
    pg.end();
    process.removeListener('SIGINT', onSig);
    store?.close();
  }
  printReport(report);
  return dryRun && report.problems.length ? 3 : 0;
}

function withStore<T>(argv: string[], extra: Opts, help: string, fn: (store: DatasetStore, v: Record<string, string | boolean | undefined>) => T): T | number {
  const { values: v } = parse(argv, { db: { type: 'string' }, ...extra });
  if (v.help) {
    console.log(help);
    return 0;
  }
  const store = openStore(need(v.db, 'db'), true);
  try {
    return fn(store, v);
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
  const r = withStore(argv, { dataset: { type: 'string' }, grid: { type: 'string' }, 'grid-size': { type: 'string' }, 'grid-count': { type: 'string' }, json: { type: 'boolean' } }, HELP.stats!, (store, v) => {
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
      if (list.length !== 1) throw new FedSegError('INVALID_ARGUMENT', '--grid needs --dataset (the store has several datasets)');
      return { grid: v.grid, png: datasetThumbnailGrid(store, list[0]!.id, { size: int(v['grid-size'], 'grid-size', 96, 8, 1024), limit: int(v['grid-count'], 'grid-count', 16, 1, 1024) }) };
    }
    return null;
  });
  if (r && typeof r === 'object') {
    await writeFile(r.grid, r.png);
    console.log(`wrote thumbnail grid ${resolve(r.grid)}`);
  }
  return 0;
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
        return withStore(rest, { json: { type: 'boolean' } }, HELP.list!, (store, v) => {
          const ds = store.listDatasets();
          if (v.json) console.log(JSON.stringify(ds, null, 2));
          else if (ds.length === 0) console.log('no datasets');
          else for (const d of ds) console.log(`${String(d.id).padStart(4)}  ${d.name.padEnd(24)} ${d.kind.padEnd(9)} ${String(d.sampleCount).padStart(6)} samples  ${d.channels}ch  ${d.classNames.join('/')}`);
          return 0;
        });
      case 'stats':
        return await cmdStats(rest);
      case 'rename':
        return withStore(rest, { dataset: { type: 'string' }, to: { type: 'string' } }, HELP.rename!, (store, v) => {
          const d = store.getDataset(datasetArg(v.dataset));
          if (!d) throw new FedSegError('NOT_FOUND', `dataset '${String(v.dataset)}' does not exist`);
          console.log(`renamed '${d.name}' to '${store.renameDataset(d.id, need(v.to, 'to')).name}'`);
          return 0;
        });
      case 'delete':
        return withStore(rest, { dataset: { type: 'string' } }, HELP.delete!, (store, v) => {
          const d = store.getDataset(datasetArg(v.dataset));
          if (!d) throw new FedSegError('NOT_FOUND', `dataset '${String(v.dataset)}' does not exist`);
          store.deleteDataset(d.id);
          console.log(`deleted '${d.name}' (${d.sampleCount} samples)`);
          return 0;
        });
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        return sub ? 0 : 2;
      default:
        throw new FedSegError('INVALID_ARGUMENT', `unknown subcommand '${sub}' (generate, import, list, stats, rename, delete)`);
    }
  } catch (e) {
    const ev = toErrorValue(e);
    const hint = ev.code === 'INVALID_ARGUMENT' && sub && HELP[sub] ? ` (see fedseg data ${sub} --help)` : '';
    console.error(`fedseg data: ${ev.message}${hint}`);
    return ev.code === 'INVALID_ARGUMENT' ? 2 : ev.code === 'CANCELLED' ? 130 : 1;
  }
}
