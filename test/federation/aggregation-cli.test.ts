// The coordinator's knobs of robust aggregation and DP (docs/security.md §7-8), through the same main(argv)
// the fedseg-hub bin calls and a real SQLite state file: add-site --samples stores the enrolled bound (an
// older state file gains the column), start's --aggregator and --dp-* reach the config, bad values are
// usage errors naming the flag or key, and a stopped hub's status still reports its privacy budget.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { EXIT } from '../../core/contract/exit-codes.js';
import { HubStatusSchema } from '../../core/contract/hub-status.js';
import { gaussianEpsilon } from '../../core/contract/privacy.js';
import { buildConfig, main } from '../../federation-hub/cli.js';
import { parseHubConfig } from '../../federation-hub/config.js';
import { HubState } from '../../federation-hub/state.js';
import { storedStatus } from '../../federation-hub/status.js';
import { captureCli } from '../helpers/cli-capture.js';
import { tempDir } from './helpers/hub-harness.js';

test('add-site --samples N stores the bound; a bad N is exit 2 naming the flag; an older state file gains the column', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'hub.db');
    const r = await captureCli(main, ['add-site', 'A', 'B', '--samples', '250', '--json', '--db', db]);
    assert.equal(r.code, EXIT.OK, r.err);
    assert.deepEqual(r.out.split('\n').map((l) => (JSON.parse(l) as { samples?: number }).samples), [250, 250]);
    assert.equal((await captureCli(main, ['add-site', 'C', '--db', db])).code, EXIT.OK);
    for (const bad of ['0', '2.5', 'many', '2000000000']) {
      const b = await captureCli(main, ['add-site', 'D', '--samples', bad, '--db', db]);
      assert.equal(b.code, EXIT.USAGE, `--samples ${bad}`);
      assert.match(b.err, new RegExp(`--samples must be an integer in \\[1, 1000000000\\], got '${bad.replace('.', '\\.')}'`));
    }
    let s = new HubState(db);
    assert.deepEqual(s.listSites().map((x) => [x.name, x.maxSamples]), [['A', 250], ['B', 250], ['C', null]]);
    assert.match(s.listAudit({ event: 'enrol', site: 'A' })[0]!.detail, /at most 250 samples per update/);
    assert.throws(() => s.addSite('E', 'train', undefined, 0), /sample bound of site 'E' must be a positive integer/);
    s.close();
    // A state file written before the column existed: the column is added on open, its sites have no bound.
    const raw = new Database(db);
    raw.exec('ALTER TABLE sites DROP COLUMN max_samples');
    raw.close();
    const readOnly = new HubState(db, { mustExist: true });
    assert.deepEqual(readOnly.listSites().map((x) => x.maxSamples), [null, null, null], 'a read-only open reads it without the column');
    readOnly.close();
    s = new HubState(db);
    s.addSite('F', 'train', undefined, 7);
    assert.deepEqual(s.listSites().map((x) => [x.name, x.maxSamples]), [['A', null], ['B', null], ['C', null], ['F', 7]]);
    s.close();
  } finally {
    cleanup();
  }
});

test('start: --aggregator and --dp-* reach the config over the file; bad values name the flag or key', () => {
  const c = buildConfig({ aggregator: 'trimmed-mean', set: ['trimFraction=0.3', 'maxSiteShare=0.4'] });
  assert.deepEqual([c.aggregator, c.trimFraction, c.maxSiteShare, c.maxSamplesPerSite, c.clipFactor, c.dp], ['trimmed-mean', 0.3, 0.4, 100000, 10, undefined]);
  const d = buildConfig({ 'dp-noise-multiplier': '1.1', 'dp-clip-norm': '0.5', 'dp-seed': '9' });
  assert.deepEqual(d.dp, { noiseMultiplier: 1.1, clipNorm: 0.5, delta: 1e-5, seed: 9 });
  // The flags are merged over the --config file's dp object.
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'hub.json');
    writeFileSync(file, JSON.stringify({ dp: { noiseMultiplier: 2, clipNorm: 1, delta: 0.001 } }));
    assert.deepEqual(buildConfig({ config: file, 'dp-delta': '1e-6' }).dp, { noiseMultiplier: 2, clipNorm: 1, delta: 1e-6 });
  } finally {
    cleanup();
  }
  const usage = (v: Parameters<typeof buildConfig>[0], re: RegExp) => assert.throws(() => buildConfig(v), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && re.test(e.message), String(re));
  usage({ aggregator: 'mode' }, /hub config: aggregator: /);
  usage({ 'dp-noise-multiplier': '0' }, /--dp-noise-multiplier must be a number > 0, got '0'/);
  usage({ 'dp-delta': '1' }, /--dp-delta must be a number in \(0, 1\), got '1'/);
  usage({ 'dp-noise-multiplier': '1' }, /hub config: dp\.clipNorm: /);
  usage({ aggregator: 'median', 'dp-noise-multiplier': '1', 'dp-clip-norm': '1' }, /dp needs aggregator 'mean'/);
  usage({ set: ['dp={"noiseMultiplier":1,"clipNorm":1,"sigma":2}'] }, /unknown key 'dp\.sigma' \(dp takes noiseMultiplier, clipNorm, delta, seed\)/);
  usage({ set: ['maxSiteShare=0'] }, /hub config: maxSiteShare: /);
  usage({ set: ['trimFraction=0.5'] }, /hub config: trimFraction: /);
  usage({ set: ['maxSamplesPerSite=1e10'] }, /hub config: maxSamplesPerSite: /);
});

test('a stopped hub reports the privacy budget it recorded, and what its completed rounds spent', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cfg = parseHubConfig({ db: join(dir, 'hub.db'), rounds: 50 });
    const s = new HubState(cfg.db);
    assert.equal(storedStatus(s, cfg).privacy, undefined);
    s.setMeta('dp', JSON.stringify({ noiseMultiplier: 2, clipNorm: 0.1, delta: 1e-6 })); // as strategies/fedavg.ts records it
    s.setMeta('rounds', '50');
    for (const r of [1, 2, 3]) {
      s.openRound(r, 'fedavg', ['A']);
      s.completeRound({ round: r, accepted: ['A'], rejected: [], numSamples: 1, metrics: {} }, new Uint8Array(4), 'h'.repeat(64), 0);
    }
    const st = HubStatusSchema.parse(storedStatus(s, cfg));
    assert.deepEqual(st.privacy, {
      mechanism: 'gaussian', noiseMultiplier: 2, clipNorm: 0.1, delta: 1e-6,
      epsilonPerRound: gaussianEpsilon(2, 1, 1e-6).epsilon, epsilonTotal: gaussianEpsilon(2, 50, 1e-6).epsilon,
      roundsSpent: 3, epsilonSpent: gaussianEpsilon(2, 3, 1e-6).epsilon,
    });
    // Recorded as off ('' : a later run without dp) wins over the CLI config's dp.
    s.setMeta('dp', '');
    assert.equal(storedStatus(s, { ...cfg, dp: { noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 } }).privacy, undefined);
    s.close();
  } finally {
    cleanup();
  }
});
