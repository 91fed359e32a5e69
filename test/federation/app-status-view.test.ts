// The app follows a federation through the hub's public status view (docs/security.md §6): a real
// engine (job worker, SQLite store) takes part in a one-round hub where two more sites are enrolled but
// never come; its Federation status lists this site and one line with the others' count — never their
// names — and the round's unseen-site Dice is the hub's mean of the evaluations.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { roundMeanDice } from '../../core/contract/hub-status.js';
import { createEngine } from '../../core/app/engine.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { openSqliteStore } from '../../core/store/sqlite-store.js';
import { startHub, tempDir, waitFor } from './helpers/hub-harness.js';

test('the app shows counts of the other sites, not their names, and the hub\'s mean Dice', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = tempDir('fedseg-app-status-');
  const db = join(dir, 'site.db');
  const store = openSqliteStore(db);
  const ds = store.createDataset({ name: 'Domain1', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
  store.addSamples(ds.id, generateFundusSites({ sites: 1, perSite: 3, size: 32, seed: 4 })[0]!.samples);
  store.close();
  const engine = await createEngine({ dbPath: db, mode: 'browser' });
  try {
    const { hub, url } = await startHub(dir, {
      name: 'status-hub', mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'all', siteTimeoutMs: 120_000, roundTimeoutMs: 120_000,
      model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } },
      train: { localEpochs: 1, batchSize: 3, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 },
    }, [{ name: 'absent-hospital' }, { name: 'absent-unseen', role: 'eval' }]);
    const token = hub.state.addSite('site-a', 'train');
    const done = hub.run();
    let state = 'idle';
    engine.subscribe((e, p) => {
      if (e === 'federationStatus') state = (p as { state: string }).state;
    });
    await engine.handlers.saveFederationSettings({ hubUrl: url, siteName: 'site-a', token });
    await engine.handlers.joinFederation({ datasetIds: [String(ds.id)] });
    await waitFor(() => ['finished', 'error', 'idle'].includes(state), 180_000, 'the federation ends');
    await done;
    // The last poll (after the site stopped) fills the list and the round's Dice.
    let st = await engine.handlers.getFederationStatus({});
    for (let i = 0; i < 100 && (st.sites.length === 0 || st.history[0]?.unseenDice == null); i++) {
      await new Promise((r) => setTimeout(r, 100));
      st = await engine.handlers.getFederationStatus({});
    }
    assert.equal(st.state, 'finished', st.message);
    assert.deepEqual(st.sites.map((s) => [s.name, s.state]), [['site-a', 'offline'], ['2 other sites (0 connected)', 'offline']]);
    assert.ok(!JSON.stringify(st).includes('absent-'), 'no other site is named');
    const dice = roundMeanDice(hub.state.listEvaluations(), 1);
    assert.ok(dice !== null, 'the site evaluated the global model');
    assert.ok(Math.abs(st.history[0]!.unseenDice! - dice) < 1e-9, `app ${st.history[0]!.unseenDice} vs hub ${dice}`);
    await hub.stop();
  } finally {
    await engine.close();
    cleanup();
  }
});
