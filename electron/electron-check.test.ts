// `npm start` (electron/start.mjs) and the pre-check of `npm run dist` (electron/check-dist.mjs) as
// processes, on project folders built for each case: no Electron package, the package without its
// binary, another version than package.json pins, and everything there. The scripts are copied into
// each folder so they resolve Electron from it (the folder's node_modules), as they do from the repo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
const PINNED = '41.7.1';

/** A project folder: package.json pinning Electron, and node_modules/electron as `electron` says. */
function project(electron: 'none' | 'no-binary' | 'other-version' | 'complete'): string {
  const root = mkdtempSync(join(tmpdir(), `fedseg-electron-${electron}-`));
  mkdirSync(join(root, 'electron'));
  for (const f of ['electron-check.mjs', 'check-dist.mjs', 'start.mjs']) copyFileSync(join(here, f), join(root, 'electron', f));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'p', type: 'module', optionalDependencies: { electron: PINNED } }));
  if (electron !== 'none') {
    const pkg = join(root, 'node_modules', 'electron');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'electron', version: electron === 'other-version' ? '45.5.0' : PINNED }));
    if (electron === 'complete') {
      writeFileSync(join(pkg, 'path.txt'), 'electron');
      writeFileSync(join(pkg, 'dist', 'electron'), '');
    }
  }
  return root;
}

function run(root: string, script: string) {
  const env = { ...process.env };
  delete env.ELECTRON_OVERRIDE_DIST_PATH;
  const r = spawnSync(process.execPath, [join(root, 'electron', script)], { cwd: root, env, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function oneLine(s: string): string {
  const lines = s.trim().split('\n');
  assert.equal(lines.length, 1, s);
  return lines[0]!;
}

test('missing Electron package, missing binary and a stale version: one line each, exit 1, for npm start and npm run dist', () => {
  const roots = { none: project('none'), 'no-binary': project('no-binary'), 'other-version': project('other-version') };
  try {
    for (const [script, prefix] of [['start.mjs', 'FedSeg desktop: '], ['check-dist.mjs', 'npm run dist: ']] as const) {
      const none = run(roots.none, script);
      assert.equal(none.code, 1, none.err);
      assert.equal(oneLine(none.err), `${prefix}Electron is not installed (an optional dependency, which npm leaves out when its install fails): run \`npm install\` with network access (it installs electron ${PINNED}, pinned in package.json), or use \`npm run serve\` (FedSeg in the browser)`);
      const noBinary = run(roots['no-binary'], script);
      assert.equal(noBinary.code, 1, noBinary.err);
      assert.equal(oneLine(noBinary.err), `${prefix}Electron ${PINNED}'s binary is not downloaded (its install script did not run or could not reach GitHub): run \`node node_modules/electron/install.js\` with network access, or use \`npm run serve\` (FedSeg in the browser)`);
      const stale = run(roots['other-version'], script);
      assert.equal(stale.code, 1, stale.err);
      assert.match(oneLine(stale.err), new RegExp(`^${prefix}node_modules holds Electron 45\\.5\\.0 but package.json pins ${PINNED.replace(/\./g, '\\.')}: run \`npm install\``));
    }
  } finally {
    for (const r of Object.values(roots)) rmSync(r, { recursive: true, force: true });
  }
});

test('npm run dist goes on when the pinned package and its binary are there', () => {
  const root = project('complete');
  try {
    const r = run(root, 'check-dist.mjs');
    assert.equal(r.code, 0, r.err);
    assert.equal(oneLine(r.out), `npm run dist: packaging with Electron ${PINNED}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
