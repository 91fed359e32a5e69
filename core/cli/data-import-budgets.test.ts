// `fedseg data import` next to bombs (docs/security.md §4 Import budgets): an 8192x8192 PNG pair, a
// FIFO named like an image and a file name too long for a sample name. The strict import fails
// (exit 1) naming the bomb and its limit and stores nothing; the dry run flags it (exit 7);
// --skip-bad imports the good pairs and lists the bomb with its limit; the FIFO and the long name are
// listed as skipped, with their reason, in every mode, and never block the command.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../contract/exit-codes.js';
import { encodePng } from '../data/codecs/image-file.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { zeroPng } from '../../test/helpers/import-bombs.js';
import { captureCli } from '../../test/helpers/cli-capture.js';
import { run } from './cmd-data.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-bombs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...argv: string[]) => captureCli(run, argv);

test('import: a bomb is refused naming its limit, a FIFO and a long name are skipped, the good pairs are imported', { timeout: 60_000 }, async () => {
  const folder = join(dir, 'h');
  mkdirSync(folder);
  for (const name of ['a', 'b', 'c']) {
    writeFileSync(join(folder, `${name}.png`), encodePng(16, 16, 1, new Uint8Array(256).fill(90)));
    writeFileSync(join(folder, `${name}_mask.png`), encodePng(16, 16, 1, new Uint8Array(256).map((_, i) => i % 3)));
  }
  const bomb = await zeroPng(8192, 8192);
  writeFileSync(join(folder, 'scan_017.png'), bomb);
  writeFileSync(join(folder, 'scan_017_mask.png'), bomb);
  execFileSync('mkfifo', [join(folder, 'x.png')]);
  const long = 'L'.repeat(205);
  writeFileSync(join(folder, `${long}.png`), encodePng(16, 16, 1, new Uint8Array(256)));
  writeFileSync(join(folder, `${long}_mask.png`), encodePng(16, 16, 1, new Uint8Array(256)));
  const db = join(dir, 'site.sqlite');
  const args = ['import', '--db', db, '--format', 'folder', '--convention', 'labelmap', '--name', 'H', folder];
  const strict = await cli(...args);
  assert.equal(strict.code, 1);
  assert.match(strict.err, /1 of 4 file\(s\) cannot be imported \(.*scan_017\.png: 67\.1 megapixels \(8192x8192\), over the 64 megapixel limit per image\); nothing was imported/);
  const dry = await cli(...args, '--dry-run');
  assert.equal(dry.code, EXIT.CHECK_FAILED);
  assert.match(dry.out, /would import H: 3 samples/);
  const skip = await cli(...args, '--skip-bad');
  assert.equal(skip.code, 0, skip.err);
  assert.match(skip.out, /imported H: 3 samples/);
  assert.match(skip.out, /left out 1 bad file\(s\) \(--skip-bad\):\n {2}.*scan_017\.png: 67\.1 megapixels \(8192x8192\), over the 64 megapixel limit per image/);
  for (const out of [dry.out, skip.out]) {
    assert.match(out, /x\.png: not a regular file but a FIFO \(named pipe\); skipped without opening it/);
    assert.match(out, new RegExp(`${long}\\.png: its name is 205 characters, over the 200-character limit for sample names`));
  }
  const store = openSqliteStore(db);
  try {
    assert.deepEqual(store.listDatasets().map((d) => [d.name, d.sampleCount]), [['H', 3]]);
  } finally {
    store.close();
  }
});
