// `fedseg eval`: the numbers it prints equal evaluateModel's on the same model and samples (model file
// and store checkpoints), table and JSON output, and one-line errors with non-zero exit codes for a
// missing / corrupt model file, an unknown dataset, a channel mismatch, a softmax model and bad arguments.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../tf/tf.js';
import { useBackend } from '../../test/helpers/leaks.js';
import { encodeWeights } from '../contract/weights.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { createUNet } from '../models/unet.js';
import { createAscUNet } from '../models/asc-unet.js';
import { encodeModel, modelSpecOf, saveModelFile, weightsToNamedArrays } from '../models/model-io.js';
import type { WeightMap } from '../models/seg-model.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { evaluateModel, type ModelEvaluation } from '../train/evaluate.js';
import { run, type EvalReport } from './cmd-eval.js';
import { captureCli } from '../../test/helpers/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-eval-'));
const db = join(dir, 'site.db');
const modelFile = join(dir, 'unet.fsw');
const model = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
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

function sameNumbers(r: EvalReport, ev: ModelEvaluation): void {
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
    await saveModelFile(modelFile, modelSpecOf(model), weights);
    const cfg = modelSpecOf(model).config;
    // An app-style checkpoint: a plain weights frame, the model config in the checkpoint meta.
    store.saveCheckpoint({ name: 'local · epoch 1', blob: encodeWeights(weightsToNamedArrays(weights)), modelKind: 'unet', round: 1, meta: { usable: true, model: { kind: 'unet', ...cfg } } });
    // A self-describing model frame stored as a checkpoint.
    store.saveCheckpoint({ name: 'framed', blob: encodeModel(modelSpecOf(model), weights), modelKind: 'unet' });
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
    const ev = await evaluateModel(model, weights, testSamples, { threshold });
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
  const ev = await evaluateModel(model, weights, samples, { threshold: 0.5 });
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
    assert.match(rep.model.source, ck === 'latest' ? /local · epoch 1/ : new RegExp(ck));
  }
});

test('an ASC U-Net model file evaluates like evaluateModel', async () => {
  const asc = createAscUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
  const aw = asc.init(5);
  try {
    const file = join(dir, 'asc.fsw');
    await saveModelFile(file, { kind: asc.kind, config: { ...asc.config } }, aw);
    const r = await cli('--model', file, '--db', db, '--dataset', 'site1', '--threshold', '0.5', '--json', '--backend', 'cpu');
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as EvalReport;
    assert.equal(rep.model.kind, 'asc-unet');
    sameNumbers(rep, await evaluateModel(asc, aw, testSamples, { threshold: 0.5 }));
  } finally {
    tf.dispose(Object.values(aw));
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

  const gray = createUNet({ inChannels: 1, classes: 2, baseWidth: 4, depth: 3 });
  const gw = gray.init(1);
  const grayFile = join(dir, 'gray.fsw');
  try {
    await saveModelFile(grayFile, modelSpecOf(gray), gw);
  } finally {
    tf.dispose(Object.values(gw));
  }
  const mm = await cli('--model', grayFile, ...base);
  assert.equal(mm.code, 1);
  assert.match(oneLineError(mm.err), /takes 1-channel images but dataset 'site1' has 3 channel\(s\)/);

  const soft = join(dir, 'soft.fsw');
  writeFileSync(soft, encodeModel({ kind: 'ascnet-7', config: { kind: 'ascnet-7', inChannels: 3, classes: 3 } }, [{ name: 'x', shape: [1], data: new Float32Array(1) }]));
  const s = await cli('--model', soft, ...base);
  assert.equal(s.code, 1);
  assert.match(oneLineError(s.err), /softmax model/);

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
