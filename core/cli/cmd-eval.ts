// `fedseg eval`: evaluates a model on a dataset of a site store with the reference protocol
// (docs/algorithms.md §6) through the run API (core/run/evaluation.ts), so the numbers are those the
// app's Segment view shows per image: sigmoid probability >= threshold (0.75) with the largest
// 4-connected component per class, or arg-max into nested masks for softmax networks (§7); per-image
// Dice and medpy-style HD95 (mm where the samples record their spacing, else pixels), mean over
// images per class, with the empty-mask cases counted (core/metrics/evaluate.ts EMPTY-MASK POLICY).
// The model comes from a self-describing model file (a hub's global model: `fedseg-hub export-model
// --out FILE`) or from a model checkpoint of the store (app training, imports, federation globals).
// Progress goes to stderr, results to stdout. Exit codes: the shared table (core/contract/exit-codes.ts).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { intArg, numArg, parseCommandArgs } from '../contract/cli-args.js';
import { FedSegError } from '../contract/errors.js';
import { describeFailure, EXIT, exitCodeHelp, UsageError } from '../contract/exit-codes.js';
import { describeSpec } from '../contract/model-spec.js';
import { describeBackend, initBackend, type BackendName } from '../backend.js';
import { backendArg } from './backend-arg.js';
import { decodeModel, readModelFile } from '../models/model-io.js';
import { buildNetwork, type Network } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { disposeWeights, toWeightMap } from '../models/weight-map.js';
import { listModelRecords, readModel, type ModelRecord } from '../run/checkpoints.js';
import { evaluateNetwork, type NetworkEvaluation } from '../run/evaluation.js';
import type { DatasetInfo, DatasetStore, SampleSplit } from '../store/dataset-store.js';
import { findDataset } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export const summary = 'evaluate a model on a stored dataset (Dice, HD95 per class; reference protocol)';

const USAGE = `usage: fedseg eval (--model FILE | --checkpoint NAME|ID|latest) --db SITE.db --dataset NAME|ID [options]

  --model FILE        a FedSeg model file (weights + spec; a hub's global model of a round:
                      \`fedseg-hub export-model --out FILE\`)
  --checkpoint C      a model in the --db store: its name, its id, or 'latest' (newest model)
  --db FILE           the site's FedSeg store (SQLite)
  --dataset NAME|ID   dataset to evaluate on
  --split S           test | train | val | all (default: test if the dataset has test samples, else all)
  --threshold T       sigmoid probability threshold in (0, 1) (default 0.75, the reference)
  --batch N           images per forward pass, 1-1024 (default 4)
  --json              print the result as JSON
  --backend NAME      wasm | cpu | webgpu | tensorflow | tensorflow-gpu | auto (default auto)

Protocol (docs/algorithms.md §6): prediction as the app's Segment view makes it (sigmoid models:
probability >= threshold, largest connected component per class; softmax models: arg-max into nested
masks), Dice and HD95 per image, mean per class; images where exactly one of prediction / ground truth
is empty have an undefined HD95: they are counted (hd95-undef) and left out of the HD95 mean. Images
without a mask are skipped (counted).

${exitCodeHelp()}`;

type Split = SampleSplit | 'all';
const SPLITS: readonly Split[] = ['test', 'train', 'val', 'all'];

export interface EvalReport {
  model: { source: string; kind: string; description: string; inChannels: number; classes: number };
  dataset: { id: number; name: string; split: Split; images: number; skippedWithoutMask: number };
  threshold: number;
  backend: string;
  hd95Unit: 'px' | 'mm';
  classes: { name: string; dice: number; hd95: number | null; images: number; hd95Undefined: number; emptyPred: number; emptyGt: number }[];
  meanDice: number;
  meanHd95: number | null;
  /** Per image, in sample order (what the Segment view shows for each). */
  perImage: { name: string; dice: number[]; hd95: (number | null)[] }[];
}

function bad(message: string): UsageError {
  return new UsageError(message);
}

function parse(argv: string[]) {
  return parseCommandArgs(argv, {
    model: { type: 'string' },
    checkpoint: { type: 'string' },
    db: { type: 'string' },
    dataset: { type: 'string' },
    split: { type: 'string' },
    threshold: { type: 'string' },
    batch: { type: 'string' },
    json: { type: 'boolean' },
    backend: { type: 'string' },
  }, { prog: 'fedseg', command: 'eval' }).values;
}

interface Loaded {
  net: Network;
  weights: WeightMap;
  source: string;
}

async function loadFromFile(path: string): Promise<Loaded> {
  const buf = await readModelFile(path);
  let decoded: ReturnType<typeof decodeModel>;
  try {
    decoded = decodeModel(buf);
  } catch (e) {
    const msg = e instanceof FedSegError ? e.message : String(e);
    throw new FedSegError('CORRUPT_FILE', `model file ${path} is not a valid FedSeg model: ${msg}`);
  }
  const net = buildNetwork(decoded.spec);
  return { net, weights: toWeightMap(decoded.arrays, net.shapes), source: path };
}

function pickCheckpoint(store: DatasetStore, which: string): ModelRecord {
  const models = listModelRecords(store, store);
  if (which === 'latest') {
    const newest = models.at(-1);
    if (!newest) throw new FedSegError('NOT_FOUND', 'the store has no model (train one, or join a federation)');
    return newest;
  }
  const hit = (/^\d+$/.test(which) ? models.find((m) => m.info.id === Number(which)) : undefined) ?? models.filter((m) => m.info.name === which).at(-1);
  if (!hit) {
    const names = [...new Set(models.map((m) => m.info.name))];
    throw new FedSegError('NOT_FOUND', `no checkpoint '${which}' in the store (${names.length ? `have: ${names.slice(0, 8).join(', ')}` : 'it has no models'})`);
  }
  return hit;
}

function loadFromCheckpoint(store: DatasetStore, which: string): Loaded {
  const rec = pickCheckpoint(store, which);
  const m = readModel(store, rec.info.id, store);
  const net = buildNetwork(m.spec);
  return { net, weights: toWeightMap(m.arrays, net.shapes), source: `checkpoint '${rec.info.name}' (id ${rec.info.id})` };
}

function chooseSplit(store: DatasetStore, ds: DatasetInfo, v: string | undefined): Split {
  if (v === undefined) return store.countSamples(ds.id, 'test') > 0 ? 'test' : 'all';
  // Checked with the other arguments (run).
  return v as Split;
}

function checkCompatible(net: Network, ds: DatasetInfo, source: string): void {
  if (net.spec.inChannels !== ds.channels)
    throw new FedSegError('SHAPE_MISMATCH', `${source} takes ${net.spec.inChannels}-channel images but dataset '${ds.name}' has ${ds.channels} channel(s)`);
  if (net.spec.classes !== ds.classes)
    throw new FedSegError('SHAPE_MISMATCH', `${source} predicts ${net.spec.classes} class(es) but dataset '${ds.name}' has ${ds.classes} mask class(es)`);
}

export function toReport(ev: NetworkEvaluation, ctx: { model: Loaded; ds: DatasetInfo; split: Split; threshold: number; backend: string; skipped: number }): EvalReport {
  const classes = ev.meanDice.map((d, c) => ({
    name: ctx.ds.classNames[c] ?? `class${c}`,
    dice: d,
    hd95: ev.meanHd95[c] ?? null,
    images: ev.images,
    hd95Undefined: ev.hd95Undefined[c]!,
    emptyPred: ev.emptyPred[c]!,
    emptyGt: ev.emptyGt[c]!,
  }));
  const hds = classes.map((c) => c.hd95).filter((h): h is number => h !== null);
  const spec = ctx.model.net.spec;
  return {
    model: { source: ctx.model.source, kind: spec.kind, description: describeSpec(spec), inChannels: spec.inChannels, classes: spec.classes },
    dataset: { id: ctx.ds.id, name: ctx.ds.name, split: ctx.split, images: ev.images, skippedWithoutMask: ctx.skipped },
    threshold: ctx.threshold,
    backend: ctx.backend,
    hd95Unit: ev.hd95Unit,
    classes,
    meanDice: classes.reduce((s, c) => s + c.dice, 0) / classes.length,
    meanHd95: hds.length === classes.length ? hds.reduce((s, h) => s + h, 0) / hds.length : null,
    perImage: ev.perImage.map((p) => ({ name: p.name, dice: p.result.dice, hd95: p.result.hd95 })),
  };
}

export function formatTable(r: EvalReport): string {
  const head = ['class', 'Dice %', `HD95 ${r.hd95Unit}`, 'images', 'hd95-undef', 'empty pred', 'empty gt'];
  const rows = r.classes.map((c) => [c.name, (c.dice * 100).toFixed(2), c.hd95 === null ? '-' : c.hd95.toFixed(2), String(c.images), String(c.hd95Undefined), String(c.emptyPred), String(c.emptyGt)]);
  rows.push(['mean', (r.meanDice * 100).toFixed(2), r.meanHd95 === null ? '-' : r.meanHd95.toFixed(2), String(r.dataset.images), '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `model ${r.model.source} (${r.model.description})`,
    `dataset '${r.dataset.name}' split ${r.dataset.split}: ${r.dataset.images} image(s)${r.dataset.skippedWithoutMask ? ` (${r.dataset.skippedWithoutMask} without a mask skipped)` : ''}; threshold ${r.threshold}; backend ${r.backend}`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}
export async function run(argv: string[]): Promise<number> {
  try {
    const v = parse(argv);
    if (v.help) {
      console.log(USAGE);
      return EXIT.OK;
    }
    // The values given are checked before the flags missing, so a typo is named even on a short line.
    const threshold = numArg(v.threshold, 'threshold', { min: 0, max: 1, exclusive: true }) ?? 0.75;
    const batch = intArg(v.batch, 'batch', { min: 1, max: 1024 }) ?? 4;
    const backend = backendArg(v.backend) ?? 'auto';
    if (v.split !== undefined && !SPLITS.includes(v.split as Split)) throw bad(`--split must be test, train, val or all, got '${v.split}'`);
    if (!v.model === !v.checkpoint) throw bad('give exactly one of --model FILE or --checkpoint NAME|ID|latest');
    if (!v.db) throw bad('--db FILE is required (the store holding the dataset)');
    if (!v.dataset) throw bad('--dataset NAME|ID is required');
    if (!existsSync(v.db)) throw new FedSegError('NOT_FOUND', `store ${v.db} does not exist`);
    return await evaluate({ ...v, db: v.db, dataset: v.dataset }, threshold, batch, backend);
  } catch (e) {
    // One line, whatever went wrong (FEDSEG_DEBUG=1 for the stack).
    const f = describeFailure(e, 'fedseg eval --help');
    console.error(`fedseg eval: ${f.line}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return f.code;
  }
}

async function evaluate(v: { model?: string; checkpoint?: string; db: string; dataset: string; split?: string; json?: boolean }, threshold: number, batch: number, backend: string): Promise<number> {
  const store = openSqliteStore(resolve(v.db));
  let loaded: Loaded | undefined;
  try {
    const ds = findDataset(store, v.dataset, v.db);
    const split = chooseSplit(store, ds, v.split);
    const report = await initBackend({ backend: backend as BackendName | 'auto' });
    loaded = v.model ? await loadFromFile(v.model) : loadFromCheckpoint(store, v.checkpoint!);
    checkCompatible(loaded.net, ds, loaded.source);
    const all = store.loadSamples(ds.id, split === 'all' ? {} : { split });
    const samples = all.filter((s) => s.meta?.hasMask !== false);
    if (all.length > 0 && samples.length === 0) throw new FedSegError('INVALID_INPUT', `dataset '${ds.name}' has no images with masks${split === 'all' ? '' : ` in its '${split}' split`}`);
    if (samples.length === 0) throw new FedSegError('NOT_FOUND', `dataset '${ds.name}' has no ${split === 'all' ? '' : `'${split}' `}samples${split === 'all' ? '' : ' (try --split all)'}`);
    const tty = process.stderr.isTTY === true;
    let lastDecile = -1;
    const ev = await evaluateNetwork(loaded.net, loaded.weights, samples, {
      threshold,
      batchSize: batch,
      onProgress: (done, total) => {
        const pct = Math.floor((done / total) * 100);
        const text = `evaluate ${done}/${total} (${pct}%)`;
        if (tty) process.stderr.write(`\r\x1b[K${text}${done === total ? '\n' : ''}`);
        else if (Math.floor(pct / 10) !== lastDecile) {
          lastDecile = Math.floor(pct / 10);
          process.stderr.write(`${text}\n`);
        }
      },
    });
    const out = toReport(ev, { model: loaded, ds, split, threshold, backend: describeBackend(report), skipped: all.length - samples.length });
    console.log(v.json ? JSON.stringify(out, null, 2) : formatTable(out));
    return EXIT.OK;
  } finally {
    if (loaded) disposeWeights(loaded.weights);
    store.close();
  }
}
