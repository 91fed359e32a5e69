// `fedseg train`: local training on a stored dataset from the command line, as the app's Train page
// does it (core/app/training-job.ts: the network from a ModelSpec, the U-Net depth fitted to the image
// size) through the run API (core/run/local-run.ts: epochs, held-out Dice on the dataset's 'val' split
// when it has one, batch-norm calibration, a checkpoint with optimiser state after every epoch). Any
// registered kind trains: the reference U-Net and the ASC U-Net (docs/algorithms.md §3, §7, Dice
// loss) and ASCNet-7/-14 with the classic and dilated CNN baselines (§7, softmax cross-entropy). The
// run is recorded in the store like the app's (so the app lists it) and the model stays in the store's
// model registry (core/run/checkpoints.ts), where `fedseg eval --checkpoint` and the app find it;
// --out also writes a self-describing model file. Progress goes to stderr, the result to stdout.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { choiceArg, intArg, numArg, parseCommandArgs, SEED_RANGE } from '../contract/cli-args.js';
import { FedSegError } from '../contract/errors.js';
import { describeFailure, EXIT, exitCodeHelp, UsageError } from '../contract/exit-codes.js';
import { MODEL_KINDS, MODEL_OUTPUT, describeSpec, type ModelKind, type ModelSpecInput } from '../contract/model-spec.js';
import type { Sample } from '../contract/image.js';
import { describeBackend, initBackend, type BackendName } from '../backend.js';
import { backendArg } from './backend-arg.js';
import { specForTraining } from '../app/training-job.js';
import { checkSoftmaxMasks } from '../asc/asc-experiment.js';
import { saveModelFile } from '../models/model-io.js';
import { buildNetwork, trainableParamCount } from '../models/registry.js';
import { disposeWeights } from '../models/weight-map.js';
import { listModelRecords, readModel } from '../run/checkpoints.js';
import { runLocal } from '../run/local-run.js';
import type { DatasetInfo, DatasetStore } from '../store/dataset-store.js';
import { findDataset, splitOrAll } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export const summary = 'train a model on a stored dataset (any kind, ASCNet-7/-14 included); it stays in the store';

const USAGE = `usage: fedseg train --db SITE.db --dataset NAME|ID --model KIND [options]

Trains a network on a dataset of a FedSeg store through the run API, as the app's Train page does:
on the dataset's 'train' split (all its images when it has none), checking Dice on its 'val' split
after every epoch when it has one. The model is kept in the store (a checkpoint after every epoch, the
last one kept), so \`fedseg eval --checkpoint latest\` and the app's Segment view can use it.

  --db FILE           the store (SQLite); it must not be open in the app or \`fedseg serve\`
  --dataset NAME|ID   the dataset to train on
  --model KIND        ${MODEL_KINDS.join(' | ')}
  --steps N           Adam steps in all, 1-10000000 (the epochs follow from it), or
  --epochs N          passes over the training images, 1-1000 (default 2)
  --batch N           images per step, 1-64 (default 2)
  --lr X              Adam learning rate, > 0 (default 0.001)
  --seed N            initialisation and batch order, 0-4294967295 (default 1)
  --name NAME         the checkpoint's name (default "<kind> on <dataset>")
  --base-width N      U-Nets: channels of the first level, 2-64 (default 8)
  --depth N           U-Nets: levels, 2-5, reduced to fit the image size (default 4)
  --normalise M       network input: none (pixel values as stored) | zscore (default none)
  --rate-beta X       ASC models: initial beta of the rate field's last batch norm (default 1)
  --init C            start from a model of the store (its name, id or 'latest') instead of random
                      weights; its spec is used (--model, if given, must match)
  --out FILE          also write the trained model as a model file (weights + spec)
  --backend NAME      wasm | cpu | webgpu | tensorflow | tensorflow-gpu | auto (default auto)

${exitCodeHelp()}`;

function parse(argv: string[]) {
  return parseCommandArgs(argv, {
    db: { type: 'string' }, dataset: { type: 'string' }, model: { type: 'string' }, steps: { type: 'string' }, epochs: { type: 'string' },
    batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' }, name: { type: 'string' }, 'base-width': { type: 'string' },
    depth: { type: 'string' }, normalise: { type: 'string' }, 'rate-beta': { type: 'string' }, init: { type: 'string' }, out: { type: 'string' },
    backend: { type: 'string' },
  }, { prog: 'fedseg', command: 'train' }).values;
}

/** Every sample's mask has the dataset's class count, and the masks suit the network's output. */
function checkMasks(samples: Sample[], ds: DatasetInfo, kind: ModelKind, classes: number): void {
  if (classes !== ds.classes)
    throw new FedSegError('SHAPE_MISMATCH', `the model predicts ${classes} class(es) but dataset '${ds.name}' has ${ds.classes} mask class(es)`);
  const odd = samples.find((s) => s.mask.classes !== classes);
  if (odd) throw new FedSegError('SHAPE_MISMATCH', `image '${odd.name}' of dataset '${ds.name}' has a mask with ${odd.mask.classes} class(es); the model predicts ${classes}`);
  if (MODEL_OUTPUT[kind] === 'softmax') checkSoftmaxMasks(samples, classes, `dataset '${ds.name}' for ${kind}`);
}

function pickInit(store: DatasetStore, which: string) {
  const models = listModelRecords(store, store);
  const hit = which === 'latest' ? models.at(-1) : (/^\d+$/.test(which) ? models.find((m) => m.info.id === Number(which)) : undefined) ?? models.filter((m) => m.info.name === which).at(-1);
  if (!hit) {
    const names = [...new Set(models.map((m) => m.info.name))];
    throw new FedSegError('NOT_FOUND', `no model '${which}' in the store to start from (${names.length ? `have: ${names.slice(0, 8).join(', ')}` : 'it has no models'})`);
  }
  return readModel(store, hit.info.id, store);
}

export async function run(argv: string[]): Promise<number> {
  try {
    const v = parse(argv);
    if (v.help) {
      console.log(USAGE);
      return EXIT.OK;
    }
    const steps = intArg(v.steps, 'steps', { min: 1, max: 1e7 });
    const epochsArg = intArg(v.epochs, 'epochs', { min: 1, max: 1000 });
    if (steps !== undefined && epochsArg !== undefined) throw new UsageError('give --steps or --epochs, not both');
    const batch = intArg(v.batch, 'batch', { min: 1, max: 64 }) ?? 2;
    const lr = numArg(v.lr, 'lr', { min: 0, max: 1, exclusive: true }) ?? 1e-3;
    const seed = intArg(v.seed, 'seed', SEED_RANGE) ?? 1;
    const baseWidth = intArg(v['base-width'], 'base-width', { min: 2, max: 64 }) ?? 8;
    const depth = intArg(v.depth, 'depth', { min: 2, max: 5 }) ?? 4;
    const rateBeta = numArg(v['rate-beta'], 'rate-beta', { min: -100, max: 100 });
    const normalise = choiceArg(v.normalise, 'normalise', ['none', 'zscore'] as const, 'none');
    const backend = backendArg(v.backend) ?? 'auto';
    const kind = v.model === undefined ? undefined : choiceArg(v.model, 'model', MODEL_KINDS, 'unet');
    if (!v.db) throw new UsageError('--db FILE is required (the store holding the dataset)');
    if (!v.dataset) throw new UsageError('--dataset NAME|ID is required');
    if (!kind && !v.init) throw new UsageError(`--model KIND is required (${MODEL_KINDS.join(', ')}), or --init a stored model`);
    if (!existsSync(v.db)) throw new FedSegError('NOT_FOUND', `store ${v.db} does not exist`);
    return await train({ ...v, db: v.db, dataset: v.dataset }, { kind, steps, epochs: epochsArg ?? 2, batch, lr, seed, baseWidth, depth, rateBeta, normalise, backend });
  } catch (e) {
    const f = describeFailure(e, 'fedseg train --help');
    console.error(`fedseg train: ${f.line}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return f.code;
  }
}

interface TrainArgs {
  kind: ModelKind | undefined;
  steps: number | undefined;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  baseWidth: number;
  depth: number;
  rateBeta: number | undefined;
  normalise: 'none' | 'zscore';
  backend: BackendName | 'auto';
}

async function train(v: { db: string; dataset: string; name?: string; init?: string; out?: string }, a: TrainArgs): Promise<number> {
  // One FedSeg per store: not while the app or `fedseg serve` has it open (docs/security.md §5).
  const store = openSqliteStore(resolve(v.db), { instanceLock: true });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let runId: number | null = null;
  try {
    const ds = findDataset(store, v.dataset, v.db);
    const train = splitOrAll(store, ds, 'train');
    const val = store.countSamples(ds.id, 'val') > 0 && store.countSamples(ds.id, 'train') > 0 ? store.loadSamples(ds.id, { split: 'val' }).filter((s) => s.meta?.hasMask !== false) : [];
    if (train.length < a.batch)
      throw new FedSegError('INVALID_INPUT', `dataset '${ds.name}' has ${train.length} training image(s) with masks, fewer than the batch size ${a.batch}; import more images or use --batch ${train.length}`);
    const s0 = train[0]!;
    const odd = train.find((s) => s.image.width !== s0.image.width || s.image.height !== s0.image.height || s.image.channels !== s0.image.channels);
    if (odd) throw new FedSegError('SHAPE_MISMATCH', `dataset '${ds.name}' mixes image sizes ('${odd.name}' is ${odd.image.width}x${odd.image.height}x${odd.image.channels}, '${s0.name}' ${s0.image.width}x${s0.image.height}x${s0.image.channels}); re-import it with one size (fedseg data import --resize)`);
    const shape = { h: s0.image.height, w: s0.image.width, c: s0.image.channels, k: ds.classes };

    // The network: the stored model's spec (--init), or the Train page's choice for this image shape.
    const init = v.init ? pickInit(store, v.init) : null;
    let spec: ModelSpecInput;
    if (init) {
      if (a.kind && a.kind !== init.spec.kind) throw new UsageError(`--model ${a.kind} does not match the --init model (${init.spec.kind})`);
      spec = init.spec;
    } else {
      const base = specForTraining({ name: 'cli', datasetIds: [String(ds.id)], modelKind: a.kind!, baseWidth: a.baseWidth, depth: a.depth, epochs: a.epochs, batchSize: a.batch, learningRate: a.lr, elcfs: false, maxSteps: 0, seed: a.seed }, shape);
      const config = { ...(base.config ?? {}), ...(a.rateBeta !== undefined && base.kind !== 'unet' ? { rateBeta: a.rateBeta } : {}) };
      spec = { ...base, input: { normalise: a.normalise }, ...(Object.keys(config).length ? { config } : {}) } as ModelSpecInput;
    }
    const net = buildNetwork(spec);
    if (net.spec.inChannels !== shape.c)
      throw new FedSegError('SHAPE_MISMATCH', `the model takes ${net.spec.inChannels}-channel images but dataset '${ds.name}' has ${shape.c} channel(s)`);
    checkMasks([...train, ...val], ds, net.spec.kind, net.spec.classes);

    const report = await initBackend({ backend: a.backend });
    const perEpoch = Math.ceil(train.length / a.batch);
    const epochs = a.steps !== undefined ? Math.ceil(a.steps / perEpoch) : a.epochs;
    const name = v.name ?? `${net.spec.kind} on ${ds.name}`;
    console.error(`backend: ${describeBackend(report)}`);
    console.error(`model: ${describeSpec(net.spec)}, ${trainableParamCount(net).toLocaleString('en')} parameters${init ? `, from '${init.info.name}'` : ''}`);
    console.error(`data: dataset '${ds.name}', ${train.length} training image(s) ${shape.w}x${shape.h}x${shape.c}${val.length ? `, ${val.length} held out ('val' split)` : ''}; ${a.steps ?? perEpoch * epochs} steps (${epochs} epoch(s)) x batch ${a.batch}`);
    const config = { name, datasetIds: [String(ds.id)], modelKind: net.spec.kind, baseWidth: a.baseWidth, depth: a.depth, epochs, batchSize: a.batch, learningRate: a.lr, elcfs: false, maxSteps: a.steps ?? 0, seed: a.seed };
    runId = store.createRun({ name, config: { ...config, mode: 'local', source: 'fedseg train', model: net.spec } }).id;
    const every = Math.max(1, Math.floor((a.steps ?? perEpoch * epochs) / 10));
    const r = await runLocal({
      net, sites: [{ site: ds.name, train, val }], ledger: store, runId, name, signal: ac.signal, keepWeights: !!v.out,
      ...(init ? { init: init.arrays } : {}),
      config: { epochs, batchSize: a.batch, learningRate: a.lr, seed: a.seed, elcfs: false, maxSteps: a.steps ?? 0 },
      onProgress: (p) => {
        if (p.phase === 'training' && (p.step % every === 0 || p.step === p.totalSteps)) {
          const loss = Object.entries(p.losses).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ');
          console.error(`step ${p.step}/${p.totalSteps} (epoch ${p.epoch}/${p.epochs}) ${loss}${p.etaSec !== null ? `, ${p.samplesPerSec.toFixed(1)} images/s, ~${Math.ceil(p.etaSec)} s left` : ''}`);
        } else if (p.phase === 'evaluating' && p.dice) console.error(`epoch ${p.epoch}: ${p.message}`);
      },
    });
    store.finishRun(runId, r.status, { message: r.message, modelId: r.modelId });
    runId = null;
    try {
      if (v.out && r.weights) await saveModelFile(v.out, net.spec, r.weights);
    } finally {
      if (r.weights) disposeWeights(r.weights);
    }
    const kept = r.modelId !== null ? store.getCheckpoint(r.modelId) : null;
    if (r.status === 'cancelled') {
      console.log(`cancelled: ${r.message}${kept ? `; kept '${kept.name}' (id ${kept.id})` : ''}`);
      return EXIT.INTERRUPTED;
    }
    console.log(`trained ${net.spec.kind} on '${ds.name}': ${r.message}; model '${kept?.name}' (id ${kept?.id}) kept in ${v.db}${v.out ? ` and written to ${v.out}` : ''}`);
    console.log(`evaluate it: fedseg eval --db ${v.db} --dataset ${ds.name} --checkpoint ${kept?.id}`);
    return EXIT.OK;
  } catch (e) {
    if (runId !== null) store.finishRun(runId, 'failed', { message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    store.close();
  }
}
