// `fedseg experiment`: leave-one-site-out comparison of federated methods on a consortium's own stored
// datasets (each dataset one site) or on the built-in synthetic fundus sites, over several seeds, every
// run a real hub and real sites on 127.0.0.1 (core/experiment, docs/experiments.md). Prints the table
// and writes DIR/report.html and DIR/results.json; the same command again continues a stopped one.
import { resolve } from 'node:path';
import { intArg, parseCommandArgs, SEED_RANGE } from '../contract/cli-args.js';
import { EXIT, UsageError } from '../contract/exit-codes.js';
import { describeBackend, initBackend, type BackendName } from '../backend.js';
import { runExperiment } from '../experiment/experiment.js';
import type { ExperimentData } from '../experiment/site-data.js';
import { checkImageSide, parseRunArgs, RUN_OPTIONS, runOptionsHelp } from './experiment-args.js';
import { methodLabel } from '../experiment/report.js';

export const summary = 'leave-one-site-out comparison of federated methods over seeds, on stored or built-in sites';

const USAGE = `usage: fedseg experiment [--db FILE [--datasets LIST]] [options]

Every run is one federation on this computer: a hub process and one site per dataset, each site with
its own store; the held-out (unseen) site never trains and only evaluates each round's global model.

Sites:
  --db FILE          a FedSeg store whose datasets are the sites (opened read-only); without it the
                     built-in synthetic fundus sites are used
  --datasets LIST    the datasets to use, comma-separated names (default: all in the store; >= 3)
  --sites N          built-in data: number of sites, 3-64 (default 4)
  --per-site N       built-in data: images per site, >= 2 (default 20)
  --size PX          built-in data: image side, 16-1024 (default 64)
  --data-seed N      built-in data: seed of the images (default 1)
  --unseen LIST      folds to run: unseen sites by name or 1-based index (default: every site)
  --all-folds        every site unseen in turn (the default; refuses --unseen)

Runs:
${runOptionsHelp({ rounds: 20, methods: 'fedavg,elcfs', seeds: '3', out: 'experiment-output', baseWidth: 8 })}

Writes DIR/report.html (tables, curves, overlays), DIR/results.json (every run, per round and per
image) and DIR/runs/*.json; see docs/experiments.md.`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs(argv, {
    ...RUN_OPTIONS, db: { type: 'string' }, datasets: { type: 'string' }, sites: { type: 'string' }, 'per-site': { type: 'string' },
    size: { type: 'string' }, 'data-seed': { type: 'string' }, unseen: { type: 'string' }, 'all-folds': { type: 'boolean' },
  }, { prog: 'fedseg', command: 'experiment' });
  if (v.help) {
    console.log(USAGE);
    return EXIT.OK;
  }
  const r = parseRunArgs(v, { rounds: 20, methods: ['fedavg', 'elcfs'], seeds: [1, 2, 3], baseWidth: 8 });
  let data: ExperimentData;
  if (v.db !== undefined) {
    for (const k of ['sites', 'per-site', 'size', 'data-seed'] as const) if (v[k] !== undefined) throw new UsageError(`--${k} is for the built-in data; with --db the store's datasets are the sites`);
    data = { source: 'store', db: resolve(v.db), datasets: v.datasets ? v.datasets.split(',').map((s) => s.trim()).filter(Boolean) : [] };
  } else {
    if (v.datasets !== undefined) throw new UsageError('--datasets needs --db');
    const size = intArg(v.size, 'size', { min: 16, max: 1024 }) ?? 64;
    checkImageSide(size, r.model.config.depth!);
    data = { source: 'builtin-fundus', sites: intArg(v.sites, 'sites', { min: 3, max: 64 }) ?? 4, perSite: intArg(v['per-site'], 'per-site', { min: 2, max: 100000 }) ?? 20, size, seed: intArg(v['data-seed'], 'data-seed', SEED_RANGE) ?? 1 };
  }
  const out = resolve(v.out ?? 'experiment-output');
  const report = await initBackend({ backend: r.backend as BackendName });
  if (v['all-folds'] && v.unseen !== undefined) throw new UsageError('--all-folds and --unseen exclude each other');
  const unseen = v.unseen ? v.unseen.split(',').map((s) => s.trim()).filter(Boolean) : [];
  const res = await runExperiment({
    settings: { data, rounds: r.rounds, model: r.model, train: r.train, backend: r.backend },
    folds: unseen, methods: r.methods, seeds: r.seeds, lastK: r.lastK, out, inProcess: r.inProcess, timeoutMs: r.timeoutMs,
    overlays: r.overlays, keepStores: r.keepStores, fresh: r.fresh,
    title: `FedSeg experiment: ${r.methods.map(methodLabel).join(' vs ')} on unseen sites`,
    description: [
      data.source === 'store' ? `Sites: the datasets of ${data.db}.` : `Sites: built-in synthetic fundus data (${data.sites} sites x ${data.perSite} images of ${data.size}x${data.size}, data seed ${data.seed}).`,
      `Network ${r.model.kind} (base width ${r.model.config.baseWidth}, depth ${r.model.config.depth}); ${r.rounds} rounds x ${r.train.localEpochs} local epoch(s), batch ${r.train.batchSize}, Adam lr ${r.train.lr}, CFSI alpha ${r.train.alpha}; backend ${describeBackend(report)}.`,
      `Every run: a hub process and ${r.inProcess ? 'the sites inside the experiment process' : 'one process per site'} on 127.0.0.1, each site with its own store.`,
    ],
    log: (l) => console.log(l),
  });
  console.log('\n' + res.text);
  console.log(`\nreport: ${res.reportPath}\nresults: ${res.resultsPath}  (${res.ran} run(s) now, ${res.reused} reused; ${(res.elapsedMs / 1000).toFixed(0)} s)`);
  return EXIT.OK;
}
