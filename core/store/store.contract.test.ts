// ONE contract suite for DatasetStore, run against the SQLite store (on a real temp file) and the
// in-memory twin; then a check that both end in identical contents after the same operations.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import { encodeWeights } from '../contract/weights.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { generateProstateSites } from '../data/synthetic/prostate.js';
import type { DatasetStore, NewSample } from './dataset-store.js';
import { storeFingerprint } from './fingerprint.js';
import { checkStorableSample } from './codec.js';
import { createMemoryStore } from './memory-store.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const fixedClock = (): (() => Date) => {
  let t = Date.UTC(2026, 0, 1);
  return () => new Date((t += 1000));
};

const factories: [string, () => DatasetStore][] = [
  ['sqlite', () => openSqliteStore(join(dir, `contract-${++fileNo}.sqlite`), { now: fixedClock() })],
  ['memory', () => createMemoryStore({ now: fixedClock() })],
];

const fundus = generateFundusSites({ sites: 1, perSite: 5, size: 24, seed: 11 })[0]!.samples;
const prostate = generateProstateSites({ sites: 1, perSite: 4, size: 20, seed: 5, depth: 4 })[0]!.samples;

function rejects(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FedSegError, `expected FedSegError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

function sameSample(a: Sample, b: Sample): void {
  assert.equal(a.name, b.name);
  assert.deepEqual([a.image.width, a.image.height, a.image.channels], [b.image.width, b.image.height, b.image.channels]);
  assert.deepEqual(a.image.data, b.image.data);
  assert.deepEqual(a.mask, b.mask);
}

const weights = (v: number): Uint8Array => encodeWeights([{ name: 'conv/w', shape: [2, 2], data: new Float32Array([v, 1, 2, 3]) }], { meta: { v } });
const win = (c: number, b: number, v: number) => ({ channels: c, halfWidth: b, data: new Float32Array(c * (2 * b + 1) ** 2).fill(v) });

/** The same script of operations, so the two backends can be compared at the end. */
function script(store: DatasetStore): void {
  const f = store.createDataset({ name: 'fundus-A', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'], meta: { seed: 11 } });
  store.addSamples(f.id, fundus.map((s, i) => ({ ...s, split: i < 4 ? 'train' : 'test' })));
  const p = store.createDataset({ name: 'prostate-A', kind: 'prostate', channels: 1, classes: 1 });
  store.addSamples(p.id, prostate.map((s) => ({ ...s, spacing: [0.5, 0.6] as [number, number] })));
  store.putAmplitudeWindows([{ source: 'local', site: 'A', datasetId: f.id, alpha: 0.01, window: win(3, 1, 2) }]);
  const run = store.createRun({ name: 'fedavg', config: { rounds: 2 } });
  store.putRoundMetrics(run.id, 0, { dice: 0.5 });
  store.saveCheckpoint({ name: 'g0', runId: run.id, round: 0, modelKind: 'unet', blob: weights(1) });
  store.setSetting('hub', { url: 'wss://x' });
  store.appendAudit({ direction: 'out', kind: 'amplitude-window', bytes: 108, peer: 'hub', summary: '1 window' });
}

for (const [backend, make] of factories) {
  describe(`DatasetStore contract (${backend})`, () => {
    test('datasets: create, get, list with counts, rename, duplicate names, delete cascades', () => {
      const store = make();
      assert.equal(store.backend, backend);
      assert.equal(store.schemaVersion(), 3);
      const a = store.createDataset({ name: 'A', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'], meta: { x: 1 } });
      assert.deepEqual({ ...a, createdAt: '' }, { id: a.id, name: 'A', kind: 'fundus', source: '', channels: 3, classes: 2, classNames: ['disc', 'cup'], meta: { x: 1 }, createdAt: '', sampleCount: 0 });
      rejects(() => store.createDataset({ name: 'A', channels: 3, classes: 2 }), 'ALREADY_EXISTS', /'A' already exists/);
      rejects(() => store.createDataset({ name: '', channels: 3, classes: 2 }), 'INVALID_ARGUMENT');
      rejects(() => store.createDataset({ name: 'B', channels: 0, classes: 2 }), 'INVALID_ARGUMENT', /channels/);
      const b = store.createDataset({ name: 'B', channels: 1, classes: 1 });
      assert.deepEqual(b.classNames, ['class0']);
      store.addSamples(a.id, fundus.slice(0, 2));
      assert.deepEqual(store.listDatasets().map((d) => [d.name, d.sampleCount]), [['A', 2], ['B', 0]]);
      assert.equal(store.getDataset('A')!.id, a.id);
      assert.equal(store.getDataset(a.id)!.name, 'A');
      assert.equal(store.getDataset('nope'), null);
      rejects(() => store.renameDataset(b.id, 'A'), 'ALREADY_EXISTS');
      assert.equal(store.renameDataset(b.id, 'B2').name, 'B2');
      rejects(() => store.renameDataset(999, 'C'), 'NOT_FOUND');
      store.putAmplitudeWindows([{ source: 'local', site: 's', datasetId: a.id, alpha: 0.01, window: win(3, 1, 1) }]);
      store.deleteDataset(a.id);
      assert.equal(store.getDataset(a.id), null);
      assert.equal(store.countSamples(a.id), 0);
      assert.equal(store.listAmplitudeWindows().length, 0, 'windows of a deleted dataset go with it');
      rejects(() => store.deleteDataset(a.id), 'NOT_FOUND');
      store.close();
    });

    test('samples: exact round trip (uint8 and float32), summaries, paging, splits', () => {
      const store = make();
      const f = store.createDataset({ name: 'f', channels: 3, classes: 2 });
      const p = store.createDataset({ name: 'p', channels: 1, classes: 1 });
      const ids = store.addSamples(f.id, fundus.map((s, i): NewSample => ({ ...s, split: i % 2 ? 'test' : 'train', meta: { i } })));
      store.addSamples(p.id, prostate.map((s) => ({ ...s, spacing: [0.5, 0.625] as [number, number] })));
      assert.equal(ids.length, 5);
      const loaded = store.loadSamples(f.id);
      loaded.forEach((s, i) => sameSample(s, fundus[i]!));
      assert.equal(loaded[1]!.split, 'test');
      assert.deepEqual(loaded[3]!.meta, { i: 3 });
      const pl = store.loadSamples(p.id);
      pl.forEach((s, i) => sameSample(s, prostate[i]!));
      assert.deepEqual(pl[0]!.spacing, [0.5, 0.625]);
      const sums = store.listSamples(f.id);
      assert.equal(sums[0]!.imageDtype, 'uint8');
      assert.equal(store.listSamples(p.id)[0]!.imageDtype, 'float32');
      // Summary statistics agree with the pixels.
      const s0 = fundus[0]!;
      const mean = s0.image.data.reduce((a, b) => a + b, 0) / s0.image.data.length;
      assert.ok(Math.abs(sums[0]!.mean - mean) < 1e-6);
      let disc = 0;
      for (let i = 0; i < s0.mask.data.length; i += 2) disc += s0.mask.data[i]!;
      assert.ok(Math.abs(sums[0]!.foreground[0]! - disc / (24 * 24)) < 1e-12);
      assert.equal(sums[0]!.max, Math.max(...s0.image.data));
      // Paging and splits.
      assert.deepEqual(store.listSamples(f.id, { offset: 1, limit: 2 }).map((s) => s.name), [fundus[1]!.name, fundus[2]!.name]);
      assert.equal(store.countSamples(f.id, 'train'), 3);
      assert.deepEqual(store.loadSamples(f.id, { split: 'test' }).map((s) => s.name), [fundus[1]!.name, fundus[3]!.name]);
      assert.deepEqual([...store.iterateSamples(f.id, { offset: 1 })].map((s) => s.id), ids.slice(1));
      sameSample(store.getSample(ids[2]!)!, fundus[2]!);
      sameSample(store.getSampleByName(f.id, fundus[4]!.name)!, fundus[4]!);
      assert.equal(store.getSample(987654), null);
      store.setSplit([ids[0]!], 'val');
      assert.equal(store.getSample(ids[0]!)!.split, 'val');
      store.deleteSamples([ids[0]!, ids[1]!]);
      assert.equal(store.countSamples(f.id), 3);
      // Returned arrays are copies: mutating them does not change the store.
      const got = store.getSample(ids[2]!)!;
      got.image.data[0] = 999;
      got.mask.data[0] = 7;
      sameSample(store.getSample(ids[2]!)!, fundus[2]!);
      rejects(() => store.loadSamples(12345), 'NOT_FOUND');
      store.close();
    });

    test('samples: bad input is rejected with the sample named, and a bad batch writes nothing', () => {
      const store = make();
      const f = store.createDataset({ name: 'f', channels: 3, classes: 2 });
      store.addSamples(f.id, [fundus[0]!]);
      const before = storeFingerprint(store);
      const badMask = { ...fundus[2]!, mask: { ...fundus[2]!.mask, data: fundus[2]!.mask.data.map((v) => v * 2) } };
      rejects(() => store.addSamples(f.id, [fundus[1]!, badMask]), 'INVALID_INPUT', new RegExp(`${fundus[2]!.name}.*0/1`));
      const nan = { ...fundus[2]!, image: { ...fundus[2]!.image, data: fundus[2]!.image.data.map((v, i) => (i === 5 ? NaN : v)) } };
      rejects(() => store.addSamples(f.id, [fundus[1]!, nan]), 'INVALID_INPUT', /non-finite/);
      const small = { ...fundus[2]!, mask: { ...fundus[2]!.mask, width: 12, data: fundus[2]!.mask.data.subarray(0, 12 * 24 * 2) } };
      rejects(() => store.addSamples(f.id, [fundus[1]!, small]), 'SHAPE_MISMATCH', /mask is 12x24, image is 24x24/);
      rejects(() => store.addSamples(f.id, [prostate[0]!]), 'SHAPE_MISMATCH', /1 channels, dataset has 3/);
      rejects(() => store.addSamples(f.id, [fundus[1]!, fundus[1]!]), 'ALREADY_EXISTS', new RegExp(fundus[1]!.name));
      rejects(() => store.addSamples(f.id, [fundus[0]!]), 'ALREADY_EXISTS');
      rejects(() => store.addSamples(f.id, [{ ...fundus[1]!, split: 'bogus' as 'train' }]), 'INVALID_ARGUMENT', /split/);
      rejects(() => store.addSamples(999, [fundus[1]!]), 'NOT_FOUND');
      assert.equal(storeFingerprint(store), before);
      store.close();
    });

    test('imports: staged outside the live tables, all-or-nothing, abort leaves nothing', () => {
      const store = make();
      store.createDataset({ name: 'existing', channels: 3, classes: 2 });
      const before = storeFingerprint(store);
      const imp = store.beginImport({ dataset: { name: 'imp', channels: 3, classes: 2 } });
      imp.add(fundus.slice(0, 2));
      assert.equal(store.getDataset('imp'), null, 'nothing visible before commit');
      rejects(() => imp.add([fundus[2]!, fundus[0]!]), 'ALREADY_EXISTS', new RegExp(fundus[0]!.name));
      assert.equal(imp.staged, 2, 'a failed add stages nothing');
      imp.abort();
      rejects(() => imp.commit(), 'INVALID_ARGUMENT', /aborted/);
      assert.equal(storeFingerprint(store), before);
      rejects(() => store.beginImport({ dataset: { name: 'existing', channels: 3, classes: 2 } }), 'ALREADY_EXISTS');

      const ok = store.beginImport({ dataset: { name: 'imp', kind: 'fundus', channels: 3, classes: 2 } });
      ok.add(fundus.slice(0, 3));
      // Samples may come with the encoding checkStorableSample made (imports encode once); one that
      // does not match its sample, or a count that does not match, is refused and stages nothing.
      const enc = fundus.slice(3).map((x) => checkStorableSample(x, 3, 2, 'imp'));
      rejects(() => ok.add(fundus.slice(3), [enc[1]!, enc[0]!].map((e, i) => (i === 0 ? { ...e, foreground: [0.5] } : e))), 'INVALID_ARGUMENT', /does not match/);
      rejects(() => ok.add(fundus.slice(3), enc.slice(1)), 'INVALID_ARGUMENT', /encodings for/);
      assert.equal(ok.staged, 3);
      ok.add(fundus.slice(3), enc);
      const info = ok.commit();
      assert.equal(info.sampleCount, 5);
      store.loadSamples(info.id).forEach((s, i) => sameSample(s, fundus[i]!));
      // Append to an existing dataset; a name clash with a live sample is refused and nothing lands.
      const app = store.beginImport({ datasetId: info.id });
      rejects(() => app.add([fundus[1]!]), 'ALREADY_EXISTS');
      app.abort();
      // A name created after staging started makes the commit fail as a whole.
      const other = store.getDataset('existing')!;
      const late = store.beginImport({ datasetId: other.id });
      late.add(fundus.slice(0, 2));
      store.addSamples(other.id, [fundus[1]!]);
      const mid = storeFingerprint(store);
      assert.throws(() => late.commit(), (e: unknown) => e instanceof FedSegError && e.code === 'ALREADY_EXISTS');
      assert.equal(storeFingerprint(store), mid);
      store.close();
    });

    test('amplitude windows: local and received, filters, delete', () => {
      const store = make();
      const d = store.createDataset({ name: 'd', channels: 3, classes: 2 });
      const ids = store.putAmplitudeWindows([
        { source: 'local', site: 'A', datasetId: d.id, sampleName: 'x', alpha: 0.01, window: win(3, 1, 1.5) },
        { source: 'received', site: 'B', alpha: 0.01, round: 3, window: win(3, 2, 2.5) },
        { source: 'received', site: 'C', alpha: 0.02, window: win(1, 0, 3.5) },
      ]);
      assert.equal(ids.length, 3);
      const rec = store.listAmplitudeWindows({ source: 'received' });
      assert.deepEqual(rec.map((w) => [w.site, w.round, w.window.halfWidth]), [['B', 3, 2], ['C', null, 0]]);
      assert.deepEqual(rec[0]!.window.data, win(3, 2, 2.5).data);
      assert.equal(store.listAmplitudeWindows({ datasetId: d.id })[0]!.sampleName, 'x');
      rejects(() => store.putAmplitudeWindows([{ source: 'local', site: 'A', alpha: 0.01, window: { channels: 3, halfWidth: 1, data: new Float32Array(5) } }]), 'SHAPE_MISMATCH');
      rejects(() => store.putAmplitudeWindows([{ source: 'sent' as 'local', site: 'A', alpha: 0.01, window: win(1, 0, 1) }]), 'INVALID_ARGUMENT');
      assert.equal(store.deleteAmplitudeWindows({ source: 'received', site: 'B' }), 1);
      assert.equal(store.listAmplitudeWindows().length, 2);
      store.close();
    });

    test('checkpoints, runs and per-round metrics', () => {
      const store = make();
      const run = store.createRun({ name: 'elcfs', config: { rounds: 3, lr: 1e-3 } });
      assert.equal(run.status, 'running');
      store.putRoundMetrics(run.id, 1, { dice: 0.6 });
      store.putRoundMetrics(run.id, 0, { dice: 0.4, loss: 1.2 });
      store.putRoundMetrics(run.id, 1, { dice: 0.7 });
      assert.deepEqual(store.listRoundMetrics(run.id).map((m) => [m.round, m.metrics]), [[0, { dice: 0.4, loss: 1.2 }], [1, { dice: 0.7 }]]);
      rejects(() => store.putRoundMetrics(run.id, 2, { dice: NaN }), 'INVALID_ARGUMENT', /dice/);
      rejects(() => store.putRoundMetrics(999, 2, { dice: 1 }), 'NOT_FOUND');
      const c0 = store.saveCheckpoint({ name: 'global-r0', runId: run.id, round: 0, modelKind: 'unet', blob: weights(1) });
      const c1 = store.saveCheckpoint({ name: 'global-r1', runId: run.id, round: 1, modelKind: 'unet', blob: weights(2), meta: { dice: 0.7 } });
      store.saveCheckpoint({ name: 'standalone', modelKind: 'asc-unet', blob: weights(3) });
      assert.equal(c0.bytes, weights(1).byteLength);
      assert.match(c0.sha256, /^[0-9a-f]{64}$/);
      assert.deepEqual(store.loadCheckpoint(c1.id), weights(2));
      assert.deepEqual(store.latestCheckpoint({ runId: run.id })!.id, c1.id);
      assert.deepEqual(store.listCheckpoints({ runId: run.id }).map((c) => c.name), ['global-r0', 'global-r1']);
      assert.equal(store.listCheckpoints().length, 3);
      assert.deepEqual(store.getCheckpoint(c1.id)!.meta, { dice: 0.7 });
      rejects(() => store.saveCheckpoint({ name: 'junk', modelKind: 'unet', blob: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) }), 'INVALID_INPUT', /junk.*not a FedSeg weights frame/);
      rejects(() => store.saveCheckpoint({ name: 'x', runId: 999, modelKind: 'unet', blob: weights(1) }), 'NOT_FOUND');
      rejects(() => store.loadCheckpoint(999), 'NOT_FOUND');
      store.deleteCheckpoint(c0.id);
      assert.equal(store.getCheckpoint(c0.id), null);
      const done = store.finishRun(run.id, 'finished', { bestDice: 0.7 });
      assert.equal(done.status, 'finished');
      assert.deepEqual(done.summary, { bestDice: 0.7 });
      assert.ok(done.finishedAt);
      assert.deepEqual(store.listRuns().map((r) => r.name), ['elcfs']);
      rejects(() => store.finishRun(run.id, 'running' as 'finished'), 'INVALID_ARGUMENT');
      store.close();
    });

    test('settings and the append-only audit log', () => {
      const store = make();
      store.setSetting('hub.url', 'wss://hub:8443');
      store.setSetting('site', { name: 'A', token: null });
      store.setSetting('hub.url', 'wss://hub:9000');
      assert.equal(store.getSetting<string>('hub.url'), 'wss://hub:9000');
      assert.equal(store.getSetting('missing'), undefined);
      assert.deepEqual(store.listSettings(), { 'hub.url': 'wss://hub:9000', site: { name: 'A', token: null } });
      store.deleteSetting('site');
      rejects(() => store.setSetting('bad', 10n), 'INVALID_ARGUMENT');
      const e1 = store.appendAudit({ direction: 'out', kind: 'amplitude-window', bytes: 1200, peer: 'wss://hub', summary: '3x3x3 window, alpha 0.01' });
      store.appendAudit({ direction: 'in', kind: 'global-model', bytes: 50000, peer: 'wss://hub', summary: 'round 1' });
      store.appendAudit({ direction: 'out', kind: 'weights-update', bytes: 50000, peer: 'wss://hub', summary: 'round 1, 60 samples' });
      assert.equal(e1.direction, 'out');
      assert.ok(e1.at.startsWith('2026-01-01'));
      assert.deepEqual(store.listAudit({ direction: 'out' }).map((e) => e.kind), ['amplitude-window', 'weights-update']);
      assert.deepEqual(store.listAudit({ afterId: e1.id }).length, 2);
      assert.deepEqual(store.listAudit({ newestFirst: true, limit: 1 })[0]!.kind, 'weights-update');
      rejects(() => store.appendAudit({ direction: 'sideways' as 'in', kind: 'x', bytes: 1, peer: 'p', summary: '' }), 'INVALID_ARGUMENT');
      rejects(() => store.appendAudit({ direction: 'in', kind: 'x', bytes: -1, peer: 'p', summary: '' }), 'INVALID_ARGUMENT');
      assert.ok(!('deleteAudit' in store), 'no API removes audit entries');
      store.close();
    });

    test('transaction(): a throw rolls back every write inside it', () => {
      const store = make();
      const d = store.createDataset({ name: 'd', channels: 3, classes: 2 });
      const before = storeFingerprint(store);
      assert.throws(() => store.transaction(() => {
        store.addSamples(d.id, fundus.slice(0, 2));
        store.appendAudit({ direction: 'in', kind: 'x', bytes: 1, peer: 'p', summary: '' });
        store.createRun({ name: 'r', config: {} });
        throw new Error('boom');
      }), /boom/);
      assert.equal(storeFingerprint(store), before);
      // Ids are not reused after a rollback of the write that would have taken them either way.
      const r = store.createRun({ name: 'r2', config: {} });
      assert.equal(r.id, 1);
      store.close();
    });
  });
}

test('SQLite store and in-memory twin end with identical contents after the same script', () => {
  const fps = factories.map(([, make]) => {
    const s = make();
    script(s);
    const fp = storeFingerprint(s);
    s.close();
    return fp;
  });
  assert.equal(fps[0], fps[1]);
});
