// `fedseg demo` (npm run demo): FedAvg then ELCFS over the network on the built-in synthetic fundus
// sites, leave-one-site-out, every party a separate process on 127.0.0.1 (core/demo/demo-runner.ts).
// Prints the table (Dice and HD95 per class and method on the unseen site, last round) and writes
// demo-output/report.html (table, per-round curves, overlays) and demo-output/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { intArg, parseCommandArgs, SEED_RANGE } from '../contract/cli-args.js';
import { EXIT, UsageError } from '../contract/exit-codes.js';
import type { TrainMode } from '../contract/hub-protocol.js';
import { demoSetup, generateDemoData, runDemoMethod, type DemoOptions } from '../demo/demo-runner.js';
import { formatTable, renderReport, type DemoResult } from '../demo/demo-report.js';
import { initBackend, type BackendName } from '../backend.js';
import { backendArg } from './backend-arg.js';

export const summary = 'FedAvg vs ELCFS over a local hub + site processes on synthetic fundus data; table + HTML report';

const USAGE = `usage: fedseg demo [options]        (npm run demo -- [options])

  --sites N          number of synthetic fundus sites, 3-64 (default 4)
  --rounds N         federated rounds per method, >= 1 (default 25)
  --size PX          image size, 16-1024 and a multiple of 16 (default 64)
  --per-site N       images per site, >= 2 (default 20)
  --unseen SITE      held-out site: name (Domain2), 1-based index or letter A-D (default Domain1)
  --all-folds        run every leave-one-site-out fold (takes sites x longer)
  --methods LIST     fedavg,elcfs (default both, in that order)
  --base-width N     U-Net first-block width (default 8; reference 16)
  --batch N          local batch size (default 5, reference)
  --local-epochs N   local epochs per round (default 1, reference)
  --backend NAME     compute backend of the site processes (default wasm)
  --seed N           data / initialisation seed, 0-4294967295 (default 1)
  --out DIR          output directory (default demo-output)
  --timeout-min N    give up a method's run after N minutes (default 60)

Defaults take ~3 min on 2 idle CPU cores (well inside 10 min) (see docs/federation.md).`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs(argv, {
    sites: { type: 'string' }, rounds: { type: 'string' }, size: { type: 'string' }, 'per-site': { type: 'string' }, unseen: { type: 'string' },
    'all-folds': { type: 'boolean' }, methods: { type: 'string' }, 'base-width': { type: 'string' }, batch: { type: 'string' },
    'local-epochs': { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
    'timeout-min': { type: 'string' },
  }, { prog: 'fedseg', command: 'demo' });
  if (v.help) {
    console.log(USAGE);
    return EXIT.OK;
  }
  const size = intArg(v.size, 'size', { min: 16, max: 1024 }) ?? 64;
  if (size % 16) throw new UsageError(`--size must be a multiple of 16 (the U-Net pools 4 times), got ${size}`);
  const methods = (v.methods ?? 'fedavg,elcfs').split(',').map((m) => m.trim()) as TrainMode[];
  for (const m of methods) if (m !== 'fedavg' && m !== 'elcfs') throw new UsageError(`--methods takes fedavg and/or elcfs, got '${m}'`);
  const out = resolve(v.out ?? 'demo-output');
  const o: DemoOptions = {
    sites: intArg(v.sites, 'sites', { min: 3, max: 64 }) ?? 4, perSite: intArg(v['per-site'], 'per-site', { min: 2, max: 100000 }) ?? 20, size,
    rounds: intArg(v.rounds, 'rounds', { min: 1, max: 100000 }) ?? 25, baseWidth: intArg(v['base-width'], 'base-width', { min: 2, max: 256 }) ?? 8,
    batchSize: intArg(v.batch, 'batch', { min: 1, max: 4096 }) ?? 5, localEpochs: intArg(v['local-epochs'], 'local-epochs', { min: 1, max: 1000 }) ?? 1,
    seed: intArg(v.seed, 'seed', SEED_RANGE) ?? 1, backend: backendArg(v.backend) ?? 'wasm', methods, workDir: join(out, 'work'), overlays: 4,
    timeoutMs: (intArg(v['timeout-min'], 'timeout-min', { min: 1 }) ?? 60) * 60_000, log: (l) => console.log(l),
  };
  const t0 = Date.now();
  mkdirSync(out, { recursive: true, mode: 0o700 }); // site stores inside: docs/security.md §5
  await initBackend({ backend: o.backend as BackendName });
  const data = generateDemoData(o);
  const names = data.map((d) => d.site);
  const pick = (u: string): string => {
    if (names.includes(u)) return u;
    if (/^\d+$/.test(u) && names[Number(u) - 1]) return names[Number(u) - 1]!;
    if (/^[A-Za-z]$/.test(u) && names[u.toUpperCase().charCodeAt(0) - 65]) return names[u.toUpperCase().charCodeAt(0) - 65]!;
    throw new UsageError(`--unseen '${u}' is not one of ${names.join(', ')} (or 1..${names.length}, A..)`);
  };
  const folds = v['all-folds'] ? names : [pick(v.unseen ?? names[0]!)];
  console.log(`fedseg demo: ${o.sites} sites x ${o.perSite} images ${size}x${size}, ${o.rounds} rounds, U-Net base ${o.baseWidth}, ` +
    `methods ${methods.join(' then ')}, unseen ${folds.join(', ')}; every site is a process talking to a local hub`);
  const result: DemoResult = { setup: demoSetup(o, names), runs: [], startedAt: new Date(t0).toISOString(), elapsedMs: 0 };
  for (const unseen of folds) {
    for (const method of methods) {
      result.runs.push(await runDemoMethod(o, data, unseen, method));
      result.elapsedMs = Date.now() - t0;
      writeFileSync(join(out, 'results.json'), JSON.stringify({ ...result, runs: result.runs.map((r) => ({ ...r, overlays: r.overlays.map((x) => ({ name: x.name, dice: x.dice })) })) }, null, 2));
      writeFileSync(join(out, 'report.html'), renderReport(result));
    }
  }
  result.elapsedMs = Date.now() - t0;
  writeFileSync(join(out, 'report.html'), renderReport(result));
  console.log('\n' + formatTable(result));
  console.log(`\nreport: ${join(out, 'report.html')}  (results.json beside it; ${(result.elapsedMs / 1000).toFixed(0)} s)`);
  return EXIT.OK;
}
