// Crashes (SIGKILL, bounded and self-stopping): the hub killed mid-round and restarted resumes at the
// last completed round and the sites rejoin; a site killed right after persisting its update resends it
// after its restart; a site killed mid-round is excluded by the deadline and the run still finishes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HubState } from '../../federation-hub/state.js';
import { openSqliteStore } from '../../core/store/sqlite-store.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { site, tempDir, waitFor, within } from './helpers/hub-harness.js';
import { spawnFakeSite, spawnHub } from './helpers/processes.js';

function hubConfig(dir: string, extra: Record<string, unknown>): string {
  const path = join(dir, 'hub.json');
  writeFileSync(path, JSON.stringify({
    host: '127.0.0.1', db: join(dir, 'hub.db'), heartbeatMs: 200, siteTimeoutMs: 30_000, evaluate: 'none',
    model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 2, depth: 2 } }, initSeed: 3, ...extra,
  }));
  return path;
}

function enrol(dir: string, names: string[]): Record<string, string> {
  const st = new HubState(join(dir, 'hub.db'));
  const t = Object.fromEntries(names.map((n) => [n, st.addSite(n)]));
  st.close();
  return t;
}

test('hub SIGKILLed mid-round and restarted: resumes at the last completed round, sites rejoin, run finishes', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  let hub: Awaited<ReturnType<typeof spawnHub>> | undefined;
  try {
    const cfg = hubConfig(dir, { mode: 'elcfs', rounds: 4, minSites: 2, roundTimeoutMs: 30_000 });
    const tokens = enrol(dir, ['A', 'B']);
    hub = await spawnHub(cfg);
    const port = hub.port;
    const url = `ws://127.0.0.1:${port}`;
    let restarted: Promise<void> | undefined;
    const killer = async (round: number) => {
      if (round !== 2 || restarted) return;
      restarted = (async () => {
        hub!.proc.kill('SIGKILL');
        await hub!.exited;
        hub = await spawnHub(cfg, port);
      })();
    };
    const opts = { backoff: { initialMs: 100, maxMs: 300 } };
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 4, workMs: 200, onTrain: (r) => killer(r.round) }), opts);
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 2, samples: 4, workMs: 200 }), opts);
    const [ra, rb] = await within(Promise.all([a.promise, b.promise]), 60_000, 'sites');
    await restarted;
    assert.ok(ra.reconnects >= 1 && rb.reconnects >= 1);
    await within(hub.exited, 10_000, 'hub exit');
    const st = new HubState(join(dir, 'hub.db'));
    assert.equal(st.lastCompletedRound(), 4);
    assert.deepEqual(st.listRounds().map((r) => r.status), ['done', 'done', 'done', 'done']);
    assert.ok(st.listAudit({ event: 'round_aborted' }).some((x) => /round 2: hub restarted/.test(x.detail)));
    assert.equal(st.listAudit({ event: 'init_model' }).length, 1, 'the initial model is made once');
    st.close();
    // Round 2's update, finished while the hub was down, was resent, not retrained.
    assert.ok(a.events.some((e) => e.type === 'round-sent' && e.round === 2 && e.resent) || (a.trainer as FakeTrainer).trained.filter((r) => r === 2).length === 1);
  } finally {
    hub?.proc.kill('SIGKILL');
    cleanup();
  }
});

test('site SIGKILLed after persisting its update resends it on restart; a site killed mid-round is excluded', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  let hub: Awaited<ReturnType<typeof spawnHub>> | undefined;
  const kids: { proc: { kill: (s: NodeJS.Signals) => boolean } }[] = [];
  try {
    // D (killed for good) is excluded by rejoinGraceMs; C's restart (a new tsx process, slow on a loaded
    // machine) must fit in that grace, so it is generous, and the deadline is only a backstop.
    const cfg = hubConfig(dir, { mode: 'fedavg', rounds: 3, minSites: 3, roundTimeoutMs: 60_000, rejoinGraceMs: 8000 });
    const tokens = enrol(dir, ['A', 'B', 'C', 'D']);
    hub = await spawnHub(cfg);
    const url = `ws://127.0.0.1:${hub.port}`;
    const cArgs = { hub: url, name: 'C', token: tokens.C!, db: join(dir, 'C.db'), target: 3, 'die-after-persist': 2 };
    const c1 = spawnFakeSite(cArgs);
    const d = spawnFakeSite({ hub: url, name: 'D', token: tokens.D!, db: join(dir, 'D.db'), target: 4, 'work-ms': 3000 });
    kids.push(c1, d);
    // C and D are separate tsx processes that start slower than the in-process A and B: wait until both are
    // connected, so all four are participants from round 2 on (on a quiet machine rounds 1-2 otherwise
    // opened with A, B, C before D had connected, and D was never a round-2 participant to exclude).
    await waitFor(() => [c1, d].every((k) => k.out.some((l) => l.includes('"type":"connected"'))), 30_000, 'C and D connected');
    let killedD = false;
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 5, workMs: 100, onTrain: (r) => {
      if (r.round === 2 && !killedD) { killedD = true; d.proc.kill('SIGKILL'); }
    } }));
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 2, samples: 5, workMs: 100 }));
    // C kills itself after persisting round 2; restart it with the same database.
    assert.equal(await within(c1.exited, 30_000, 'C crash'), null);
    const c2 = spawnFakeSite(cArgs);
    kids.push(c2);
    await within(Promise.all([a.promise, b.promise]), 60_000, 'sites');
    assert.equal(await within(c2.exited, 20_000, 'C exit'), 0, c2.out.join('\n'));
    await within(hub.exited, 10_000, 'hub exit');
    const st = new HubState(join(dir, 'hub.db'));
    const rounds = st.listRounds();
    assert.deepEqual(rounds.map((r) => r.status), ['done', 'done', 'done']);
    assert.deepEqual(rounds[1]!.accepted.sort(), ['A', 'B', 'C'], 'C resent its persisted round-2 update');
    assert.ok(rounds[1]!.rejected.some((x) => x.site === 'D' && /dropped|straggler/.test(x.reason)), JSON.stringify(rounds[1]!.rejected));
    st.close();
    assert.ok(c2.out.some((l) => l.includes('"round-sent"') && l.includes('"round":2') && l.includes('"resent":true')), c2.out.join('\n'));
    const cStore = openSqliteStore(join(dir, 'C.db'));
    assert.ok(cStore.listAudit({ kind: 'weights-update' }).some((x) => /round 2/.test(x.summary)));
    cStore.close();
  } finally {
    for (const k of kids) k.proc.kill('SIGKILL');
    hub?.proc.kill('SIGKILL');
    cleanup();
  }
});
