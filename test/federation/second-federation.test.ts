// A site that finished one federation joins another whose network has another size: the app (real
// engine, job worker, SQLite store) takes part in a hub training a U-Net of base width 8, then in a
// second hub training base width 4, and trains every round of both. Optimiser state is kept per
// federated run, so the first run's moments are never applied to the second network; both runs' final
// global models stay in the store, each with its own spec.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { createEngine } from '../../core/app/engine.js';
import { openSqliteStore } from '../../core/store/sqlite-store.js';
import { startHub, tempDir, waitFor } from './helpers/hub-harness.js';

test('a site finishes a base-width-8 federation, then joins a base-width-4 hub and trains its rounds', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = tempDir('fedseg-second-');
  const db = join(dir, 'site.db');
  const store = openSqliteStore(db);
  const ds = store.createDataset({ name: 'Domain1', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
  store.addSamples(ds.id, generateFundusSites({ sites: 1, perSite: 4, size: 32, seed: 4 })[0]!.samples);
  store.close();
  const engine = await createEngine({ dbPath: db, mode: 'browser' });
  try {
    const run = async (width: number, name: string) => {
      mkdirSync(join(dir, name));
      const { hub, url } = await startHub(join(dir, name), {
        name, mode: 'fedavg', rounds: 2, minSites: 1, evaluate: 'none', siteTimeoutMs: 120_000, roundTimeoutMs: 120_000,
        model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: width, depth: 3 } },
        train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 },
      }, []);
      const token = hub.state.addSite('site-a', 'train');
      const done = hub.run();
      await engine.handlers.saveFederationSettings({ hubUrl: url, siteName: 'site-a', token });
      await engine.handlers.joinFederation({ datasetIds: [String(ds.id)] });
      await waitFor(() => ['finished', 'error', 'idle'].includes(engineState()), 120_000, `the ${name} federation ends`);
      const st = await engine.handlers.getFederationStatus({});
      assert.equal(st.state, 'finished', st.message);
      assert.match(st.model ?? '', new RegExp(`unet base ${width} depth 3`));
      await done;
      assert.equal(hub.state.lastCompletedRound(), 2);
      assert.deepEqual(hub.state.listRounds().map((r) => r.accepted), [['site-a'], ['site-a']], `${name}: the site trained every round`);
      await hub.stop();
    };
    let state = 'idle';
    const engineState = () => state;
    engine.subscribe((e, p) => {
      if (e === 'federationStatus') state = (p as { state: string }).state;
    });
    await run(8, 'hub-w8');
    state = 'idle';
    await run(4, 'hub-w4');
    // Every round's global model of both federations is kept, each with its own network; the newest
    // federation's final round comes first (what a page pre-selects), labelled as final.
    const globals = (await engine.handlers.listModels({})).filter((m) => m.source === 'global');
    assert.deepEqual(globals.map((m) => [m.round, m.description.match(/base \d+/)?.[0]]), [[2, 'base 4'], [1, 'base 4'], [2, 'base 8'], [1, 'base 8']]);
    assert.match(globals[0]!.name, /hub-w4 · round 2 of 2, final/);
    // Two optimiser states, one per run, of different sizes.
    const s = openSqliteStore(db);
    const opt = s.listCheckpoints().filter((c) => c.meta.role === 'optimiser');
    assert.equal(new Set(opt.map((c) => c.meta.runKey)).size, 2);
    assert.notEqual(opt[0]!.bytes, opt[1]!.bytes);
    s.close();
  } finally {
    await engine.close();
    cleanup();
  }
});
