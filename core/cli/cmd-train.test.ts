// `fedseg train` on a real SQLite store: ASCNet-14 trained as a real process on 32x32 synthetic cells,
// then the model is in the store's model registry (spec, run finished, weights usable by `fedseg eval`);
// --init continues from it; and the one-line errors: unknown dataset, a model whose class count does
// not fit the masks, masks that are not nested for a softmax network, too few images, bad arguments.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureCli, spawnCli } from '../../test/helpers/cli-capture.js';
import { useBackend } from '../../test/helpers/leaks.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { decodeModel, readModelFile } from '../models/model-io.js';
import { listModelRecords } from '../run/checkpoints.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { run as evalCli, type EvalReport } from './cmd-eval.js';
import { run as trainCli } from './cmd-train.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-train-'));
const db = join(dir, 'site.db');

before(async () => {
  await useBackend('wasm');
  const cells = generateCellSites({ size: 32, perSite: 2, seed: 3 }).flatMap((s) => s.samples);
  const store = openSqliteStore(db);
  try {
    const d = store.createDataset({ name: 'cells', kind: 'cells', channels: 1, classes: 2, classNames: ['cell', 'nucleus'] });
    store.addSamples(d.id, cells.map((s, i) => ({ ...s, split: i === 3 ? 'val' : 'train' })));
    // One mask class: the whole cell only.
    const one = store.createDataset({ name: 'whole', channels: 1, classes: 1 });
    store.addSamples(one.id, cells.map((s) => ({ ...s, mask: { ...s.mask, classes: 1, data: s.mask.data.filter((_, j) => j % 2 === 0) } })));
    // Nucleus and cell swapped: the second channel is not inside the first.
    const swapped = store.createDataset({ name: 'swapped', channels: 1, classes: 2 });
    store.addSamples(swapped.id, cells.map((s) => ({ ...s, mask: { ...s.mask, data: s.mask.data.map((_, j) => s.mask.data[j ^ 1]!) } })));
    const tiny = store.createDataset({ name: 'tiny', channels: 1, classes: 2 });
    store.addSamples(tiny.id, cells.slice(0, 1));
  } finally {
    store.close();
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('fedseg train --model ascnet-14 keeps the model in the store, where eval finds it', async () => {
  const out = join(dir, 'asc14.fsw');
  const r = await spawnCli('fedseg', ['train', '--db', db, '--dataset', 'cells', '--model', 'ascnet-14', '--steps', '2', '--out', out, '--backend', 'wasm'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.err, /model: ascnet-14, 1 channel\(s\) -> 2 class\(es\), [\d,]+ parameters/);
  assert.match(r.err, /data: dataset 'cells', 3 training image\(s\) 32x32x1, 1 held out \('val' split\); 2 steps/);
  assert.match(r.err, /^step 2\/2 \(epoch 1\/1\) total \d/m);
  assert.match(r.out, /trained ascnet-14 on 'cells': finished 2 step\(s\); model 'ascnet-14 on cells · epoch 1' \(id \d+\) kept in/);

  const store = openSqliteStore(db, { readonly: true });
  let id: number;
  try {
    const models = listModelRecords(store, store);
    assert.equal(models.length, 1);
    const m = models[0]!;
    assert.equal(m.meta.model.kind, 'ascnet-14');
    assert.equal(m.meta.model.classes, 2);
    assert.equal(m.meta.step, 2);
    assert.equal(m.meta.source, 'local');
    const run = store.getRun(m.info.runId!)!;
    assert.equal(run.status, 'finished');
    assert.equal((run.config as { modelKind?: string }).modelKind, 'ascnet-14');
    id = m.info.id;
  } finally {
    store.close();
  }
  assert.equal(decodeModel(await readModelFile(out)).spec.kind, 'ascnet-14');

  const ev = await captureCli(evalCli, ['--db', db, '--dataset', 'cells', '--checkpoint', String(id), '--split', 'all', '--json', '--backend', 'wasm']);
  assert.equal(ev.code, 0, ev.err);
  const rep = JSON.parse(ev.out) as EvalReport;
  assert.equal(rep.model.kind, 'ascnet-14');
  assert.deepEqual(rep.classes.map((c) => c.name), ['cell', 'nucleus']);
  assert.equal(rep.dataset.images, 4);

  // Continue from it (in-process): the same spec, a second model in the registry.
  const again = await captureCli(trainCli, ['--db', db, '--dataset', 'cells', '--init', String(id), '--steps', '1', '--name', 'more', '--backend', 'wasm']);
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /model: ascnet-14, .*from 'ascnet-14 on cells · epoch 1'/);
  const s2 = openSqliteStore(db, { readonly: true });
  try {
    assert.deepEqual(listModelRecords(s2, s2).map((m) => m.info.name), ['ascnet-14 on cells · epoch 1', 'more · epoch 1']);
  } finally {
    s2.close();
  }
});

test('fedseg train: one-line errors', async () => {
  const cases: [string[], number, RegExp][] = [
    [['--dataset', 'nope', '--model', 'cnn-7'], 1, /no dataset 'nope' in .*have: cells, whole, swapped, tiny/],
    [['--dataset', 'whole', '--init', 'latest', '--steps', '1'], 1, /the model predicts 2 class\(es\) but dataset 'whole' has 1 mask class\(es\)/],
    [['--dataset', 'swapped', '--model', 'ascnet-7', '--steps', '1'], 1, /mask class 1 is not inside class 0 .*nested masks/],
    [['--dataset', 'tiny', '--model', 'ascnet-14'], 1, /dataset 'tiny' has 1 training image\(s\) with masks, fewer than the batch size 2; .*--batch 1/],
    [['--dataset', 'cells', '--model', 'resnet'], 2, /--model must be one of unet, asc-unet, ascnet-7/],
    [['--dataset', 'cells'], 2, /--model KIND is required/],
    [['--dataset', 'cells', '--model', 'cnn-7', '--steps', '2', '--epochs', '1'], 2, /--steps or --epochs, not both/],
    [['--dataset', 'cells', '--init', 'latest', '--model', 'cnn-7'], 2, /--model cnn-7 does not match the --init model \(ascnet-14\)/],
  ];
  for (const [args, code, re] of cases) {
    const r = await captureCli(trainCli, ['--db', db, '--backend', 'wasm', ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    const lines = r.err.trim().split('\n').filter((l) => l.startsWith('fedseg train:'));
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0]!, re);
  }
  const missing = await captureCli(trainCli, ['--db', join(dir, 'typo.db'), '--dataset', 'x', '--model', 'cnn-7']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /typo\.db does not exist/);
  assert.equal(existsSync(join(dir, 'typo.db')), false);
  // A failed run is recorded as failed, not left running.
  const store = openSqliteStore(db, { readonly: true });
  try {
    assert.ok(store.listRuns().every((r) => r.status !== 'running'));
  } finally {
    store.close();
  }
});
