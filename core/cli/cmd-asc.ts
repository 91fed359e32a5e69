// `fedseg asc experiment`: the ASCNet multi-scale experiment (Zhang et al., ISBI 2020, Table 1;
// docs/algorithms.md §7-8; docs/ascnet.md). Two modes:
// - without --db, on synthetic two-site cell images (core/data/synthetic/cells.ts): trains the classic
//   CNN, the dilated CNN, ASCNet-7 and ASCNet-14 through the run API (core/run: softmax cross-entropy,
//   Adam lr 1e-3, beta2 0.9, batch 2, the same batch sequence for every model, batch-norm calibration at
//   the end) on both sites together, then reports per held-out site the Dice, precision and recall of
//   the cell (class >= 1) and the Dice of the nucleus, and for ASC models the median learned rate over
//   all pixels and over the ground-truth cell pixels; plus object-size terciles (core/asc/size-terciles.ts);
// - with --db FILE --dataset NAME, k-fold cross-validation on a stored dataset (core/asc/asc-experiment.ts),
//   the store opened read-only, the images' channels kept (RGB stays RGB) unless --grey.
// The paper's expectation: ASCNet >= dilated >= classic, larger rates on larger objects.
import { performance } from 'node:perf_hooks';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { choiceArg, intArg, numArg, parseCommandArgs, SEED_RANGE } from '../contract/cli-args.js';
import { FedSegError } from '../contract/errors.js';
import { EXIT, readingArguments, UsageError } from '../contract/exit-codes.js';
import { tf } from '../tf/tf.js';
import { describeBackend, initBackend } from '../backend.js';
import { backendArg } from './backend-arg.js';
import { ASCNET_KINDS, type AscNetKind } from '../models/ascnet.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights } from '../models/weight-map.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { maskPlane, nestedMaskToClasses } from '../masks/convert.js';
import { runLocal } from '../run/local-run.js';
import { predict } from '../run/predict.js';
import { findDataset } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import {
  checkCvOptions, count, DEFAULT_ASC_MODELS, formatCvTable, formatRateGrowth, formatTercileTable, runCrossValidation, type CvDataset, type CvModelResult, type CvOptions,
} from '../asc/asc-experiment.js';
import { objectRecords, tercileCuts, tercileSummary, type ObjectRecord } from '../asc/size-terciles.js';

export const summary = 'ASCNet experiment: classic vs dilated CNN vs ASCNet-7/-14, on synthetic cells or k-fold on a stored dataset';

const HELP = `usage: fedseg asc experiment [options]
       fedseg asc experiment --db FILE --dataset NAME|ID [--folds K] [options]

Without --db: trains the classic CNN, the dilated CNN, ASCNet-7 and ASCNet-14 on synthetic cell
images from two sites (large cells at high magnification, small cells at low magnification) and
prints Dice / precision / recall on held-out images of each site, the median learned rate per site
for ASC models, and per object-size tercile the object Dice and the rate inside the objects.

With --db: k-fold cross-validation on a stored dataset (the store is opened read-only): the images
are dealt into K folds by a seeded permutation; per fold every model trains on the other folds and is
evaluated on the held-out one. Prints per model and mask class the mean per-image Dice / precision /
recall and the pooled Dice, mean ± std over folds; per object-size tercile (4-connected components of
each class's ground truth; cut points from the whole dataset) the object Dice and, for ASC models,
the median / mean rate inside the objects, and whether the rate grows with object size. The images'
channels are used as stored (RGB stays RGB). Softmax networks need nested masks (cell ⊇ nucleus).

  --db FILE        a FedSeg store (SQLite), opened read-only
  --dataset NAME   the dataset to cross-validate on (its name or id; with --db)
  --folds K        folds, 2-100 (default 5; with --db)
  --grey           feed luma (0.299 R + 0.587 G + 0.114 B) instead of the stored channels (with --db)
  --size N         synthetic: image side, 16-512 (default 64); with --db: resample every image
                   (bilinear) and mask (nearest) to N x N first (default: as stored)
  --train N        synthetic: training images per site, >= 1 (default 40)
  --test N         synthetic: held-out images per site, >= 1 (default 16)
  --steps N        Adam steps per model (and fold), batch 2, >= 1 (default 600)
  --seed N         seed for data, folds, init and batch order, 0-4294967295 (default 0)
  --lr X           Adam learning rate, > 0 (default 0.001)
  --rate-beta X    initial beta of the rate field's last batch norm: the rate starts near max(0, X)
                   (default 1; the authors' code: 0, half the pixels start at rate 0)
  --normalise M    network input: none (pixel values as stored) | zscore (per image and channel)
                   (default none)
  --models LIST    comma-separated from ${ASCNET_KINDS.join(', ')}
                   (default ${DEFAULT_ASC_MODELS.join(',')})
  --backend B      tfjs backend (default: auto, or $FEDSEG_BACKEND)
  --json FILE      also write the results as JSON`;

export interface AscExperimentOptions {
  size: number;
  train: number;
  test: number;
  steps: number;
  seed: number;
  models: AscNetKind[];
  lr?: number;
  rateBeta?: number;
  normalise?: 'none' | 'zscore';
}

export interface AscSiteResult {
  model: AscNetKind;
  site: string;
  cellDice: number;
  cellPrecision: number;
  cellRecall: number;
  nucleusDice: number;
  /** Median of the rate field over all pixels of the site's test images (ASC models), else null. */
  medianRate: number | null;
  /** Median rate over the ground-truth cell pixels only (ASC models), else null. */
  medianRateCell: number | null;
}

export interface AscExperimentResult {
  options: AscExperimentOptions;
  backend: string;
  rows: AscSiteResult[];
  /** Per model: size terciles of the cell and nucleus objects of both sites' test images. */
  terciles: { model: AscNetKind; terciles: CvModelResult['terciles'] }[];
  /** Wall-clock training seconds per model. */
  trainSeconds: Record<string, number>;
  finalLoss: Record<string, number>;
}

const CELL_CLASSES = ['cell', 'nucleus'];
/** Dice, precision, recall of binary masks; empty denominators count as 0 (empty pred: precision 0). */
function prf(pred: Uint8Array, gt: Uint8Array): { dice: number; precision: number; recall: number } {
  const { tp, p, g } = count(pred, gt);
  return { dice: p + g ? (2 * tp) / (p + g) : 1, precision: p ? tp / p : 0, recall: g ? tp / g : 0 };
}

function median(values: Float32Array): number {
  const s = values.slice().sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function checkOptions(o: AscExperimentOptions): void {
  const int = (v: number, what: string, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new FedSegError('INVALID_ARGUMENT', `asc experiment: ${what} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  int(o.size, '--size', 16, 512);
  int(o.train, '--train', 1, 100000);
  int(o.test, '--test', 1, 100000);
  int(o.steps, '--steps', 1, 1e7);
  if (!Number.isFinite(o.seed)) throw new FedSegError('INVALID_ARGUMENT', '--seed must be a number');
  if (o.models.length === 0) throw new FedSegError('INVALID_ARGUMENT', '--models is empty');
  for (const m of o.models) if (!ASCNET_KINDS.includes(m)) throw new FedSegError('INVALID_ARGUMENT', `--models: unknown model '${m}' (use ${ASCNET_KINDS.join(', ')})`);
  if (o.rateBeta !== undefined && !Number.isFinite(o.rateBeta)) throw new FedSegError('INVALID_ARGUMENT', '--rate-beta must be a number');
}

/** Runs the experiment on the current backend; `log` gets progress lines. */
export async function runAscExperiment(o: AscExperimentOptions, log: (line: string) => void = () => {}): Promise<AscExperimentResult> {
  checkOptions(o);
  const trainSites = generateCellSites({ size: o.size, perSite: o.train, seed: o.seed * 2 + 1 });
  const testSites = generateCellSites({ size: o.size, perSite: o.test, seed: o.seed * 2 + 2 });
  const sites = trainSites.map((s) => ({ site: s.site, train: s.samples, val: [] }));
  const perEpoch = Math.ceil(sites.reduce((a, s) => a + s.train.length, 0) / 2);
  const rows: AscSiteResult[] = [];
  const trainSeconds: Record<string, number> = {};
  const finalLoss: Record<string, number> = {};
  const terciles: AscExperimentResult['terciles'] = [];
  // Tercile cut points per class from the ground truth of all test images (both sites).
  const testPlanes = testSites.flatMap((s) => s.samples.map((x) => CELL_CLASSES.map((_, c) => maskPlane(x.mask, c))));
  const cuts = CELL_CLASSES.map((_, c) => {
    const areas = testPlanes.flatMap((p) => objectRecords(p[c]!, p[c]!, o.size, o.size).map((x) => x.area));
    return areas.length ? tercileCuts(areas) : null;
  });
  for (const kind of o.models) {
    const net = buildNetwork({ kind, inChannels: 1, classes: 2, input: { normalise: o.normalise ?? 'none' }, config: { rateBeta: o.rateBeta ?? 1 } });
    const objects: ObjectRecord[][] = CELL_CLASSES.map(() => []);
    const t0 = performance.now();
    let ema = NaN;
    const every = Math.max(1, Math.floor(o.steps / 5));
    // Same seed for every model: the same sequence of batches.
    const res = await runLocal({
      net, sites, name: kind, keepWeights: true,
      config: { epochs: Math.ceil(o.steps / perEpoch), batchSize: 2, learningRate: o.lr ?? 1e-3, seed: o.seed, elcfs: false, maxSteps: o.steps },
      onProgress: (p) => {
        if (p.phase !== 'training') return;
        const loss = p.losses.total!;
        if (!Number.isFinite(loss)) throw new FedSegError('NUMERIC_ERROR', `asc experiment: ${kind} loss is ${loss} at step ${p.step}`);
        ema = Number.isNaN(ema) ? loss : 0.95 * ema + 0.05 * loss;
        if (p.step % every === 0 || p.step === p.totalSteps) log(`${kind}: step ${p.step}/${p.totalSteps} loss ${ema.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      },
    });
    trainSeconds[kind] = (performance.now() - t0) / 1000;
    finalLoss[kind] = ema;
    const weights = res.weights!;
    try {
      for (const site of testSites) {
        const acc = { cellDice: 0, cellPrecision: 0, cellRecall: 0, nucleusDice: 0 };
        const rates: Float32Array[] = [];
        const cellRates: number[] = [];
        for (const smp of site.samples) {
          const [p] = await predict(net, weights, [smp.image], { withRate: true });
          const cls = nestedMaskToClasses(p!.mask);
          const gt = nestedMaskToClasses(smp.mask);
          const n = gt.length;
          const pc = new Uint8Array(n);
          const gc = new Uint8Array(n);
          const pn = new Uint8Array(n);
          const gn = new Uint8Array(n);
          for (let i = 0; i < n; i++) {
            pc[i] = cls[i]! >= 1 ? 1 : 0;
            gc[i] = gt[i]! >= 1 ? 1 : 0;
            pn[i] = cls[i]! === 2 ? 1 : 0;
            gn[i] = gt[i]! === 2 ? 1 : 0;
          }
          const c = prf(pc, gc);
          acc.cellDice += c.dice;
          acc.cellPrecision += c.precision;
          acc.cellRecall += c.recall;
          acc.nucleusDice += prf(pn, gn).dice;
          if (p!.rate) {
            rates.push(p!.rate);
            for (let i = 0; i < n; i++) if (gc[i]) cellRates.push(p!.rate[i]!);
          }
          objects[0]!.push(...objectRecords(gc, pc, smp.image.height, smp.image.width, p!.rate));
          objects[1]!.push(...objectRecords(gn, pn, smp.image.height, smp.image.width, p!.rate));
        }
        const k = site.samples.length;
        let medianRate: number | null = null;
        if (rates.length) {
          const all = new Float32Array(rates.reduce((a, r) => a + r.length, 0));
          let off = 0;
          for (const r of rates) {
            all.set(r, off);
            off += r.length;
          }
          medianRate = median(all);
        }
        const medianRateCell = rates.length && cellRates.length ? median(Float32Array.from(cellRates)) : null;
        rows.push({ model: kind, site: site.site, cellDice: acc.cellDice / k, cellPrecision: acc.cellPrecision / k, cellRecall: acc.cellRecall / k, nucleusDice: acc.nucleusDice / k, medianRate, medianRateCell });
      }
    } finally {
      disposeWeights(weights);
    }
    terciles.push({ model: kind, terciles: cuts.flatMap((cut, c) => (cut ? [{ className: CELL_CLASSES[c]!, ...tercileSummary(objects[c]!, cut) }] : [])) });
  }
  return { options: o, backend: tf.getBackend(), rows, terciles, trainSeconds, finalLoss };
}

export function formatAscTable(r: AscExperimentResult): string {
  const head = ['model', 'site', 'cell Dice', 'cell precision', 'cell recall', 'nucleus Dice', 'median rate', 'median rate (cells)', 'train s'];
  const cells = r.rows.map((x) => [x.model, x.site, x.cellDice.toFixed(3), x.cellPrecision.toFixed(3), x.cellRecall.toFixed(3), x.nucleusDice.toFixed(3),
    x.medianRate === null ? '-' : x.medianRate.toFixed(2), x.medianRateCell === null ? '-' : x.medianRateCell.toFixed(2), (r.trainSeconds[x.model] ?? 0).toFixed(0)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => '| ' + c.map((v, i) => v.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}

function modelList(v: string | undefined): AscNetKind[] {
  return (v ?? DEFAULT_ASC_MODELS.join(',')).split(',').map((x) => x.trim()).filter(Boolean) as AscNetKind[];
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(HELP);
    // Without a subcommand there is nothing to do: a usage error.
    return sub ? EXIT.OK : EXIT.USAGE;
  }
  if (sub !== 'experiment') throw new UsageError(`asc: unknown subcommand '${sub}' (use: fedseg asc experiment --help)`);
  const { values } = parseCommandArgs(rest, {
    size: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' },
    models: { type: 'string' }, backend: { type: 'string' }, json: { type: 'string' }, lr: { type: 'string' },
    db: { type: 'string' }, dataset: { type: 'string' }, folds: { type: 'string' }, grey: { type: 'boolean' },
    'rate-beta': { type: 'string' }, normalise: { type: 'string' },
  }, { prog: 'fedseg asc', command: 'experiment' });
  if (values.help) {
    console.log(HELP);
    return EXIT.OK;
  }
  const lr = numArg(values.lr, 'lr', { min: 0, exclusive: true });
  const rateBeta = numArg(values['rate-beta'], 'rate-beta', { min: -100, max: 100 });
  const normalise = values.normalise === undefined ? undefined : choiceArg(values.normalise, 'normalise', ['none', 'zscore'] as const, 'none');
  const common = {
    steps: intArg(values.steps, 'steps', { min: 1, max: 1e7 }) ?? 600,
    seed: intArg(values.seed, 'seed', SEED_RANGE) ?? 0,
    models: modelList(values.models),
    ...(lr !== undefined ? { lr } : {}),
    ...(rateBeta !== undefined ? { rateBeta } : {}),
    ...(normalise !== undefined ? { normalise } : {}),
  };
  if (values.db !== undefined) return crossValidate(values, common);
  for (const flag of ['dataset', 'folds', 'grey'] as const) if (values[flag] !== undefined) throw new UsageError(`asc experiment: --${flag} needs --db FILE (a stored dataset); the synthetic cells are grey and have their own train/test split`);
  const opts: AscExperimentOptions = {
    size: intArg(values.size, 'size', { min: 16, max: 512 }) ?? 64,
    train: intArg(values.train, 'train', { min: 1, max: 100000 }) ?? 40,
    test: intArg(values.test, 'test', { min: 1, max: 100000 }) ?? 16,
    ...common,
  };
  readingArguments(() => checkOptions(opts));
  const backend = backendArg(values.backend);
  const report = await initBackend(backend ? { backend } : {});
  console.log(`backend: ${describeBackend(report)}`);
  console.log(`data: ${opts.size}x${opts.size} cells, sites large/small, ${opts.train} train + ${opts.test} test images per site; ${opts.steps} steps x batch 2, seed ${opts.seed}`);
  const t0 = performance.now();
  const res = await runAscExperiment(opts, (l) => console.log(l));
  console.log('');
  console.log(formatAscTable(res));
  console.log('');
  console.log(formatTercileTable(res.terciles));
  for (const l of formatRateGrowth(res.terciles)) console.log(l);
  console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (values.json) writeFileSync(values.json, JSON.stringify(res, null, 2));
  return EXIT.OK;
}

type CommonOptions = Pick<CvOptions, 'steps' | 'seed' | 'models' | 'lr' | 'rateBeta' | 'normalise'>;

/** `--db`: k-fold cross-validation on a stored dataset. */
async function crossValidate(values: Record<string, string | boolean | undefined>, common: CommonOptions): Promise<number> {
  for (const flag of ['train', 'test'] as const) if (values[flag] !== undefined) throw new UsageError(`asc experiment: --${flag} is for the synthetic cells; with --db the folds decide what is held out (--folds K)`);
  if (!values.dataset || typeof values.dataset !== 'string') throw new UsageError('asc experiment: --dataset NAME|ID is required with --db');
  const size = intArg(values.size as string | undefined, 'size', { min: 16, max: 1024 });
  const opts: CvOptions = {
    ...common,
    folds: intArg(values.folds as string | undefined, 'folds', { min: 2, max: 100 }) ?? 5,
    ...(values.grey ? { grey: true } : {}),
    ...(size !== undefined ? { size } : {}),
  };
  readingArguments(() => checkCvOptions(opts));
  const db = values.db as string;
  if (!existsSync(db)) throw new FedSegError('NOT_FOUND', `store ${db} does not exist`);
  // Read-only, and closed before training: the experiment never writes to the store and never holds it.
  const store = openSqliteStore(resolve(db), { readonly: true });
  let ds: CvDataset;
  try {
    const info = findDataset(store, values.dataset, db);
    const samples = store.loadSamples(info.id).filter((s) => s.meta?.hasMask !== false);
    if (samples.length === 0) throw new FedSegError('INVALID_INPUT', `dataset '${info.name}' has no images with masks`);
    ds = { name: info.name, classNames: Array.from({ length: info.classes }, (_, c) => info.classNames[c] ?? `class${c}`), samples };
  } finally {
    store.close();
  }
  const backend = backendArg(values.backend as string | undefined);
  const report = await initBackend(backend ? { backend } : {});
  console.log(`backend: ${describeBackend(report)}`);
  const s0 = ds.samples[0]!.image;
  console.log(`data: dataset '${ds.name}', ${ds.samples.length} images ${s0.width}x${s0.height}x${s0.channels}${opts.size ? ` resampled to ${opts.size}x${opts.size}` : ''}${opts.grey ? ', as luma' : ''}, classes ${ds.classNames.join(', ')}; ${opts.folds} folds, ${opts.steps} steps x batch 2 per model and fold, seed ${opts.seed}`);
  const t0 = performance.now();
  const res = await runCrossValidation(ds, opts, describeBackend(report), (l) => console.log(l));
  console.log('');
  console.log(formatCvTable(res));
  console.log('');
  console.log(formatTercileTable(res.models));
  for (const l of formatRateGrowth(res.models)) console.log(l);
  console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (values.json) writeFileSync(values.json as string, JSON.stringify(res, null, 2));
  return EXIT.OK;
}
