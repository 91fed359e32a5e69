// Runs every bench/*.bench.ts (or those named by --only) and prints their tables.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTable, type BenchContext, type BenchTable } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flags: Record<string, string> = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a.startsWith('--')) {
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) { flags[a.slice(2)] = next; i++; } else flags[a.slice(2)] = 'true';
  }
}
if (flags.help) {
  console.log('usage: npm run bench -- [--backend wasm|cpu|webgpu|tensorflow|all] [--only NAME[,NAME]] [--runs N]');
  process.exit(0);
}
const ctx: BenchContext = {
  backends: (flags.backend ?? 'auto').split(','),
  runs: Number(flags.runs ?? 5),
  flags,
};
const only = flags.only?.split(',');
const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
let failed = 0;
for (const f of files) {
  const name = f.replace(/\.bench\.ts$/, '');
  if (only && !only.includes(name)) continue;
  const t0 = Date.now();
  try {
    const mod = (await import(`./${f}`)) as { default: (c: BenchContext) => Promise<BenchTable[]> };
    const tables = await mod.default(ctx);
    for (const t of tables) console.log('\n' + renderTable(t));
    console.log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.error(`\nbench ${name} failed: ${(e as Error).stack ?? e}`);
  }
}
process.exit(failed ? 1 : 0);
