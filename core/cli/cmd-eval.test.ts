// `fedseg eval`: the numbers it prints equal the run API's evaluation of the same model and samples
// (model file, store checkpoints old and new, softmax networks too), table and JSON output, and
// one-line errors with non-zero exit codes for a missing / corrupt model file, an unknown dataset, a
// channel mismatch and bad arguments.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf/tf.js';
import { useBackend } from '../../test/helpers/leaks.js';
import { encodeWeights } from '../contract/weights.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import type { ModelSpecInput } from '../contract/model-spec.js';
import { encodeModel, saveModelFile } from '../models/model-io.js';
import { buildNetwork } from '../models/registry.js';
import type { WeightMap } from '../models/seg-model.js';
import { toNamedArrays } from '../models/weight-map.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { evaluateNetwork, type NetworkEvaluation } from '../run/evaluation.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { run, type EvalReport } from './cmd-eval.js';
import { captureCli } from '../../test/helpers/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-eval-'));
const db = join(dir, 'site.db');
const modelFile = join(dir, 'unet.fsw');
const spec: ModelSpecInput = { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } };
const net = buildNetwork(spec);
const model = net.model;
let weights: WeightMap;
let samples: ReturnType<typeof generateFundusSites>[number]['samples'];
let testSamples: typeof samples;

const cli = (...argv: string[]) => captureCli(run, argv);

/** The last stderr line, and that it is the only non-progress line. */
function oneLineError(err: string): string {
  const lines = err.split('\n').filter((l) => l && !l.startsWith('evaluate '));
  assert.equal(lines.length, 1, `expected one error line, got: ${err}`);
  return lines[0]!;
}

function sameNumbers(r: EvalReport, ev: NetworkEvaluation): void {
  assert.equal(r.dataset.images, ev.images);
  r.classes.forEach((c, k) => {
    assert.equal(c.dice, ev.meanDice[k]);
    assert.equal(c.hd95, ev.meanHd95[k]);
    assert.equal(c.hd95Undefined, ev.hd95Undefined[k]);
    assert.equal(c.emptyPred, ev.emptyPred[k]);
    assert.equal(c.emptyGt, ev.emptyGt[k]);
    assert.equal(c.images, ev.images);
  });
}

before(async () => {
  await useBackend('cpu');
  samples = generateFundusSites({ sites: 1, perSite: 6, size: 32, seed: 3 })[0]!.samples;
  testSamples = samples.slice(4);
  const store = openSqliteStore(db);
  try {
    const d = store.createDataset({ name: 'site1', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
    store.addSamples(d.id, samples.map((s, i) => ({ ...s, split: i < 4 ? 'train' : 'test' })));
    // Random weights, with a disc bias so that predictions are neither all empty nor all full.
    const init = model.init(7);
    const bias = init['seg1.bias']!;
    init['seg1.bias'] = tf.tensor1d([2, 0.3]);
    bias.dispose();
    weights = init;
    await saveModelFile(modelFile, spec, weights);
    // A checkpoint as earlier app versions wrote it: a plain weights frame, the model config in the checkpoint meta.
    store.saveCheckpoint({ name: 'local · epoch 1', blob: encodeWeights(toNamedArrays(weights)), modelKind: 'unet', round: 1, meta: { usable: true, model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 4, depth: 3 } } });
    // A self-describing model frame stored as a model checkpoint.
    store.saveCheckpoint({ name: 'framed', blob: encodeModel(spec, weights), modelKind: 'unet', meta: { role: 'model', model: net.spec, source: 'imported' } });
  } finally {
    store.close();
  }
});

after(() => {
  if (weights) tf.dispose(Object.values(weights));
  rmSync(dir, { recursive: true, force: true });
});

test('--help exits 0 and names the protocol', async () => {
  const r = await cli('--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /usage: fedseg eval/);
  assert.match(r.out, /export-model/);
});

test('model file: JSON equals evaluateModel on the test split (default), threshold 0.75 and 0.5', async () => {
  for (const threshold of [0.75, 0.5]) {
    const args = ['--model', modelFile, '--db', db, '--dataset', 'site1', '--json', '--backend', 'cpu', '--batch', '2'];
    const r = await cli(...args, ...(threshold === 0.75 ? [] : ['--threshold', '0.5']));
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as EvalReport;
    assert.equal(rep.dataset.split, 'test');
    assert.equal(rep.threshold, threshold);
    assert.deepEqual(rep.classes.map((c) => c.name), ['disc', 'cup']);
    const ev = await evaluateNetwork(net, weights, testSamples, { threshold });
    sameNumbers(rep, ev);
    assert.match(r.err, /evaluate 2\/2/);
    if (threshold === 0.5) {
      // Not a degenerate case: the disc is predicted on every image with a finite HD95.
      assert.equal(rep.classes[0]!.emptyPred, 0);
      assert.ok(rep.classes[0]!.dice > 0 && rep.classes[0]!.dice < 1);
      assert.ok(rep.classes[0]!.hd95 !== null && rep.classes[0]!.hd95 > 0);
    }
  }
});

test('table output over --split all, and store checkpoints (by name, latest, self-describing frame)', async () => {
  const ev = await evaluateNetwork(net, weights, samples, { threshold: 0.5 });
  const r = await cli('--model', modelFile, '--db', db, '--dataset', 'site1', '--split', 'all', '--threshold', '0.5', '--backend', 'cpu');
  assert.equal(r.code, 0, r.err);
  const disc = r.out.split('\n').find((l) => l.startsWith('disc'))!;
  assert.ok(disc, r.out);
  const cells = disc.trim().split(/\s+/);
  assert.equal(cells[1], (ev.meanDice[0]! * 100).toFixed(2));
  const hd = ev.meanHd95[0];
  assert.equal(cells[2], hd === null || hd === undefined ? '-' : hd.toFixed(2));
  assert.equal(cells[3], '6');
  assert.match(r.out, /^class\s+Dice %\s+HD95 px\s+images\s+hd95-undef\s+empty pred\s+empty gt$/m);
  assert.match(r.out, /^mean\s/m);

  for (const ck of ['local · epoch 1', 'latest', 'framed']) {
    const c = await cli('--checkpoint', ck, '--db', db, '--dataset', 'site1', '--split', 'all', '--threshold', '0.5', '--json', '--backend', 'cpu');
    assert.equal(c.code, 0, `${ck}: ${c.err}`);
    const rep = JSON.parse(c.out) as EvalReport;
    sameNumbers(rep, ev);
    assert.match(rep.model.source, ck === 'latest' ? /framed/ : new RegExp(ck));
  }
});

test('an ASC U-Net model file evaluates like the run API', async () => {
  const ascSpec: ModelSpecInput = { kind: 'asc-unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } };
  const asc = buildNetwork(ascSpec);
  const aw = asc.model.init(5);
  try {
    const file = join(dir, 'asc.fsw');
    await saveModelFile(file, ascSpec, aw);
    const r = await cli('--model', file, '--db', db, '--dataset', 'site1', '--threshold', '0.5', '--json', '--backend', 'cpu');
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as EvalReport;
    assert.equal(rep.model.kind, 'asc-unet');
    sameNumbers(rep, await evaluateNetwork(asc, aw, testSamples, { threshold: 0.5 }));
  } finally {
    tf.dispose(Object.values(aw));
  }
});

test('a softmax (ASCNet-7) model file evaluates too: arg-max nested masks, per-image results', async () => {
  const cellsDb = join(dir, 'cells.db');
  const cells = generateCellSites({ size: 16, perSite: 3, seed: 4 })[0]!.samples;
  const store = openSqliteStore(cellsDb);
  const d = store.createDataset({ name: 'cells', kind: 'cells', channels: 1, classes: 2, classNames: ['cell', 'nucleus'] });
  store.addSamples(d.id, cells);
  store.close();
  const softSpec: ModelSpecInput = { kind: 'ascnet-7', inChannels: 1, classes: 2 };
  const soft = buildNetwork(softSpec);
  const sw = soft.model.init(2);
  try {
    const file = join(dir, 'ascnet.fsw');
    await saveModelFile(file, softSpec, sw);
    const r = await cli('--model', file, '--db', cellsDb, '--dataset', 'cells', '--json', '--backend', 'cpu');
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as EvalReport;
    assert.equal(rep.model.kind, 'ascnet-7');
    const ev = await evaluateNetwork(soft, sw, cells);
    sameNumbers(rep, ev);
    assert.deepEqual(rep.perImage.map((p) => p.dice), ev.perImage.map((p) => p.result.dice));
  } finally {
    tf.dispose(Object.values(sw));
  }
});

test('bad inputs: one-line errors and non-zero exit codes', async () => {
  const base = ['--db', db, '--dataset', 'site1', '--backend', 'cpu'];
  const missing = await cli('--model', join(dir, 'nope.fsw'), ...base);
  assert.equal(missing.code, 1);
  assert.match(oneLineError(missing.err), /^fedseg eval: model file .*nope\.fsw does not exist$/);

  const corrupt = join(dir, 'corrupt.fsw');
  writeFileSync(corrupt, Buffer.from('FSW1 this is not a model'));
  const c = await cli('--model', corrupt, ...base);
  assert.equal(c.code, 1);
  assert.match(oneLineError(c.err), /^fedseg eval: model file .*corrupt\.fsw is not a valid FedSeg model/);

  const ds = await cli('--model', modelFile, '--db', db, '--dataset', 'nosuch', '--backend', 'cpu');
  assert.equal(ds.code, 1);
  assert.match(oneLineError(ds.err), /no dataset 'nosuch' .*have: site1/);

  const graySpec: ModelSpecInput = { kind: 'unet', inChannels: 1, classes: 2, config: { baseWidth: 4, depth: 3 } };
  const gw = buildNetwork(graySpec).model.init(1);
  const grayFile = join(dir, 'gray.fsw');
  try {
    await saveModelFile(grayFile, graySpec, gw);
  } finally {
    tf.dispose(Object.values(gw));
  }
  const mm = await cli('--model', grayFile, ...base);
  assert.equal(mm.code, 1);
  assert.match(oneLineError(mm.err), /takes 1-channel images but dataset 'site1' has 3 channel\(s\)/);

  const wrong = join(dir, 'wrong-weights.fsw');
  writeFileSync(wrong, encodeModel({ kind: 'ascnet-7', inChannels: 3, classes: 2 }, [{ name: 'x', shape: [1], data: new Float32Array(1) }]));
  const s = await cli('--model', wrong, ...base);
  assert.equal(s.code, 1);
  assert.match(oneLineError(s.err), /not a valid FedSeg model: .*missing/);

  const ck = await cli('--checkpoint', 'nosuch', ...base);
  assert.equal(ck.code, 1);
  assert.match(oneLineError(ck.err), /no checkpoint 'nosuch'/);

  for (const argv of [
    ['--db', db, '--dataset', 'site1'],
    ['--model', modelFile, '--checkpoint', 'latest', ...base],
    ['--model', modelFile, ...base, '--threshold', '1.5'],
    ['--model', modelFile, ...base, '--split', 'validation'],
    ['--model', modelFile, ...base, '--bogus'],
  ]) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(oneLineError(r.err), /^fedseg eval: /);
  }
});
