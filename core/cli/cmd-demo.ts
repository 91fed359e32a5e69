// `fedseg demo` (npm run demo): FedAvg then ELCFS over the network on the built-in synthetic fundus
// sites, leave-one-site-out, every party a separate process on 127.0.0.1. It is `fedseg experiment` on
// the built-in data with the demo's defaults (one fold, one seed; --all-folds and --seeds for more):
// the same runner (core/experiment, docs/experiments.md), the same table, report and resume.
import { resolve } from 'node:path';
import { intArg, parseCommandArgs, SEED_RANGE } from '../contract/cli-args.js';
import { EXIT } from '../contract/exit-codes.js';
import { describeBackend, initBackend, type BackendName } from '../backend.js';
import { runExperiment } from '../experiment/experiment.js';
import { methodLabel } from '../experiment/report.js';
import { checkImageSide, parseRunArgs, RUN_OPTIONS, runOptionsHelp } from './experiment-args.js';

export const summary = 'FedAvg vs ELCFS over a local hub + site processes on synthetic fundus data; table + HTML report';

const USAGE = `usage: fedseg demo [options]        (npm run demo -- [options])

  --sites N          number of synthetic fundus sites, 3-64 (default 4)
  --size PX          image size, 16-1024 (default 64)
  --per-site N       images per site, >= 2 (default 20)
  --seed N           seed of the synthetic images, 0-4294967295 (default 1)
  --unseen SITE      held-out site: name (Domain2), 1-based index or letter A-D (default Domain1)
  --all-folds        run every leave-one-site-out fold (takes sites x longer)
${runOptionsHelp({ rounds: 25, methods: 'fedavg,elcfs', seeds: '1', out: 'demo-output', baseWidth: 8 })}

Defaults take ~3 min on 2 idle CPU cores. It is fedseg experiment on the built-in data (docs/experiments.md).`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs(argv, {
    ...RUN_OPTIONS, sites: { type: 'string' }, size: { type: 'string' }, 'per-site': { type: 'string' }, seed: { type: 'string' },
    unseen: { type: 'string' }, 'all-folds': { type: 'boolean' },
  }, { prog: 'fedseg', command: 'demo' });
  if (v.help) {
    console.log(USAGE);
    return EXIT.OK;
  }
  const r = parseRunArgs(v, { rounds: 25, methods: ['fedavg', 'elcfs'], seeds: [1], baseWidth: 8 });
  const size = intArg(v.size, 'size', { min: 16, max: 1024 }) ?? 64;
  checkImageSide(size, r.model.config.depth!);
  const sites = intArg(v.sites, 'sites', { min: 3, max: 64 }) ?? 4;
  const perSite = intArg(v['per-site'], 'per-site', { min: 2, max: 100000 }) ?? 20;
  const dataSeed = intArg(v.seed, 'seed', SEED_RANGE) ?? 1;
  const out = resolve(v.out ?? 'demo-output');
  const report = await initBackend({ backend: r.backend as BackendName });
  const folds = v['all-folds'] ? [] : [v.unseen ?? '1'];
  console.log(`fedseg demo: ${sites} sites x ${perSite} images ${size}x${size}, ${r.rounds} rounds, U-Net base ${r.model.config.baseWidth}, ` +
    `methods ${r.methods.map(methodLabel).join(' then ')}, ${v['all-folds'] ? 'every site unseen in turn' : `unseen ${v.unseen ?? 'Domain1'}`}, ` +
    `seed(s) ${r.seeds.join(', ')}; every site is a ${r.inProcess ? 'client in this process' : 'process'} talking to a local hub`);
  const res = await runExperiment({
    settings: { data: { source: 'builtin-fundus', sites, perSite, size, seed: dataSeed }, rounds: r.rounds, model: r.model, train: r.train, backend: r.backend },
    folds, methods: r.methods, seeds: r.seeds, lastK: r.lastK, out, inProcess: r.inProcess, timeoutMs: r.timeoutMs, overlays: r.overlays,
    keepStores: r.keepStores, fresh: r.fresh,
    title: `FedSeg demo: ${r.methods.map(methodLabel).join(' vs ')} on an unseen site`,
    description: [
      `Synthetic multi-site fundus data (${sites} sites x ${perSite} images of ${size}x${size}, seed ${dataSeed}). Leave-one-site-out: the unseen site never trains and never shares spectra; it evaluates the global model after every round over the network.`,
      `U-Net base width ${r.model.config.baseWidth}, ${r.rounds} rounds x ${r.train.localEpochs} local epoch(s), batch ${r.train.batchSize}, Adam lr ${r.train.lr}; backend ${describeBackend(report)}.`,
      'Dice per class (disc = optic disc incl. cup, cup), HD95 in pixels.',
    ],
    log: (l) => console.log(l),
  });
  console.log('\n' + res.text);
  console.log(`\nreport: ${res.reportPath}  (results.json beside it; ${(res.elapsedMs / 1000).toFixed(0)} s)`);
  return EXIT.OK;
}
