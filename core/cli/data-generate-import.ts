// `fedseg data generate` (built-in multi-site data as the on-disk layouts the importers read, or
// straight into a store) and `fedseg data import` (all-or-nothing, with a dry run that never creates a
// store).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { intArg, needArg as need, numArg, SEED_RANGE } from '../contract/cli-args.js';
import { EXIT, UsageError } from '../contract/exit-codes.js';
import { writeBinaryMaskFolder, writeDofeLayout, writeNiftiLayout, writeNpyLayout, type SiteSamples } from '../data/export.js';
import { importNifti, importNpy } from '../data/import/arrays.js';
import { importDofe, importFolder } from '../data/import/folder.js';
import { problemLine, type ImportProgress, type ImportReport } from '../data/import/runner.js';
import { FUNDUS_BINARY, FUNDUS_LABELMAP, type MaskConvention } from '../data/masks.js';
import { generateFundusSite } from '../data/synthetic/fundus.js';
import { generateProstateSite } from '../data/synthetic/prostate.js';
import { openStore, parse, parseClasses, parseResize, parseSplit, progressLine, str } from './data-args.js';
import { HELP } from './data-help.js';

export async function cmdGenerate(argv: string[]): Promise<number> {
  const { values: v } = parse('generate', argv, {
    kind: { type: 'string' }, sites: { type: 'string' }, 'per-site': { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' },
    depth: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, 'test-fraction': { type: 'string' }, db: { type: 'string' },
    prefix: { type: 'string' },
  });
  if (v.help) {
    console.log(HELP.generate);
    return EXIT.OK;
  }
  // The values given are checked before the flags missing, so a typo is named even on a short line.
  const sites = intArg(v.sites, 'sites', { min: 1, max: 64 }) ?? 4;
  const perSite = intArg(v['per-site'], 'per-site', { min: 1, max: 100000 }) ?? 60;
  const size = intArg(v.size, 'size', { min: 16, max: 2048 }) ?? 128;
  const seed = intArg(v.seed, 'seed', SEED_RANGE) ?? 0;
  const depth = intArg(v.depth, 'depth', { min: 3, max: 512 }) ?? 20;
  const tf = numArg(v['test-fraction'], 'test-fraction', { min: 0, max: 1 }) ?? 0.2;
  const kind = need(v.kind, 'kind');
  if (kind !== 'fundus' && kind !== 'prostate') throw new UsageError(`--kind must be fundus or prostate, got '${kind}'`);
  const out = str(v.out);
  const db = str(v.db);
  if (!out === !db) throw new UsageError('give exactly one of --out DIR or --db FILE');
  const format = str(v.format) ?? (kind === 'fundus' ? 'dofe' : 'nifti');
  const okFormats = kind === 'fundus' ? ['dofe', 'binary', 'npy'] : ['nifti', 'npy'];
  if (out && !okFormats.includes(format)) throw new UsageError(`--format for ${kind} must be one of ${okFormats.join(', ')}, got '${format}'`);

  const t0 = performance.now();
  const data: (SiteSamples & { channels: number; classes: number; classNames: string[] })[] = [];
  const pg = progressLine('generate');
  for (let k = 0; k < sites; k++) {
    // One site at a time (the generators are deterministic per site).
    if (kind === 'fundus') {
      const s = generateFundusSite(k, { perSite, size, seed });
      data.push({ site: s.site, samples: s.samples, channels: 3, classes: 2, classNames: ['disc', 'cup'] });
    } else {
      const s = generateProstateSite(k, { perSite, size, seed, depth });
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
    return EXIT.OK;
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
  return EXIT.OK;
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
  if (!r.dryRun && r.rejected.length) {
    console.log(`left out ${r.rejected.length} bad file(s) (--skip-bad):`);
    for (const p of r.rejected.slice(0, 50)) console.log(`  ${problemLine(p)}`);
    if (r.rejected.length > 50) console.log(`  ... and ${r.rejected.length - 50} more`);
  }
  if (r.problems.length) {
    console.log(`${r.problems.length} problem(s) would make the import fail:`);
    for (const p of r.problems) console.log(`  ${problemLine(p)}`);
    if (r.rejected.length) console.log(`--skip-bad leaves the ${r.rejected.length} bad file(s) out and imports the rest`);
  }
}

export async function cmdImport(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse('import', argv, {
    db: { type: 'string' }, format: { type: 'string' }, name: { type: 'string' }, masks: { type: 'string' }, convention: { type: 'string' },
    classes: { type: 'string' }, 'class-names': { type: 'string' }, structures: { type: 'string' }, tolerance: { type: 'string' },
    channels: { type: 'string' }, 'image-channels': { type: 'string' }, split: { type: 'string' }, prefix: { type: 'string' },
    resize: { type: 'string' }, 'no-zscore': { type: 'boolean' }, 'skip-empty': { type: 'boolean' }, 'dry-run': { type: 'boolean' },
    kind: { type: 'string' }, 'skip-bad': { type: 'boolean' },
  }, true);
  if (v.help) {
    console.log(HELP.import);
    return EXIT.OK;
  }
  const tolerance = intArg(v.tolerance, 'tolerance', { min: 0, max: 127 }) ?? 0;
  const channels = intArg(v.channels, 'channels', { min: 1, max: 3 });
  if (channels === 2) throw new UsageError(`--channels must be 1 or 3, got '${String(v.channels)}'`);
  const imageChannels = intArg(v['image-channels'], 'image-channels', { min: 1, max: 64 });
  if (positionals.length !== 1) throw new UsageError(`give exactly one PATH to import (got ${positionals.length})`);
  const path = positionals[0]!;
  const format = need(v.format, 'format');
  const dryRun = v['dry-run'] === true;
  const db = dryRun ? str(v.db) : need(v.db, 'db');
  const classNames = str(v['class-names'])?.split(',').map((s) => s.trim());
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  const pg = progressLine(dryRun ? 'check' : 'import');
  const common = {
    dryRun, signal: ac.signal, resize: parseResize(str(v.resize)), skipBad: v['skip-bad'] === true,
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
              if (!suffix) throw new UsageError(`--structures '${spec}': expected "suffix:name,..."`);
              return { suffix, name: name ?? suffix };
            })
            : (FUNDUS_BINARY as Extract<MaskConvention, { kind: 'binary' }>).structures;
          convention = { kind: 'binary', structures, tolerance };
        } else throw new UsageError(`--convention must be labelmap, refuge or binary, got '${conv}'`);
        report = await importFolder(store, {
          ...common, images: path, masks: str(v.masks), convention, dataset: need(v.name, 'name'), kind: str(v.kind), split: parseSplit(str(v.split)),
          channels: channels as 1 | 3 | undefined,
        });
        break;
      }
      case 'dofe':
        report = await importDofe(store, { ...common, root: path, prefix: str(v.prefix), tolerance });
        break;
      case 'npy':
        report = await importNpy(store, {
          ...common, dir: path, dataset: need(v.name, 'name'), kind: str(v.kind), classNames, split: parseSplit(str(v.split)),
          imageChannels,
        });
        break;
      case 'nifti':
        report = await importNifti(store, {
          ...common, dir: path, dataset: need(v.name, 'name'), kind: str(v.kind), classNames, split: parseSplit(str(v.split)),
          classes: str(v.classes) ? parseClasses(str(v.classes)!) : undefined, zscore: v['no-zscore'] !== true, keepEmpty: v['skip-empty'] !== true,
        });
        break;
      default:
        throw new UsageError(`--format must be folder, dofe, npy or nifti, got '${format}'`);
    }
  } finally {
    pg.end();
    process.removeListener('SIGINT', onSig);
    store?.close();
  }
  printReport(report);
  // With --skip-bad the bad files do not fail the import; only problems beyond them (or nothing left) do.
  const skipBad = v['skip-bad'] === true;
  const fatal = report.problems.length > (skipBad ? report.rejected.length : 0) || (skipBad && report.datasets.every((d) => d.samples === 0));
  return dryRun && fatal ? EXIT.CHECK_FAILED : EXIT.OK;
}
