// The app engine on a real SQLite file: datasets, viewer values, frequency views (CFSI lambda = 0 is the
// identity), import detection + import, outbox, federation settings, and a local training in the worker
// thread with progress, cancel, resume and segmentation of the result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventPayload } from '../contract/app-api.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { writeBinaryMaskFolder } from '../data/export.js';
import { createEngine, type Engine } from './engine.js';
import { DEFAULT_SITE_POLICY } from '../contract/site-policy.js';
import { detectConvention } from './importing.js';

let dir: string;
let engine: Engine;
const progress: EventPayload<'trainingProgress'>[] = [];
let ids: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-engine-'));
  engine = await createEngine({ dbPath: join(dir, 'site.sqlite'), mode: 'browser' });
  engine.subscribe((e, p) => {
    if (e === 'trainingProgress') progress.push(p as EventPayload<'trainingProgress'>);
  });
  const r = await engine.handlers.generateDemoData({ kind: 'fundus', sites: 2, perSite: 5, size: 32, seed: 5 });
  ids = r.datasets.map((d) => d.id);
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const h = () => engine.handlers;

test('demo data: one dataset per site with statistics and 8-bit pictures', async () => {
  const list = await h().listDatasets({});
  assert.deepEqual(list.map((d) => [d.site, d.count, d.width, d.channels, d.classNames.length]), [['Domain1', 5, 32, 3, 2], ['Domain2', 5, 32, 3, 2]]);
  const st = await h().getDatasetStats({ datasetId: ids[0]! });
  assert.equal(st.count, 5);
  assert.deepEqual(st.sizes, [{ width: 32, height: 32, count: 5 }]);
  assert.ok(st.labelFractions[0]! > st.labelFractions[1]! && st.labelFractions[1]! > 0, 'the disc contains the cup');
  const s = await h().getSample({ datasetId: ids[0]!, index: 4 });
  assert.equal(s.image.pixels.length, 32 * 32 * 3);
  assert.equal(s.mask!.data.length, 32 * 32 * 2);
  await assert.rejects(h().getSample({ datasetId: ids[0]!, index: 5 }), /no image number 6/);
  const page = await h().listSamples({ datasetId: ids[1]!, offset: 3, limit: 10 });
  assert.deepEqual(page.items.map((i) => i.index), [3, 4]);
});

test('frequency: spectrum window size, bank, lambda = 0 keeps the image, outgoing window sizes', async () => {
  const sp = await h().getSpectrum({ datasetId: ids[0]!, index: 0, alpha: 0.1 });
  assert.equal(sp.halfWidth, 3);
  assert.equal(sp.spectrum.data.length, 32 * 32);
  assert.equal((await h().buildAmplitudeBank({ datasetId: ids[1]!, alpha: 0.1 })).added, 5);
  const bank = await h().listAmplitudeBank({});
  assert.equal(bank.length, 5);
  assert.equal(bank[0]!.site, 'Domain1'.replace('1', '2'));
  const orig = await h().getSample({ datasetId: ids[0]!, index: 0 });
  const same = await h().previewInterpolation({ datasetId: ids[0]!, index: 0, bankId: bank[0]!.id, lambda: 0 });
  let maxDiff = 0;
  same.image.pixels.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - orig.image.pixels[i]!))));
  assert.ok(maxDiff <= 1, `lambda = 0 changed the image by ${maxDiff}`);
  const moved = await h().previewInterpolation({ datasetId: ids[0]!, index: 0, bankId: bank[0]!.id, lambda: 1 });
  let diff = 0;
  moved.image.pixels.forEach((v, i) => (diff += Math.abs(v - orig.image.pixels[i]!)));
  assert.ok(diff / moved.image.pixels.length > 1, 'lambda = 1 takes the other site\'s style');
  assert.equal(moved.window.width, 7);
  const out = await h().previewOutgoingWindows({ datasetIds: [ids[0]!], alpha: 0.1, limit: 2 });
  assert.equal(out.windows.length, 2);
  assert.equal(out.bytesEach, 3 * 7 * 7 * 4);
  assert.equal(out.totalCount, 5);
});

test('import: layout detection, dry run, import, rename and delete', async () => {
  const [site] = generateFundusSites({ sites: 1, perSite: 3, size: 32, seed: 2 });
  await writeBinaryMaskFolder({ site: 'hx', samples: site!.samples }, dir, ['-Disc-T', '-Cup-T']);
  const folder = join(dir, 'hx');
  assert.equal(await detectConvention(folder), 'folder-binary');
  const pre = await h().previewImport({ path: folder, convention: 'auto', jobId: 'p' });
  assert.equal(pre.total, 3);
  assert.equal(pre.items.length, 3);
  assert.ok(pre.items.every((i) => i.thumbnail && i.hasMask && i.problems.length === 0));
  assert.equal((await h().listDatasets({})).length, 2, 'a dry run writes nothing');
  const r = await h().importDataset({ path: folder, convention: 'auto', name: 'Imported', site: 'hx', jobId: 't', skipBad: false });
  assert.equal(r.dataset.count, 3);
  assert.equal(r.dataset.site, 'hx');
  await assert.rejects(h().previewImport({ path: join(dir, 'missing'), convention: 'auto', jobId: 'p' }), /missing: folder does not exist/);
  await h().renameDataset({ datasetId: r.dataset.id, name: 'Renamed' });
  assert.ok((await h().listDatasets({})).some((d) => d.name === 'Renamed'));
  await h().deleteDataset({ datasetId: r.dataset.id });
  assert.equal((await h().listDatasets({})).length, 2);
});

test('outbox lists the audit log newest first with totals', async () => {
  engine.store.appendAudit({ direction: 'out', kind: 'amplitude-window', bytes: 588, peer: 'hub', summary: 'w' });
  engine.store.appendAudit({ direction: 'in', kind: 'global-model', bytes: 1000, peer: 'hub', summary: 'g' });
  const a = await h().listAudit({ offset: 0, limit: 10 });
  assert.equal(a.total, 2);
  assert.equal(a.totalBytesOut, 588);
  assert.equal(a.totalBytesIn, 1000);
  assert.equal(a.entries[0]!.kind, 'global-model');
  assert.equal((await h().listAudit({ offset: 0, limit: 10, direction: 'out' })).entries.length, 1);
});

test('federation settings keep the token out of the API', async () => {
  // A token is kept only once a hub accepted it: an unreachable hub leaves it unsaved, and says why.
  const s = await h().saveFederationSettings({ hubUrl: 'ws://127.0.0.1:1', siteName: 'site-a', token: 's3cret' });
  assert.deepEqual({ ...s, report: s.report?.problem }, { hubUrl: 'ws://127.0.0.1:1', siteName: 'site-a', tokenSet: false, datasetIds: [], ca: '', trustedFingerprint: null, hub: null, policy: DEFAULT_SITE_POLICY, transport: 'hub', flowerAddress: '', flowerRootCertificates: '', flowerPublicKey: '', report: 'refused' });
  assert.match(s.report!.message, /new token was not saved/);
  assert.ok(!JSON.stringify(await h().getFederationSettings({})).includes('s3cret'));
  await assert.rejects(h().saveFederationSettings({ hubUrl: 'ws://127.0.0.1:1', siteName: 'a', ca: 'not a pem' }), /PEM/);
  await assert.rejects(h().saveFederationSettings({ hubUrl: 'ws://127.0.0.1:1', siteName: 'a', trustedFingerprint: 'abc' }), /64 hexadecimal/);
  await assert.rejects(h().saveFederationSettings({ hubUrl: 'ftp://x', siteName: 'a' }), /not a hub address/);
  assert.equal((await h().getFederationStatus({})).state, 'idle');
  const r = await h().testConnection({ hubUrl: 'ws://127.0.0.1:1', token: 'x' });
  assert.equal(r.problem, 'refused');
});

const waitFor = async (pred: () => boolean, ms = 60_000) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};

test('training runs in a worker: progress, cancel keeps a checkpoint, resume finishes, the model segments', async () => {
  const cfg = { name: 'unit', datasetIds: ids, modelKind: 'unet' as const, baseWidth: 4, depth: 3, epochs: 3, batchSize: 2, learningRate: 1e-3, elcfs: false, maxSteps: 0, seed: 1 };
  const { runId } = await h().startTraining(cfg);
  await assert.rejects(h().startTraining(cfg), /already running/);
  await waitFor(() => progress.some((p) => p.runId === runId && p.phase === 'training' && p.step >= 1));
  assert.ok((await h().getTrainingState({})).active, 'the API answers while training runs');
  await h().cancelTraining({ runId });
  await waitFor(() => progress.some((p) => p.runId === runId && p.phase === 'cancelled'));
  const runs = await h().listRuns({});
  const cancelled = runs.find((r) => r.id === runId)!;
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.canResume, true);
  const { runId: resumed } = await h().resumeTraining({ runId });
  await waitFor(() => progress.some((p) => p.runId === resumed && (p.phase === 'done' || p.phase === 'failed')));
  const done = progress.filter((p) => p.runId === resumed).at(-1)!;
  assert.equal(done.phase, 'done', done.message);
  const all = await h().listRuns({});
  assert.equal(all.find((r) => r.id === runId)!.canResume, false, 'a resumed run is not resumed twice');
  const fin = all.find((r) => r.id === resumed)!;
  assert.equal(fin.status, 'done');
  assert.ok(fin.history.length >= 1 && fin.history.every((p) => p.dice !== null && p.dice >= 0 && p.dice <= 1));
  const steps = progress.filter((p) => p.phase === 'training').map((p) => p.step);
  assert.ok(steps.every((s) => s >= 1 && s <= 12));
  const models = await h().listModels({});
  assert.ok(models.length >= 1 && models.every((m) => m.kind === 'unet' && m.inChannels === 3 && m.classes === 2));
  const seg = await h().runSegmentation({ modelId: fin.modelId!, datasetId: ids[0]!, index: 0, threshold: 0.75 });
  assert.equal(seg.prediction.data.length, 32 * 32 * 2);
  assert.equal(seg.metrics!.dice.length, 2);
  assert.ok(seg.metrics!.dice.every((d) => d >= 0 && d <= 1));
  assert.equal(seg.rate, null);
  await h().deleteModel({ modelId: fin.modelId! });
  await assert.rejects(h().runSegmentation({ modelId: fin.modelId!, datasetId: ids[0]!, index: 0, threshold: 0.75 }), /no longer exists/);
});
