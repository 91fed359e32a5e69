// `fedseg experiment` end to end through the CLI on a real store of three tiny sites (32x32 fundus,
// 3 images each): FedAvg and ELCFS, 2 rounds, 2 seeds, one fold, the sites inside the experiment's
// process and the hub its own process. Checks the table, results.json (every run's rounds, per-image
// scores, bytes per site), the run records, the report (charts, overlay files); that the same command
// again reuses every run; that other settings are refused for the same directory; and that an
// experiment killed outright in the middle of a run resumes it at its last completed round.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { openSqliteStore } from '../store/sqlite-store.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'fedseg-experiment-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const db = join(dir, 'consortium.db');
{
  const store = openSqliteStore(db);
  for (const d of generateFundusSites({ sites: 3, perSite: 3, size: 32, seed: 5 })) {
    const ds = store.createDataset({ name: `${d.site} clinic`, kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
    store.addSamples(ds.id, d.samples.map((s, i) => ({ ...s, split: i === 0 ? 'test' : 'train' })));
  }
  store.close();
}

interface Res { code: number | null; out: string }
function fedseg(args: string[], o: { killWhen?: RegExp; timeoutMs?: number } = {}): Promise<Res> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'bin/fedseg.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer) => {
      out += d.toString();
      if (o.killWhen?.test(out)) p.kill('SIGKILL');
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 240_000);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

const common = ['--db', db, '--unseen', '2', '--base-width', '4', '--depth', '3', '--batch', '3', '--in-process'];

test('a tiny experiment through the CLI: table, results, records, report; the same command reuses every run', { timeout: 300_000 }, async () => {
  const out = join(dir, 'out');
  const args = ['experiment', ...common, '--rounds', '2', '--seeds', '2', '--methods', 'fedavg,elcfs', '--out', out, '--overlays', '2'];
  const r = await fedseg(args);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /\| unseen site +\| method +\| seeds +\| disc Dice % +\| cup Dice % +\| disc HD95 px +\| cup HD95 px +\| time s +\| MB from sources +\|/);
  assert.match(r.out, /\| Domain2-clinic +\| FedAvg +\| 2 +\| \d+\.\d ± \d+\.\d +\|/);
  assert.match(r.out, /\| Domain2-clinic +\| ELCFS +\| 2 +\|/);
  assert.match(r.out, /\| Domain2-clinic +\| ELCFS − FedAvg +\| [+-]?\d+\.\d \[[+-]?\d+\.\d, [+-]?\d+\.\d\] +\|/);

  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    sites: { name: string; dataset: string; images: number }[];
    runs: { key: string; method: string; seed: number; fold: string; rounds: { round: number; metrics: Record<string, number> }[];
      final: { round: number; perImage: { name: string; dice: number[] }[] }; overlays: { file: string }[]; bytesFromSite: Record<string, number> }[];
    summary: { cells: { fold: string; method: string; seeds: number; dice: { mean: number; std: number; n: number }[] }[]; diffs: { fold: string; dice: ({ lo: number; hi: number } | null)[] }[] };
  };
  assert.deepEqual(res.sites.map((s) => [s.name, s.dataset, s.images]), [['Domain1-clinic', 'Domain1 clinic', 3], ['Domain2-clinic', 'Domain2 clinic', 3], ['Domain3-clinic', 'Domain3 clinic', 3]]);
  assert.deepEqual(res.runs.map((x) => [x.method, x.seed]).sort(), [['elcfs', 1], ['elcfs', 2], ['fedavg', 1], ['fedavg', 2]]);
  for (const x of res.runs) {
    assert.equal(x.fold, 'Domain2-clinic');
    assert.deepEqual(x.rounds.map((e) => e.round), [1, 2]);
    for (const e of x.rounds) for (const k of ['dice_c0', 'dice_c1']) assert.ok(e.metrics[k]! >= 0 && e.metrics[k]! <= 1);
    // The unseen site scores every one of its images (all splits), with the final (round 2) model.
    assert.equal(x.final.round, 2);
    assert.equal(x.final.perImage.length, 3);
    // The sources sent their updates (kilobytes at least); the unseen site only small messages.
    assert.ok(x.bytesFromSite['Domain1-clinic']! > 20_000 && x.bytesFromSite['Domain3-clinic']! > 20_000, JSON.stringify(x.bytesFromSite));
    assert.ok(x.bytesFromSite['Domain2-clinic']! < x.bytesFromSite['Domain1-clinic']! / 5);
    assert.equal(x.overlays.length, 2);
    for (const ov of x.overlays) assert.ok(existsSync(join(out, ov.file)));
  }
  assert.deepEqual(res.summary.cells.map((c) => [c.method, c.seeds, c.dice[0]!.n]), [['fedavg', 2, 2], ['elcfs', 2, 2]]);
  const d = res.summary.diffs.find((x) => x.fold === 'Domain2-clinic')!;
  assert.ok(d.dice[0]!.lo <= d.dice[0]!.hi);
  assert.deepEqual(readdirSync(join(out, 'runs')).sort(), res.runs.map((x) => `${x.key}.json`).sort());
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(html.includes('<table>') && (html.match(/<svg/g) ?? []).length === 2 && html.includes('Paired differences'));
  assert.equal((html.match(/<img src="overlays\//g) ?? []).length, 2 * 2, 'overlays of the first seed per method');
  assert.ok(!existsSync(join(out, 'work', res.runs[0]!.key)), 'a finished run\'s stores are removed');

  const again = await fedseg(args);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /4 of 4 run\(s\) already done/);
  assert.match(again.out, /0 run\(s\) now, 4 reused/);

  const other = await fedseg(['experiment', ...common, '--rounds', '3', '--seeds', '2', '--out', out]);
  assert.equal(other.code, 1, other.out);
  assert.match(other.out, /holds an experiment with other settings .*"rounds":3.* vs .*"rounds":2/);

  // A mistyped store: one line, and no output directory left behind to trip the corrected command.
  const typo = await fedseg(['experiment', '--db', join(dir, 'nope.db'), '--out', join(dir, 'typo')]);
  assert.equal(typo.code, 1, typo.out);
  assert.match(typo.out, /store .*nope\.db does not exist/);
  assert.ok(!existsSync(join(dir, 'typo')));
});

test('an experiment killed outright mid-run keeps its finished runs and resumes the killed one at its last completed round', { timeout: 300_000 }, async () => {
  const out = join(dir, 'killed');
  const args = ['experiment', ...common, '--rounds', '3', '--seeds', '2', '--methods', 'fedavg', '--out', out];
  const killed = await fedseg(args, { killWhen: /\[2\/2 [^\n]*round 2\/3 aggregated/ });
  assert.notEqual(killed.code, 0);
  // The first run's record and the report were written as soon as it finished, before the kill.
  const partial = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { seed: number }[] };
  assert.deepEqual(partial.runs.map((x) => x.seed), [1]);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /1 run\(s\) not done yet/);
  const r = await fedseg(args);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /1 of 2 run\(s\) already done/);
  assert.match(r.out, /resuming after round [12]\/3/);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { seed: number; rounds: { round: number }[]; resumedAfterRound: number }[] };
  assert.deepEqual(res.runs.map((x) => x.seed), [1, 2]);
  const resumed = res.runs[1]!;
  assert.deepEqual(resumed.rounds.map((e) => e.round), [1, 2, 3], 'every round evaluated once, across both attempts');
  assert.ok(resumed.resumedAfterRound >= 1);
});
