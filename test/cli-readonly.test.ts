// Commands that only read never create a store at a mistyped path: `fedseg data list/stats/rename/
// delete`, `fedseg eval`, `fedseg site`, `fedseg-hub status/sites/audit/evaluations/export-model/
// remove-site` say the file does not exist (one line, non-zero exit) and leave nothing behind; a
// `--dry-run` import against a store that does not exist checks the files alone and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as dataCli } from '../core/cli/cmd-data.js';
import { run as evalCli } from '../core/cli/cmd-eval.js';
import { run as siteCli } from '../core/cli/cmd-site.js';
import { main as hubCli } from '../federation-hub/cli.js';
import { captureCli } from './helpers/cli-capture.js';

test('read-only commands refuse a missing store or hub state and create nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-readonly-'));
  try {
    const missing = join(dir, 'typo.db');
    const cases: [string, (argv: string[]) => Promise<number>, string[]][] = [
      ['data list', dataCli, ['list', '--db', missing]],
      ['data stats', dataCli, ['stats', '--db', missing]],
      ['data rename', dataCli, ['rename', '--db', missing, '--dataset', 'x', '--to', 'y']],
      ['data delete', dataCli, ['delete', '--db', missing, '--dataset', 'x']],
      ['eval', evalCli, ['--model', join(dir, 'm.fsw'), '--db', missing, '--dataset', 'x']],
      ['site', siteCli, ['--hub', 'ws://127.0.0.1:9', '--name', 'A', '--token', 't', '--db', missing]],
      ['hub status', hubCli, ['status', '--db', missing]],
      ['hub sites', hubCli, ['sites', '--db', missing]],
      ['hub audit', hubCli, ['audit', '--db', missing]],
      ['hub evaluations', hubCli, ['evaluations', '--db', missing]],
      ['hub export-model', hubCli, ['export-model', '--db', missing, '--out', join(dir, 'out.fsw')]],
      ['hub remove-site', hubCli, ['remove-site', 'A', '--db', missing]],
    ];
    for (const [what, run, argv] of cases) {
      const r = await captureCli(run, argv);
      assert.notEqual(r.code, 0, `${what} must fail`);
      const lines = r.err.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one line, got ${r.err}`);
      assert.match(lines[0]!, /typo\.db does not exist/, what);
      assert.deepEqual(readdirSync(dir), [], `${what} left files behind`);
    }
    // A dry run against a store that does not exist yet checks the files and says the store is missing.
    const folder = join(dir, 'gen');
    assert.equal((await captureCli(dataCli, ['generate', '--kind', 'fundus', '--sites', '1', '--per-site', '2', '--size', '16', '--out', folder])).code, 0);
    const dry = await captureCli(dataCli, ['import', '--db', missing, '--format', 'dofe', folder, '--dry-run']);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.err, /store .*typo\.db does not exist; checking the files only/);
    assert.match(dry.out, /would import Domain1: 2 samples/);
    assert.equal(existsSync(missing), false, 'the dry run created no store');
    assert.deepEqual(readdirSync(dir), ['gen']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
