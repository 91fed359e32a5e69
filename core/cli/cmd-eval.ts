// `fedseg eval`: evaluates a model on a dataset of a site store with the reference protocol
// (docs/algorithms.md §6) through the run API (core/run/evaluation.ts), so the numbers are those the
// app's Segment view shows per image: sigmoid probability >= threshold (0.75) with the largest
// 4-connected component per class, or arg-max into nested masks for softmax networks (§7); per-image
// Dice and medpy-style HD95 (mm where the samples record their spacing, else pixels), mean over
// images per class, with the empty-mask cases counted (core/metrics/evaluate.ts EMPTY-MASK POLICY).
// The model comes from a self-describing model file (a hub's global model: `fedseg-hub export-model
// --out FILE`) or from a model checkpoint of the store (app training, imports, federation globals).
// Progress goes to stderr, results to stdout. Exit codes: 0 ok, 1 error, 2 bad arguments.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { describeSpec } from '../contract/model-spec.js';
import { describeBackend, initBackend, type BackendName } from '../backend.js';
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
  --batch N           images per forward pass (default 4)
  --json              print the result as JSON
  --backend NAME      wasm | cpu | webgpu | tensorflow | auto (default auto)

Protocol (docs/algorithms.md §6): prediction as the app's Segment view makes it (sigmoid models:
probability >= threshold, largest connected component per class; softmax models: arg-max into nested
masks), Dice and HD95 per image, mean per class; images where exactly one of prediction / ground truth
is empty have an undefined HD95: they are counted (hd95-undef) and left out of the HD95 mean. Images
without a mask are skipped (counted).

exit codes: 0 ok, 1 error, 2 bad arguments`;

type Split = SampleSplit | 'all';

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

function bad(message: string): FedSegError {
  return new FedSegError('INVALID_ARGUMENT', message);
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        model: { type: 'string' },
        checkpoint: { type: 'string' },
        db: { type: 'string' },
        dataset: { type: 'string' },
        split: { type: 'string' },
        threshold: { type: 'string' },
        batch: { type: 'string' },
        json: { type: 'boolean' },
        backend: { type: 'string' },
      },
    }).values;
  } catch (e) {
    throw bad((e as Error).message.split('\n')[0]!);
  }
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
  if (v !== 'test' && v !== 'train' && v !== 'val' && v !== 'all') throw bad(`--split must be test, train, val or all, got '${v}'`);
  return v;
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
      return 0;
    }
    if (!v.model === !v.checkpoint) throw bad('give exactly one of --model FILE or --checkpoint NAME|ID|latest');
    if (!v.db) throw bad('--db FILE is required (the store holding the dataset)');
    if (!v.dataset) throw bad('--dataset NAME|ID is required');
    const threshold = v.threshold === undefined ? 0.75 : Number(v.threshold);
    if (!(threshold > 0 && threshold < 1)) throw bad(`--threshold must be a number in (0, 1), got '${String(v.threshold)}'`);
    const batch = v.batch === undefined ? 4 : Number(v.batch);
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw bad(`--batch must be an integer in [1, 1024], got '${String(v.batch)}'`);
    const backend = v.backend ?? 'auto';
    if (!['wasm', 'cpu', 'auto', 'webgpu', 'tensorflow', 'tensorflow-gpu'].includes(backend)) throw bad(`--backend must be wasm, cpu, webgpu, tensorflow or auto, got '${backend}'`);
    if (!existsSync(v.db)) throw new FedSegError('NOT_FOUND', `store ${v.db} does not exist`);
    return await evaluate({ ...v, db: v.db, dataset: v.dataset }, threshold, batch, backend);
  } catch (e) {
    // One line, whatever went wrong (FEDSEG_DEBUG=1 for the stack).
    const err = toErrorValue(e);
    console.error(`fedseg eval: ${err.message}${e instanceof FedSegError ? '' : ` [${err.code}]`}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return err.code === 'INVALID_ARGUMENT' ? 2 : 1;
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
    return 0;
  } finally {
    if (loaded) disposeWeights(loaded.weights);
    store.close();
  }
}
