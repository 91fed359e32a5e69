// TLS: a hub serving wss:// with a self-signed certificate (made here with openssl); a site that trusts
// it (ca) completes a round, a site that does not is refused with a TLS error naming the fix. Trust on
// first use: Test connection shows the certificate's fingerprint (the one openssl prints), a site that
// pinned it takes part, and a wrong pin is refused before any token is sent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { probeHub } from '../../core/app/hub-probe.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { identityOf, site, startHub, tempDir, within } from './helpers/hub-harness.js';

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A one-day self-signed EC certificate and key in dir (extra: e.g. the subjectAltName for 127.0.0.1). */
function selfSigned(dir: string, subject: string, extra: string[] = []): { cert: string; key: string } {
  const cert = join(dir, 'hub.crt');
  const key = join(dir, 'hub.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', subject, ...extra, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

test('wss:// with a self-signed certificate', { timeout: 60_000, skip: haveOpenssl() ? false : 'openssl not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cert, key } = selfSigned(dir, '/CN=localhost', ['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    const { hub, port, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none', tls: { cert, key } }, [{ name: 'A' }]);
    const url = `wss://127.0.0.1:${port}`;
    const untrusting = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }), { firstAttempts: 1 });
    await assert.rejects(untrusting.promise, (e: Error & { code?: string }) => e.code === 'CONNECTION_FAILED' && /TLS error/.test(e.message) && /--ca/.test(e.message));
    const run = hub.run();
    const ok = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }), { ca: readFileSync(cert) });
    const r = await within(ok.promise, 30_000, 'TLS site');
    await within(run, 30_000, 'run');
    assert.equal(r.roundsTrained, 1);
    assert.equal(hub.state.lastCompletedRound(), 1);
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('trust on first use: fingerprint shown, pinned site takes part, a wrong pin is refused', { timeout: 60_000, skip: haveOpenssl() ? false : 'openssl not installed' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    // No subjectAltName for 127.0.0.1: only a pin can make this certificate acceptable.
    const { cert, key } = selfSigned(dir, '/CN=fedseg-hub');
    const fp = /Fingerprint=([0-9A-F:]+)/i.exec(execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', cert], { encoding: 'utf8' }))![1]!.toUpperCase();
    const { hub, port, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none', tls: { cert, key } }, [{ name: 'A' }]);
    const url = `wss://127.0.0.1:${port}`;
    const first = await probeHub({ hubUrl: url, site: 'A', token: tokens.A!, identity: identityOf(url, 'A') });
    assert.equal(first.problem, 'tls');
    assert.equal(first.fingerprint, fp, 'the fingerprint an operator compares is the certificate\'s SHA-256');
    assert.match(first.message, /fingerprint/);
    const pinned = await probeHub({ hubUrl: url, site: 'A', token: tokens.A!, identity: identityOf(url, 'A'), trustedFingerprint: fp.toLowerCase().replace(/:/g, '') });
    assert.equal(pinned.problem, 'ok', pinned.detail);
    const wrong = 'AB:'.repeat(31) + 'AB';
    const refused = await probeHub({ hubUrl: url, site: 'A', token: tokens.A!, identity: identityOf(url, 'A'), trustedFingerprint: wrong });
    assert.equal(refused.problem, 'tls');
    assert.match(refused.detail, /not the trusted/);
    const bad = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }), { firstAttempts: 1, trustedFingerprint: wrong });
    await assert.rejects(bad.promise, (e: Error) => /not the trusted/.test(e.message));
    const run = hub.run();
    const ok = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }), { trustedFingerprint: fp });
    const r = await within(ok.promise, 30_000, 'pinned site');
    await within(run, 30_000, 'run');
    assert.equal(r.roundsTrained, 1);
    await hub.stop();
  } finally {
    cleanup();
  }
});
