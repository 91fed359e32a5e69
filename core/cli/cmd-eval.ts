// `fedseg eval`: evaluates a trained model on a dataset of a site store with the reference protocol
// (ALGORITHMS.md §6, core/train/evaluate.ts evaluateModel): sigmoid probability >= threshold (0.75),
// largest 4-connected component per class, per-image Dice and medpy-style HD95 (pixels), mean over
// images per class, with the empty-mask cases counted (core/metrics/evaluate.ts EMPTY-MASK POLICY).
// The model comes from a model file (core/models/model-io.ts saveModelFile; a hub's global model is
// written to one with `fedseg-hub export-model --out FILE`) or from a checkpoint in the site store.
// Only sigmoid multi-label models (U-Net, ASC U-Net) fit this protocol; softmax models (ASCNet-N) are
// refused with a clear error. Progress goes to stderr, results to stdout.
// Exit codes: 0 ok, 1 error, 2 bad arguments.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tf } from '../tf/tf.js';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { describeBackend, initBackend, type BackendName } from '../backend.js';
import { buildModel, isSoftmaxKind, listModels, modelConfigOf } from '../app/models.js';
import { decodeWeights } from '../contract/weights.js';
import { createAscUNet, type AscUNetConfig } from '../models/asc-unet.js';
import { decodeModel, modelFromSpec, namedArraysToWeights, type ModelSpec } from '../models/model-io.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import type { CheckpointInfo, DatasetInfo, DatasetStore, SampleSplit } from '../store/dataset-store.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { evaluateModel, type ModelEvaluation } from '../train/evaluate.js';

export const summary = 'evaluate a model on a stored dataset (Dice, HD95 per class; reference protocol)';

const USAGE = `usage: fedseg eval (--model FILE | --checkpoint NAME|ID|latest) --db SITE.db --dataset NAME|ID [options]

  --model FILE        a FedSeg model file (saveModelFile; or \`fedseg-hub export-model --out FILE\`
                      for a hub's global model of a round)
  --checkpoint C      a checkpoint in the --db store: its name, its id, or 'latest' (newest usable model)
  --db FILE           the site's FedSeg store (SQLite)
  --dataset NAME|ID   dataset to evaluate on
  --split S           test | train | val | all (default: test if the dataset has test samples, else all)
  --threshold T       sigmoid probability threshold in (0, 1) (default 0.75, the reference)
  --batch N           images per forward pass (default 4)
  --json              print the result as JSON
  --backend NAME      wasm | cpu | auto (default auto)

Protocol (ALGORITHMS.md §6): probability >= threshold, largest connected component per class, Dice and
HD95 (pixels) per image, mean per class; images where exactly one of prediction / ground truth is empty
have an undefined HD95: they are counted (hd95-undef) and left out of the HD95 mean.
Sigmoid models only (U-Net, ASC U-Net); softmax ASCNet-N models are not evaluated here.

exit codes: 0 ok, 1 error, 2 bad arguments`;

type Split = SampleSplit | 'all';

export interface EvalReport {
  model: { source: string; kind: string; inChannels: number; classes: number };
  dataset: { id: number; name: string; split: Split; images: number };
  threshold: number;
  backend: string;
  classes: { name: string; dice: number; hd95: number | null; images: number; hd95Undefined: number; emptyPred: number; emptyGt: number }[];
  meanDice: number;
  meanHd95: number | null;
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

/** Builds the network a model spec names; softmax kinds are refused (this protocol is per-class sigmoid). */
function networkFromSpec(spec: ModelSpec, where: string): SegModel & { shapes?: { name: string; shape: number[] }[] } {
  if (isSoftmaxKind(spec.kind)) throw softmaxError(spec.kind, where);
  if (spec.kind === 'asc-unet') return createAscUNet(spec.config as unknown as AscUNetConfig);
  return modelFromSpec(spec);
}

function softmaxError(kind: string, where: string): FedSegError {
  return new FedSegError('UNSUPPORTED', `${where} is a softmax model ('${kind}', background + classes); fedseg eval applies the sigmoid reference protocol and evaluates U-Net / ASC U-Net models only`);
}

interface Loaded {
  model: SegModel;
  weights: WeightMap;
  source: string;
}

async function loadFromFile(path: string): Promise<Loaded> {
  if (!existsSync(path)) throw new FedSegError('NOT_FOUND', `model file ${path} does not exist`);
  let buf: Uint8Array;
  try {
    buf = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot read model file ${path}: ${(e as Error).message}`);
  }
  let decoded: ReturnType<typeof decodeModel>;
  try {
    decoded = decodeModel(buf);
  } catch (e) {
    const msg = e instanceof FedSegError ? e.message : String(e);
    throw new FedSegError('CORRUPT_FILE', `model file ${path} is not a valid FedSeg model: ${msg}`);
  }
  const model = networkFromSpec(decoded.spec, `model file ${path}`);
  // decodeModel checks names/shapes for kinds model-io knows; the ASC U-Net lists its own.
  const weights = namedArraysToWeights(decoded.arrays, model.shapes);
  return { model, weights, source: path };
}

function pickCheckpoint(store: DatasetStore, which: string): CheckpointInfo {
  if (which === 'latest') {
    const newest = listModels(store)[0];
    if (!newest) throw new FedSegError('NOT_FOUND', 'the store has no usable model checkpoint (train one, or join a federation)');
    const info = store.getCheckpoint(Number(newest.id));
    if (!info) throw new FedSegError('NOT_FOUND', `checkpoint ${newest.id} no longer exists`);
    return info;
  }
  if (/^\d+$/.test(which)) {
    const info = store.getCheckpoint(Number(which));
    if (info) return info;
  }
  const byName = store.listCheckpoints().filter((c) => c.name === which);
  const info = byName[byName.length - 1];
  if (!info) {
    const names = [...new Set(store.listCheckpoints().filter((c) => c.modelKind !== 'adam-state').map((c) => c.name))];
    throw new FedSegError('NOT_FOUND', `no checkpoint '${which}' in the store (${names.length ? `have: ${names.slice(0, 8).join(', ')}` : 'it has none'})`);
  }
  return info;
}

async function loadFromCheckpoint(store: DatasetStore, which: string): Promise<Loaded> {
  const info = pickCheckpoint(store, which);
  const where = `checkpoint '${info.name}' (id ${info.id})`;
  if (info.modelKind === 'adam-state') throw new FedSegError('INVALID_ARGUMENT', `${where} is optimiser state, not a model`);
  if (isSoftmaxKind(info.modelKind)) throw softmaxError(info.modelKind, where);
  const blob = store.loadCheckpoint(info.id);
  let arrays;
  let model: SegModel & { shapes?: { name: string; shape: number[] }[] };
  try {
    // A frame written by saveModelFile/encodeModel carries its own spec; app and federation
    // checkpoints keep it in the checkpoint meta or the federation's model-spec setting instead.
    const d = decodeModel(blob);
    arrays = d.arrays;
    model = networkFromSpec(d.spec, where);
  } catch (e) {
    if (e instanceof FedSegError && e.code === 'UNSUPPORTED') throw e;
    arrays = decodeWeights(blob).arrays;
    model = await buildModel(modelConfigOf(info, store));
  }
  return { model, weights: namedArraysToWeights(arrays, model.shapes), source: where };
}

function chooseSplit(store: DatasetStore, ds: DatasetInfo, v: string | undefined): Split {
  if (v === undefined) return store.countSamples(ds.id, 'test') > 0 ? 'test' : 'all';
  if (v !== 'test' && v !== 'train' && v !== 'val' && v !== 'all') throw bad(`--split must be test, train, val or all, got '${v}'`);
  return v;
}

function checkCompatible(model: SegModel, ds: DatasetInfo, source: string): void {
  if (model.inChannels !== ds.channels)
    throw new FedSegError('SHAPE_MISMATCH', `${source} takes ${model.inChannels}-channel images but dataset '${ds.name}' has ${ds.channels} channel(s)`);
  if (model.classes !== ds.classes)
    throw new FedSegError('SHAPE_MISMATCH', `${source} predicts ${model.classes} class(es) but dataset '${ds.name}' has ${ds.classes} mask class(es)`);
}

export function toReport(ev: ModelEvaluation, ctx: { model: Loaded; ds: DatasetInfo; split: Split; threshold: number; backend: string }): EvalReport {
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
  return {
    model: { source: ctx.model.source, kind: ctx.model.model.kind, inChannels: ctx.model.model.inChannels, classes: ctx.model.model.classes },
    dataset: { id: ctx.ds.id, name: ctx.ds.name, split: ctx.split, images: ev.images },
    threshold: ctx.threshold,
    backend: ctx.backend,
    classes,
    meanDice: classes.reduce((s, c) => s + c.dice, 0) / classes.length,
    meanHd95: hds.length === classes.length ? hds.reduce((s, h) => s + h, 0) / hds.length : null,
  };
}

export function formatTable(r: EvalReport): string {
  const head = ['class', 'Dice %', 'HD95 px', 'images', 'hd95-undef', 'empty pred', 'empty gt'];
  const rows = r.classes.map((c) => [c.name, (c.dice * 100).toFixed(2), c.hd95 === null ? '-' : c.hd95.toFixed(2), String(c.images), String(c.hd95Undefined), String(c.emptyPred), String(c.emptyGt)]);
  rows.push(['mean', (r.meanDice * 100).toFixed(2), r.meanHd95 === null ? '-' : r.meanHd95.toFixed(2), String(r.dataset.images), '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `model ${r.model.source} (${r.model.kind}, ${r.model.inChannels} channel(s) -> ${r.model.classes} class(es))`,
    `dataset '${r.dataset.name}' split ${r.dataset.split}: ${r.dataset.images} image(s); threshold ${r.threshold}; backend ${r.backend}`,
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
    if (!['wasm', 'cpu', 'auto', 'webgpu', 'tensorflow', 'tensorflow-gpu'].includes(backend)) throw bad(`--backend must be wasm, cpu or auto, got '${backend}'`);
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
    const ds = store.getDataset(/^\d+$/.test(v.dataset) ? Number(v.dataset) : v.dataset) ?? store.getDataset(v.dataset);
    if (!ds) {
      const names = store.listDatasets().map((d) => d.name);
      throw new FedSegError('NOT_FOUND', `no dataset '${v.dataset}' in ${v.db} (${names.length ? `have: ${names.slice(0, 8).join(', ')}` : 'it has none'})`);
    }
    const split = chooseSplit(store, ds, v.split);
    const report = await initBackend({ backend: backend as BackendName | 'auto' });
    loaded = v.model ? await loadFromFile(v.model) : await loadFromCheckpoint(store, v.checkpoint!);
    checkCompatible(loaded.model, ds, loaded.source);
    const samples = store.loadSamples(ds.id, split === 'all' ? {} : { split });
    if (samples.length === 0) throw new FedSegError('NOT_FOUND', `dataset '${ds.name}' has no ${split === 'all' ? '' : `'${split}' `}samples${split === 'all' ? '' : ' (try --split all)'}`);
    const tty = process.stderr.isTTY === true;
    let lastDecile = -1;
    const ev = await evaluateModel(loaded.model, loaded.weights, samples, {
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
    const out = toReport(ev, { model: loaded, ds, split, threshold, backend: describeBackend(report) });
    console.log(v.json ? JSON.stringify(out, null, 2) : formatTable(out));
    return 0;
  } finally {
    if (loaded) tf.dispose(Object.values(loaded.weights));
    store.close();
  }
}
