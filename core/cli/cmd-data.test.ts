// `fedseg data`: help, generate -> import -> list -> stats round trip, exit codes and one-line errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './cmd-data.js';
import { captureCli } from '../../test/helpers/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]) => captureCli(run, argv);

test('help for every subcommand exits 0', async () => {
  for (const sub of ['generate', 'import', 'list', 'stats', 'rename', 'delete']) {
    const r = await cli(sub, '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`usage: fedseg data ${sub}`));
  }
  assert.match((await cli('--help')).out, /generate .*import .*list/s);
});

test('generate (files and store) -> import -> list -> stats -> rename -> delete', async () => {
  const out = join(dir, 'dofe');
  const g = await cli('generate', '--kind', 'fundus', '--sites', '2', '--per-site', '5', '--size', '24', '--seed', '3', '--out', out);
  assert.equal(g.code, 0, g.err);
  assert.ok(existsSync(join(out, 'Domain2/test/ROIs/mask/Domain2-0004.png')));
  const db = join(dir, 'site.sqlite');
  const dry = await cli('import', '--db', db, '--format', 'dofe', out, '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /would import Domain1: 5 samples.*splits train 4, test 1/);
  const imp = await cli('import', '--db', db, '--format', 'dofe', out, '--prefix', 'A-');
  assert.equal(imp.code, 0, imp.err);
  assert.match(imp.err, /import 10\/10 \(100%\) files/);
  const gen = await cli('generate', '--kind', 'prostate', '--sites', '1', '--per-site', '6', '--depth', '6', '--size', '20', '--db', db);
  assert.equal(gen.code, 0, gen.err);
  const list = await cli('list', '--db', db);
  assert.match(list.out, /A-Domain1 +fundus +5 samples/);
  assert.match(list.out, /RUNMC +prostate +6 samples/);
  const grid = join(dir, 'grid.png');
  const st = await cli('stats', '--db', db, '--dataset', 'RUNMC', '--grid', grid, '--grid-size', '16');
  assert.equal(st.code, 0, st.err);
  assert.match(st.out, /RUNMC \(id 3, prostate\): 6 samples/);
  assert.match(st.out, /gland: .*% of pixels, \d+ empty/);
  assert.ok(existsSync(grid));
  const js = JSON.parse((await cli('stats', '--db', db, '--json')).out) as { name: string; count: number }[];
  assert.deepEqual(js.map((s) => [s.name, s.count]), [['A-Domain1', 5], ['A-Domain2', 5], ['RUNMC', 6]]);
  assert.equal((await cli('rename', '--db', db, '--dataset', 'RUNMC', '--to', 'prostate-1')).code, 0);
  assert.match((await cli('delete', '--db', db, '--dataset', '1')).out, /deleted 'A-Domain1' \(5 samples\)/);
  assert.doesNotMatch((await cli('list', '--db', db)).out, /A-Domain1/);
});

test('bad arguments exit 2, failures exit 1 with one line, dry-run problems exit 7', async () => {
  const a = await cli('generate', '--kind', 'cats', '--out', dir);
  assert.equal(a.code, 2);
  assert.match(a.err, /^fedseg data: --kind must be fundus or prostate, got 'cats' \(see fedseg data generate --help\)\n?$/);
  assert.equal((await cli('generate', '--kind', 'fundus')).code, 2);
  assert.equal((await cli('import', '--db', join(dir, 'x.sqlite'), '--format', 'dofe', dir, '--bogus')).code, 2);
  assert.equal((await cli('frobnicate')).code, 2);
  const missing = await cli('import', '--db', join(dir, 'x.sqlite'), '--format', 'folder', '--name', 'n', join(dir, 'nope'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope: folder does not exist/);
  assert.equal(missing.err.trim().split('\n').length, 1);
  const bad = join(dir, 'bad');
  const g = await cli('generate', '--kind', 'fundus', '--sites', '1', '--per-site', '3', '--size', '16', '--out', bad);
  assert.equal(g.code, 0);
  writeFileSync(join(bad, 'Domain1/train/ROIs/mask/Domain1-0001.png'), 'broken');
  const dry = await cli('import', '--format', 'dofe', bad, '--dry-run');
  assert.equal(dry.code, 7);
  assert.match(dry.out, /1 problem\(s\) would make the import fail:\n.*Domain1-0001\.png: not a PNG or JPEG file/);
  const real = await cli('import', '--db', join(dir, 'bad.sqlite'), '--format', 'dofe', bad);
  assert.equal(real.code, 1);
  assert.match(real.err, /Domain1-0001\.png/);
  assert.match((await cli('list', '--db', join(dir, 'bad.sqlite'))).out, /no datasets/);
});
