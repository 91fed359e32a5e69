// `fedseg asc experiment` on a tiny configuration: table shape, metric ranges, rates only for ASC models;
// and as a real process on a real SQLite store (k-fold cross-validation of ASCNet-14 and the classic
// CNN on 32x32 synthetic cells): the table, the JSON's structure, the store left unchanged, and the
// argument errors of the --db mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf/tf.js';
import { useBackend } from '../../test/helpers/leaks.js';
import { spawnCli } from '../../test/helpers/cli-capture.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { CvResult } from '../asc/asc-experiment.js';
import { formatAscTable, run, runAscExperiment } from './cmd-asc.js';

test('asc experiment runs end to end on tiny data and reports per-site metrics', async () => {
  await useBackend('wasm');
  const before = tf.memory().numTensors;
  const lines: string[] = [];
  const res = await runAscExperiment({ size: 16, train: 2, test: 1, steps: 3, seed: 1, models: ['cnn-7', 'dilated-7', 'ascnet-7'] }, (l) => lines.push(l));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.equal(res.rows.length, 6);
  assert.deepEqual(res.rows.map((r) => `${r.model}/${r.site}`), ['cnn-7/large', 'cnn-7/small', 'dilated-7/large', 'dilated-7/small', 'ascnet-7/large', 'ascnet-7/small']);
  for (const r of res.rows) {
    for (const v of [r.cellDice, r.cellPrecision, r.cellRecall, r.nucleusDice]) assert.ok(v >= 0 && v <= 1, `${r.model} ${r.site}: ${v}`);
    assert.equal(r.medianRate !== null, r.model === 'ascnet-7');
    assert.equal(r.medianRateCell !== null, r.model === 'ascnet-7');
    if (r.medianRate !== null) assert.ok(r.medianRate >= 0 && r.medianRateCell! >= 0);
  }
  assert.ok(lines.some((l) => l.startsWith('ascnet-7: step 3/3 loss')));
  const table = formatAscTable(res);
  assert.match(table, /\| model +\| site +\| cell Dice/);
  assert.equal(table.split('\n').length, 8);
  // Size terciles of both classes for every model; rates only for ASC models.
  assert.deepEqual(res.terciles.map((t) => `${t.model}:${t.terciles.map((x) => x.className).join('+')}`), ['cnn-7:cell+nucleus', 'dilated-7:cell+nucleus', 'ascnet-7:cell+nucleus']);
  for (const t of res.terciles) {
    for (const x of t.terciles) {
      if (t.model !== 'ascnet-7') assert.equal(x.rateGrowsWithSize, null, t.model);
      for (const q of x.terciles) if (q.objects > 0) assert.equal(q.medianRate !== null, t.model === 'ascnet-7', `${t.model} ${x.className} ${q.tercile}`);
    }
  }
});

test('asc experiment --db: k-fold cross-validation of ascnet-14 and cnn-7 on a real store, as a process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-asc-cv-'));
  try {
    const db = join(dir, 'site.db');
    const store = openSqliteStore(db);
    try {
      const d = store.createDataset({ name: 'cells', kind: 'cells', channels: 1, classes: 2, classNames: ['cell', 'nucleus'] });
      const [large, small] = generateCellSites({ size: 32, perSite: 3, seed: 5 });
      store.addSamples(d.id, [...large!.samples, ...small!.samples].map((x, i) => ({ ...x, split: i % 3 === 0 ? 'test' : 'train' })));
    } finally {
      store.close();
    }
    const before = statSync(db).mtimeMs;
    const json = join(dir, 'cv.json');
    const r = await spawnCli('fedseg', ['asc', 'experiment', '--db', db, '--dataset', 'cells', '--folds', '2', '--models', 'ascnet-14,cnn-7', '--steps', '2', '--json', json, '--backend', 'wasm'], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /dataset 'cells', 6 images 32x32x1, classes cell, nucleus; 2 folds, 2 steps/);
    assert.match(r.out, /ascnet-14 fold 2\/2: step 2\/2 loss/);
    assert.match(r.out, /\| model +\| class +\| Dice +\| precision +\| recall +\| pooled Dice +\| median rate +\| train s\/fold \|/);
    for (const m of ['ascnet-14', 'cnn-7']) for (const c of ['cell', 'nucleus']) assert.match(r.out, new RegExp(`\\| ${m} +\\| ${c} +\\| \\d\\.\\d{3} ± \\d\\.\\d{3} `));
    assert.match(r.out, /\| model +\| class +\| size tercile +\| objects +\| area px +\| object Dice/);
    assert.match(r.out, /ascnet-14 nucleus: rate grows with size: (yes|no) \(median/);
    assert.doesNotMatch(r.out, /cnn-7 (cell|nucleus): rate grows/);

    const res = JSON.parse(readFileSync(json, 'utf8')) as CvResult;
    assert.equal(res.dataset.images, 6);
    assert.equal(res.dataset.channels, 1);
    assert.deepEqual(res.dataset.classNames, ['cell', 'nucleus']);
    assert.equal(res.folds.length, 2);
    assert.deepEqual(res.folds.flat().sort(), ['large-0000', 'large-0001', 'large-0002', 'small-0000', 'small-0001', 'small-0002']);
    assert.deepEqual(res.models.map((m) => m.model), ['ascnet-14', 'cnn-7']);
    for (const m of res.models) {
      assert.equal(m.trainSeconds.length, 2);
      assert.deepEqual(m.classes.map((c) => c.name), ['cell', 'nucleus']);
      for (const c of m.classes) {
        assert.equal(c.perFold.length, 2);
        assert.ok(c.dice.mean >= 0 && c.dice.mean <= 1 && c.dice.std >= 0);
        assert.ok(c.pooledDice.mean >= 0 && c.pooledDice.mean <= 1);
      }
      assert.deepEqual(m.terciles.map((t) => t.className), ['cell', 'nucleus']);
      for (const t of m.terciles) {
        assert.deepEqual(t.terciles.map((x) => x.tercile), ['small', 'medium', 'large']);
        assert.ok(t.terciles.reduce((a, x) => a + x.objects, 0) > 0);
        assert.equal(t.terciles[0]!.medianRate !== null, m.model === 'ascnet-14');
      }
      assert.equal(m.medianRate !== null, m.model === 'ascnet-14');
    }
    assert.equal(statSync(db).mtimeMs, before, 'the store is only read');

    // Argument errors of the --db mode: one line, exit 2 (usage) or 1 (the work).
    const missing = await spawnCli('fedseg', ['asc', 'experiment', '--db', join(dir, 'typo.db'), '--dataset', 'cells']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /typo\.db does not exist/);
    const unknown = await spawnCli('fedseg', ['asc', 'experiment', '--db', db, '--dataset', 'nope', '--steps', '1']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no dataset 'nope' .*have: cells/);
    const tooFew = await spawnCli('fedseg', ['asc', 'experiment', '--db', db, '--dataset', 'cells', '--folds', '7', '--steps', '1']);
    assert.equal(tooFew.code, 1);
    assert.match(tooFew.err, /7 folds need at least 7 images, the dataset has 6/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('asc command: help and argument errors', async () => {
  assert.equal(await run(['experiment', '--help']), 0);
  await assert.rejects(run(['experiment', '--models', 'unet']), /unknown model 'unet'/);
  await assert.rejects(run(['experiment', '--size', '8']), /--size must be an integer in \[16, 512\]/);
  await assert.rejects(run(['bogus']), /unknown subcommand 'bogus'/);
  await assert.rejects(run(['experiment', '--folds', '3']), /--folds needs --db FILE/);
  await assert.rejects(run(['experiment', '--db', 'x.db', '--train', '3']), /--train is for the synthetic cells/);
  await assert.rejects(run(['experiment', '--db', 'x.db']), /--dataset NAME\|ID is required with --db/);
  await assert.rejects(run(['experiment', '--db', 'x.db', '--dataset', 'd', '--folds', '1']), /--folds must be/);
  await assert.rejects(run(['experiment', '--normalise', 'max']), /--normalise must be none or zscore/);
});
