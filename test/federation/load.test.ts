// Load: 50 light-weight simulated sites (real site clients, real ws, real SQLite hub) through 2 ELCFS
// rounds on one hub; every site's update is aggregated and every site gets a bank of 49 sources.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { site, startHub, tempDir, within } from './helpers/hub-harness.js';

test('50 simulated sites on one hub', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const N = 50;
    const names = Array.from({ length: N }, (_, i) => `site${String(i).padStart(2, '0')}`);
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 2, minSites: N, roundTimeoutMs: 60_000, evaluate: 'none' }, names.map((name) => ({ name })));
    const run = hub.run();
    const sites = names.map((n, i) => site(url, n, tokens[n]!, new FakeTrainer({ target: i % 5, samples: 1 + (i % 3), windows: 1, workMs: 5 })));
    const res = await within(Promise.all([...sites.map((s) => s.promise), run]), 150_000, '50-site run');
    assert.equal(res.length, N + 1);
    const rounds = hub.state.listRounds();
    assert.deepEqual(rounds.map((r) => [r.status, r.accepted.length]), [['done', N], ['done', N]]);
    for (const s of sites) {
      const bank = (s.trainer as FakeTrainer).banks[0]!;
      assert.equal(bank.length, N - 1);
    }
    await hub.stop();
  } finally {
    cleanup();
  }
});
