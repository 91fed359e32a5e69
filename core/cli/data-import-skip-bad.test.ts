// `fedseg data import --skip-bad`: a folder with one mask holding a value the convention does not allow.
// The strict import fails (exit 1) naming the file and stores nothing; the dry run reports it (exit 7,
// or 0 with --skip-bad since the import would then succeed); --skip-bad imports exactly the good pairs
// and lists the one it left out.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT } from '../contract/exit-codes.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../data/codecs/image-file.js';
import { writeBinaryMaskFolder } from '../data/export.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { run } from './cmd-data.js';
import { captureCli } from '../../test/helpers/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-skip-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...argv: string[]) => captureCli(run, argv);

test('import --skip-bad leaves out the bad file and imports the rest; without it nothing is imported', async () => {
  const [site] = generateFundusSites({ sites: 1, perSite: 4, size: 24, seed: 9 });
  await writeBinaryMaskFolder({ site: 'h', samples: site!.samples }, dir, ['-Disc-T', '-Cup-T']);
  const folder = join(dir, 'h');
  const px = new Uint8Array(24 * 24);
  px[0] = 7;
  writeFileSync(join(folder, 'Domain1-0001-Cup-T.png'), encodePng(24, 24, 1, px));
  const db = join(dir, 'site.sqlite');
  const args = ['import', '--db', db, '--format', 'folder', '--convention', 'binary', '--name', 'H', folder];
  const strict = await cli(...args);
  assert.equal(strict.code, 1);
  assert.match(strict.err, /1 of 4 file\(s\) cannot be imported .*Domain1-0001-Cup-T\.png: value 7 .*nothing was imported/);
  const dry = await cli(...args, '--dry-run');
  assert.equal(dry.code, EXIT.CHECK_FAILED);
  assert.match(dry.out, /would import H: 3 samples/);
  assert.equal((await cli(...args, '--dry-run', '--skip-bad')).code, 0);
  const skip = await cli(...args, '--skip-bad');
  assert.equal(skip.code, 0, skip.err);
  assert.match(skip.out, /imported H: 3 samples/);
  assert.match(skip.out, /left out 1 bad file\(s\) \(--skip-bad\):\n {2}.*Domain1-0001\.png: .*value 7/);
  const store = openSqliteStore(db);
  try {
    assert.deepEqual(store.listDatasets().map((d) => [d.name, d.sampleCount]), [['H', 3]]);
  } finally {
    store.close();
  }
});
