// The app's "Compare methods" on a real store: three demo fundus datasets (32x32, 3 images each) as
// three sites, FedAvg vs ELCFS leave-one-site-out (one fold, one seed, 1-2 rounds), every run a real hub
// and site processes. Progress events, the tables, the report; one heavy job at a time; bad choices
// refused at the call; a stopped comparison resumes with its finished runs kept; an engine closed
// mid-way reports it as interrupted on the next start.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ComparisonState } from '../contract/app-api.js';
import { dispatch } from './dispatch.js';
import { createEngine, type Engine } from './engine.js';

let dir: string;
let engine: Engine;
let ids: string[] = [];
const events: ComparisonState[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-compare-'));
  engine = await createEngine({ dbPath: join(dir, 'site.sqlite'), mode: 'browser' });
  engine.subscribe((e, p) => {
    if (e === 'comparisonProgress') events.push(p as ComparisonState);
  });
  ids = (await engine.handlers.generateDemoData({ kind: 'fundus', sites: 3, perSite: 3, size: 32, seed: 5 })).datasets.map((d) => d.id);
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

function until(pred: (s: ComparisonState) => boolean, ms: number): Promise<ComparisonState> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = async () => {
      const s = await engine.handlers.getComparison({});
      if (pred(s)) return resolve(s);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out; last state ${JSON.stringify(s).slice(0, 400)}`));
      setTimeout(() => void tick(), 200);
    };
    void tick();
  });
}

test('bad choices are refused at the call', async () => {
  const two = await dispatch(engine.handlers, 'startComparison', { datasetIds: ids.slice(0, 2) });
  assert.equal(two.ok, false);
  assert.match(!two.ok ? two.error.message : '', /datasetIds/);
  const odd = await dispatch(engine.handlers, 'startComparison', { datasetIds: ids, methods: ['fedprox'] });
  assert.equal(odd.ok, false);
  const unseen = await dispatch(engine.handlers, 'startComparison', { datasetIds: ids, unseen: ['999'] });
  assert.deepEqual(unseen.ok ? null : unseen.error.code, 'INVALID_ARGUMENT');
  const nothing = await dispatch(engine.handlers, 'startComparison', { datasetIds: ids, resume: true });
  assert.deepEqual(nothing.ok ? null : nothing.error.code, 'NOT_FOUND');
  assert.equal((await engine.handlers.getComparison({})).state, 'idle');
});

test('a comparison runs, reports progress and tables, blocks other heavy jobs; stopped, it resumes with its runs kept', { timeout: 300_000 }, async () => {
  const cfg = { datasetIds: ids, methods: ['fedavg', 'elcfs'] as ('fedavg' | 'elcfs')[], seeds: 1, rounds: 2, unseen: [ids[1]!], baseWidth: 4, batchSize: 3 };
  const s = await engine.handlers.startComparison({ ...cfg, resume: false });
  assert.equal(s.state, 'running');
  assert.deepEqual(s.datasets.map((d) => d.name), ['Demo fundus Domain1', 'Demo fundus Domain2', 'Demo fundus Domain3']);
  const busy = await dispatch(engine.handlers, 'startTraining', { name: 'x', datasetIds: [ids[0]!] });
  assert.match(busy.ok ? '' : busy.error.message, /comparison is running/);
  // Stop once the first run finished: the second (ELCFS) is cut short.
  await until((x) => x.runsDone >= 1 || x.state !== 'running', 200_000);
  const stopped = await engine.handlers.cancelComparison({});
  assert.ok(stopped.state === 'cancelled' || stopped.state === 'done', stopped.state);
  if (stopped.state === 'cancelled') {
    assert.equal(stopped.results.length, 2, 'header + the finished FedAvg row');
    const again = await engine.handlers.startComparison({ ...cfg, resume: true });
    assert.equal(again.state, 'running');
  }
  const done = await until((x) => x.state !== 'running', 200_000);
  assert.equal(done.state, 'done', done.message);
  assert.equal(done.runsDone, 2);
  assert.equal(done.runsTotal, 2);
  assert.deepEqual(done.results[0]!.slice(0, 4), ['unseen site', 'method', 'seeds', 'optic disc Dice %']);
  assert.deepEqual(done.results.slice(1).map((r) => r.slice(0, 3)), [['Demo fundus Domain2', 'FedAvg', '1'], ['Demo fundus Domain2', 'ELCFS', '1']]);
  assert.match(done.differences[1]!.join(' '), /ELCFS − FedAvg/);
  assert.ok(done.reportPath && existsSync(done.reportPath));
  assert.ok(events.some((e) => e.state === 'running' && e.current?.includes('unseen Demo fundus Domain2')), 'progress names the run in progress');
  assert.ok(events.at(-1)!.state === 'done');
  const noop = await dispatch(engine.handlers, 'cancelComparison', {});
  assert.deepEqual(noop.ok ? null : noop.error.code, 'NOT_FOUND');
});

test('an engine closed during a comparison shows it as interrupted on the next start, and Resume finishes it', { timeout: 300_000 }, async () => {
  const cfg = { datasetIds: ids, methods: ['fedavg'] as 'fedavg'[], seeds: 1, rounds: 2, unseen: [ids[0]!], baseWidth: 4, batchSize: 3 };
  await engine.handlers.startComparison({ ...cfg, resume: false });
  await engine.close();
  engine = await createEngine({ dbPath: join(dir, 'site.sqlite'), mode: 'browser' });
  const s = await engine.handlers.getComparison({});
  assert.equal(s.state, 'interrupted');
  assert.match(s.message, /Resume/);
  await engine.handlers.startComparison({ ...cfg, resume: true });
  const done = await until((x) => x.state !== 'running', 200_000);
  assert.equal(done.state, 'done', done.message);
  assert.deepEqual(done.results.slice(1).map((r) => r.slice(0, 2)), [['Demo fundus Domain1', 'FedAvg']]);
});
