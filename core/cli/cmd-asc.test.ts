// `fedseg asc experiment` on a tiny configuration: table shape, metric ranges, rates only for ASC models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { useBackend } from '../../test/helpers/leaks.js';
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
});

test('asc command: help and argument errors', async () => {
  assert.equal(await run(['experiment', '--help']), 0);
  await assert.rejects(run(['experiment', '--models', 'unet']), /unknown model 'unet'/);
  await assert.rejects(run(['experiment', '--size', '8']), /--size must be an integer in \[16, 512\]/);
  await assert.rejects(run(['bogus']), /unknown subcommand 'bogus'/);
});
