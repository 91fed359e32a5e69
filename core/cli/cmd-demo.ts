// `fedseg demo` (npm run demo): FedAvg then ELCFS over the network on the built-in synthetic fundus
// sites, leave-one-site-out, every party a separate process on 127.0.0.1 (core/demo/demo-runner.ts).
// Prints the table (Dice and HD95 per class and method on the unseen site, last round) and writes
// demo-output/report.html (table, per-round curves, overlays) and demo-output/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FedSegError } from '../contract/errors.js';
import type { TrainMode } from '../contract/hub-protocol.js';
import { demoSetup, generateDemoData, runDemoMethod, type DemoOptions } from '../demo/demo-runner.js';
import { formatTable, renderReport, type DemoResult } from '../demo/demo-report.js';
import { initBackend, type BackendName } from '../backend.js';

export const summary = 'FedAvg vs ELCFS over a local hub + site processes on synthetic fundus data; table + HTML report';

const USAGE = `usage: fedseg demo [options]        (npm run demo -- [options])

  --sites N          number of synthetic fundus sites (default 4)
  --rounds N         federated rounds per method (default 25)
  --size PX          image size (default 64; must be a multiple of 16)
  --per-site N       images per site (default 20)
  --unseen SITE      held-out site: name (Domain2), 1-based index or letter A-D (default Domain1)
  --all-folds        run every leave-one-site-out fold (takes sites x longer)
  --methods LIST     fedavg,elcfs (default both, in that order)
  --base-width N     U-Net first-block width (default 8; reference 16)
  --batch N          local batch size (default 5, reference)
  --local-epochs N   local epochs per round (default 1, reference)
  --backend NAME     compute backend of the site processes (default wasm)
  --seed N           data / initialisation seed (default 1)
  --out DIR          output directory (default demo-output)

Defaults take ~3 min on 2 idle CPU cores (well inside 10 min) (see docs/federation.md).`;

function int(v: string | undefined, def: number, flag: string, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new FedSegError('INVALID_ARGUMENT', `--${flag} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        sites: { type: 'string' }, rounds: { type: 'string' }, size: { type: 'string' }, 'per-site': { type: 'string' }, unseen: { type: 'string' },
        'all-folds': { type: 'boolean' }, methods: { type: 'string' }, 'base-width': { type: 'string' }, batch: { type: 'string' },
        'local-epochs': { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
        'timeout-min': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', (e as Error).message);
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const size = int(v.size, 64, 'size', 16);
  if (size % 16) throw new FedSegError('INVALID_ARGUMENT', `--size must be a multiple of 16 (the U-Net pools 4 times), got ${size}`);
  const methods = (v.methods ?? 'fedavg,elcfs').split(',').map((m) => m.trim()) as TrainMode[];
  for (const m of methods) if (m !== 'fedavg' && m !== 'elcfs') throw new FedSegError('INVALID_ARGUMENT', `--methods takes fedavg and/or elcfs, got '${m}'`);
  const out = resolve(v.out ?? 'demo-output');
  const o: DemoOptions = {
    sites: int(v.sites, 4, 'sites', 3), perSite: int(v['per-site'], 20, 'per-site', 2), size, rounds: int(v.rounds, 25, 'rounds', 1),
    baseWidth: int(v['base-width'], 8, 'base-width', 1), batchSize: int(v.batch, 5, 'batch', 1), localEpochs: int(v['local-epochs'], 1, 'local-epochs', 1),
    seed: int(v.seed, 1, 'seed', 0), backend: v.backend ?? 'wasm', methods, workDir: join(out, 'work'), overlays: 4,
    timeoutMs: int(v['timeout-min'], 60, 'timeout-min', 1) * 60_000, log: (l) => console.log(l),
  };
  const t0 = Date.now();
  mkdirSync(out, { recursive: true });
  await initBackend({ backend: o.backend as BackendName });
  const data = generateDemoData(o);
  const names = data.map((d) => d.site);
  const pick = (u: string): string => {
    if (names.includes(u)) return u;
    if (/^\d+$/.test(u) && names[Number(u) - 1]) return names[Number(u) - 1]!;
    if (/^[A-Za-z]$/.test(u) && names[u.toUpperCase().charCodeAt(0) - 65]) return names[u.toUpperCase().charCodeAt(0) - 65]!;
    throw new FedSegError('INVALID_ARGUMENT', `--unseen '${u}' is not one of ${names.join(', ')} (or 1..${names.length}, A..)`);
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
  return 0;
}
