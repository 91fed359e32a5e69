// The CLIs as users run them (child processes): `fedseg-hub add-site/status/evaluations`, and
// `fedseg site` failing with one-line errors and distinct exit codes (hub unreachable 3, bad token 4,
// version mismatch 5).
import { spawnCli } from '../helpers/cli-capture.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { encodeMessage, PROTOCOL_VERSION } from '../../core/contract/hub-protocol.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { openSqliteStore } from '../../core/store/sqlite-store.js';
import { startHub, tempDir } from './helpers/hub-harness.js';


const cli = (bin: 'fedseg' | 'fedseg-hub', args: string[], env: Record<string, string> = {}) => spawnCli(bin, args, { env });

async function listening(host = '127.0.0.1'): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ host, port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  return { wss, port: (wss.address() as { port: number }).port };
}

function siteStore(path: string): void {
  const s = openSqliteStore(path);
  const ds = s.createDataset({ name: 'tiny', channels: 3, classes: 2 });
  s.addSamples(ds.id, generateFundusSites({ sites: 1, perSite: 2, size: 16, seed: 1 })[0]!.samples);
  s.close();
}

test('fedseg-hub: add-site prints a token once, refuses duplicates, status reads the state file', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'hub.db');
    const a = await cli('fedseg-hub', ['add-site', 'A', 'B', '--db', db, '--json']);
    assert.equal(a.code, 0, a.err);
    const toks = a.out.trim().split('\n').map((l) => JSON.parse(l) as { site: string; token: string });
    assert.deepEqual(toks.map((t) => t.site), ['A', 'B']);
    assert.match(toks[0]!.token, /^fst_[A-Za-z0-9_-]{43}$/);
    const dup = await cli('fedseg-hub', ['add-site', 'A', '--db', db]);
    assert.equal(dup.code, 6, 'a name already enrolled: exit 6 (core/contract/exit-codes.ts)');
    assert.match(dup.err.trim(), /^fedseg-hub: site 'A' is already enrolled/);
    assert.equal(dup.err.trim().split('\n').length, 1, 'one-line error');
    // A token's lifetime: --token-days; `sites` tells a bound key from a token still waiting, or expired.
    const c = await cli('fedseg-hub', ['add-site', 'C', '--token-days', '0.00001', '--db', db]);
    assert.equal(c.code, 0, c.err);
    assert.equal((await cli('fedseg-hub', ['add-site', 'D', '--token-days', '0', '--db', db])).code, 2);
    await new Promise((r) => setTimeout(r, 1000));
    const sites = await cli('fedseg-hub', ['sites', '--db', db]);
    assert.match(sites.out, /^A\s.*no key yet; token valid until \d{4}-\d\d-\d\d$/m);
    assert.match(sites.out, /^C\s.*no key; token expired \(re-enrol\)$/m);
    const st = await cli('fedseg-hub', ['status', '--db', db]);
    assert.equal(st.code, 0, st.err);
    assert.match(st.out, /A\s+train\s+offline/);
    const bad = await cli('fedseg-hub', ['start', '--db', db, '--mode', 'nope']);
    assert.equal(bad.code, 2, 'a bad config value is a usage error');
    assert.match(bad.err, /hub config: mode/);
  } finally {
    cleanup();
  }
});

test('fedseg site: unreachable hub -> 3, wrong token -> 4, version mismatch -> 5 (one-line errors)', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const { wss, port: futurePort } = await listening();
  try {
    // One store per process: a site store is open in one FedSeg at a time.
    const dbs = ['a', 'b', 'c'].map((x) => join(dir, `site-${x}.db`));
    for (const db of dbs) siteStore(db);
    const base = (db: string) => ['site', '--share-spectra', '--name', 'A', '--db', db, '--backend', 'cpu', '--quiet'];
    // Unreachable: nothing listens on the port of a server we just closed.
    const { wss: probe, port: deadPort } = await listening();
    await new Promise<void>((r) => probe.close(() => r()));
    const [unreach, badTok, oldVer] = await Promise.all([
      cli('fedseg', [...base(dbs[0]!), '--hub', `ws://127.0.0.1:${deadPort}`, '--token', 'x']),
      (async () => {
        const { hub, url } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1 }, [{ name: 'A' }]);
        const r = await cli('fedseg', [...base(dbs[1]!), '--hub', url], { FEDSEG_TOKEN: 'fst_wrong' });
        await hub.stop();
        return r;
      })(),
      (async () => {
        // A hub from the future: its challenge names a newer protocol.
        wss.on('connection', (ws) => ws.send(encodeMessage({ kind: 'challenge', protocol: PROTOCOL_VERSION + 1, nonce: 'f'.repeat(64) }).data));
        return cli('fedseg', [...base(dbs[2]!), '--hub', `ws://127.0.0.1:${futurePort}`, '--token', 'x']);
      })(),
    ]);
    assert.equal(unreach.code, 3, unreach.err);
    assert.match(unreach.err.trim(), /^fedseg site \[A\]: cannot reach hub at ws:\/\/127\.0\.0\.1:\d+: connection refused/);
    assert.equal(badTok.code, 4, badTok.err);
    assert.match(badTok.err.trim(), /^fedseg site \[A\]: authentication failed for site 'A'/);
    assert.equal(oldVer.code, 5, oldVer.err);
    assert.match(oldVer.err.trim(), /^fedseg site \[A\]: protocol version mismatch/);
    for (const r of [unreach, badTok, oldVer]) assert.equal(r.err.trim().split('\n').length, 1, r.err);
  } finally {
    await new Promise<void>((r) => wss.close(() => r()));
    cleanup();
  }
});

test('fedseg site without --share-spectra against an ELCFS hub stops at once and says what to change', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'site-nc.db');
    siteStore(db);
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 1, minSites: 2 }, [{ name: 'A' }, { name: 'B' }]);
    const r = await cli('fedseg', ['site', '--name', 'A', '--db', db, '--backend', 'cpu', '--quiet', '--hub', url, '--token', tokens.A!]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err.trim(), /^fedseg site \[A\]: .*has not agreed to share amplitude windows.*cannot take part: run again with --share-spectra/);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.equal(hub.state.hasSpectra('A'), false);
    assert.ok(hub.state.listAudit({ event: 'site_error' }).some((x) => x.site === 'A' && /CONSENT_REQUIRED/.test(x.detail)));
    await hub.stop();
  } finally {
    cleanup();
  }
});
