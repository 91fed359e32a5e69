// GET /status behind the admin token (docs/security.md §6), on a real hub that ran a round with two
// train sites and an unseen eval site: without the token only the public aggregate view (no site name,
// sample count, backend, reason or metric; the round's counts and mean unseen-site Dice), with it the
// full document; a wrong token is refused; /healthz stays public; `fedseg-hub admin-token` rotates the
// token of a running hub and `fedseg-hub status --url` reads either view.
import { spawnCli } from '../helpers/cli-capture.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HubPublicStatusSchema, HubStatusSchema } from '../../core/contract/hub-status.js';
import type { EvaluateRequest } from '../../core/federation/trainer.js';
import { issueAdminToken } from '../../federation-hub/admin-token.js';
import { publicStatus } from '../../federation-hub/status.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { site, startHub, tempDir, within } from './helpers/hub-harness.js';


const hubCli = (args: string[], env: Record<string, string> = {}) => spawnCli('fedseg-hub', args, { env });

/** Reports a Dice per class, so the hub has a mean unseen-site Dice to show. */
class DiceTrainer extends FakeTrainer {
  override async evaluate(req: EvaluateRequest) {
    const r = await super.evaluate(req);
    return { ...r, metrics: { ...r.metrics, dice_c1: 0.6, dice_c2: 0.8 } };
  }
}

const NAMES = ['alpha-hospital', 'beta-clinic', 'unseen-centre'];

test('GET /status: the public view without the admin token, everything with it; fedseg-hub admin-token and status --url', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, port, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'eval' },
      [{ name: NAMES[0]! }, { name: NAMES[1]! }, { name: NAMES[2]!, role: 'eval' }]);
    const run = hub.run();
    const sites = [
      site(url, NAMES[0]!, tokens[NAMES[0]!]!, new FakeTrainer({ target: 1, samples: 7 })),
      site(url, NAMES[1]!, tokens[NAMES[1]!]!, new FakeTrainer({ target: 3, samples: 5 })),
      site(url, NAMES[2]!, tokens[NAMES[2]!]!, new DiceTrainer({ target: 0, samples: 3 }), { role: 'eval' }),
    ];
    await within(Promise.all([run, ...sites.map((s) => s.promise)]), 60_000, 'the run');
    const http = `http://127.0.0.1:${port}`;

    // Without a token: the public view, nothing that names or sizes a site.
    const res = await fetch(`${http}/status`);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const word of [...NAMES, 'numSamples', 'backend', 'reason', 'metrics', 'pending', 'lastSeen']) assert.ok(!text.includes(word), `the public view shows '${word}': ${text}`);
    const pub = HubPublicStatusSchema.parse(JSON.parse(text));
    assert.equal(pub.phase, 'finished');
    assert.equal(pub.sites.enrolled, 3);
    assert.deepEqual(pub.rounds.map((r) => [r.round, r.status, r.accepted, r.excluded]), [[1, 'done', 2, 0]]);
    assert.ok(Math.abs(pub.rounds[0]!.meanDice! - 0.7) < 1e-9, `mean Dice ${pub.rounds[0]!.meanDice}`);
    assert.equal(HubStatusSchema.safeParse(JSON.parse(text)).success, false, 'the public view is not the full document');

    // No token issued yet: any presented token is refused; so are a wrong one and a malformed header.
    assert.equal((await fetch(`${http}/status`, { headers: { authorization: 'Bearer fsa_guess' } })).status, 401);
    const admin = issueAdminToken(hub.state);
    const wrong = await fetch(`${http}/status`, { headers: { authorization: `Bearer ${admin}x` } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { code: string }).code, 'AUTH_FAILED');
    assert.equal((await fetch(`${http}/status`, { headers: { authorization: admin } })).status, 401);

    // With it: the full document.
    const full = HubStatusSchema.parse(await (await fetch(`${http}/status`, { headers: { authorization: `Bearer ${admin}` } })).json());
    assert.deepEqual(full.sites.map((s) => [s.name, s.numSamples]), [[NAMES[0], 7], [NAMES[1], 5], [NAMES[2], null]]);
    assert.deepEqual(full.rounds[0]!.accepted.sort(), [NAMES[0], NAMES[1]]);
    assert.equal(full.evaluations[0]!.site, NAMES[2]);
    // The run's privacy budget (docs/security.md §8) belongs to the run, not to a site: the public view keeps it.
    const privacy = { mechanism: 'gaussian', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5, epsilonPerRound: 0.5, epsilonTotal: 0.5, roundsSpent: 1, epsilonSpent: 0.5 } as const;
    assert.deepEqual(HubPublicStatusSchema.parse(publicStatus({ ...full, privacy })).privacy, privacy);
    assert.equal(pub.privacy, undefined, 'no DP, no privacy block');
    // /healthz stays public.
    assert.equal(await (await fetch(`${http}/healthz`)).text(), 'ok');

    // The CLI rotates the token of the running hub: the old one stops working at once.
    const rotated = await hubCli(['admin-token', '--db', hub.config.db]);
    assert.equal(rotated.code, 0, rotated.err);
    const fresh = rotated.out.trim();
    assert.match(fresh, /^fsa_[A-Za-z0-9_-]{43}$/);
    assert.match(rotated.err, /shown once/);
    assert.equal((await fetch(`${http}/status`, { headers: { authorization: `Bearer ${admin}` } })).status, 401, 'the old token was revoked');
    const viaFlag = await hubCli(['status', '--url', url, '--admin-token', fresh, '--json']);
    assert.equal(viaFlag.code, 0, viaFlag.err);
    assert.deepEqual(HubStatusSchema.parse(JSON.parse(viaFlag.out)).sites.map((s) => s.name), NAMES);
    const viaEnv = await hubCli(['status', '--url', url], { FEDSEG_ADMIN_TOKEN: fresh });
    assert.equal(viaEnv.code, 0, viaEnv.err);
    assert.match(viaEnv.out, new RegExp(`${NAMES[0]}\\s+train`));
    const anonymous = await hubCli(['status', '--url', url]);
    assert.equal(anonymous.code, 0, anonymous.err);
    assert.match(anonymous.out, /of 3 enrolled connected/);
    assert.match(anonymous.out, /mean Dice 0\.7000/);
    for (const n of NAMES) assert.ok(!anonymous.out.includes(n), anonymous.out);
    const refused = await hubCli(['status', '--url', url, '--admin-token', 'fsa_wrong']);
    assert.equal(refused.code, 4, 'a wrong admin token exits 4 (authentication failed)');
    assert.match(refused.err, /refused the admin token/);
    await hub.stop();
  } finally {
    cleanup();
  }
});
