#!/usr/bin/env node
// Runs every *.test.ts under the given roots with node's own test runner (through tsx).
// Node 20's `--test` takes no globs, so the file list is made here. --test-force-exit: a test file whose
// tests are done exits even if a failed test left a socket or timer open (a failure must not hang CI);
// --test-timeout bounds any single test (FEDSEG_TEST_TIMEOUT_MS, default 5 min); FEDSEG_THREADS defaults to
// the cores per concurrent test file. Extra args pass through:
//   node scripts/run-tests.mjs [--only-dir core/freq] [node --test flags...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const roots = ['core', 'federation-hub', 'electron', 'renderer/src', 'test'];
const args = process.argv.slice(2);
let dirs = roots;
const onlyIdx = args.indexOf('--only-dir');
if (onlyIdx >= 0) {
  dirs = [args[onlyIdx + 1]];
  args.splice(onlyIdx, 2);
}
const files = [];
const walk = (d) => {
  let entries;
  try { entries = readdirSync(d); } catch { return; }
  for (const e of entries) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e.endsWith('.test.ts')) files.push(relative(process.cwd(), p));
  }
};
dirs.forEach(walk);
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = process.env.FEDSEG_TEST_CONCURRENCY ?? '2';
// Test files run `concurrency` at a time, so each gets its share of the cores for wasm's threads
// (more threads than cores only makes XNNPACK's threads wait for each other). The threaded-backend
// tests set their own count.
const env = { ...process.env };
env.FEDSEG_THREADS ??= String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, Number(concurrency) || 1))));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-force-exit', `--test-timeout=${process.env.FEDSEG_TEST_TIMEOUT_MS ?? 300000}`, `--test-concurrency=${concurrency}`, ...args, ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
