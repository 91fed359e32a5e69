// The transport rule on both ends (docs/security.md §2, Transport): the hub refuses to serve plain ws://
// on a non-loopback address unless told `insecure` (and then warns); a site refuses a ws:// URL to
// another computer before opening any socket unless `insecure` (and then warns); a site warns when
// NODE_TLS_REJECT_UNAUTHORIZED=0 turns certificate checks off. Real hubs and real processes.
import { spawnCli } from '../helpers/cli-capture.js';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { siteTransportPolicy } from '../../core/federation/tls-trust.js';
import { wsConnector } from '../../core/federation/ws-connection.js';
import { parseHubConfig } from '../../federation-hub/config.js';
import { Hub } from '../../federation-hub/hub.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { site, tempDir, within } from './helpers/hub-harness.js';


const cli = (bin: 'fedseg' | 'fedseg-hub', args: string[], env: Record<string, string | undefined> = {}, until?: RegExp) => spawnCli(bin, args, { env, ...(until ? { until } : {}) });

/** An IPv4 address of this machine that is not loopback, if it has one. */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}

test('the hub refuses plain ws:// on 0.0.0.0 without insecure, and warns when it is given', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const refused = new Hub(parseHubConfig({ host: '0.0.0.0', port: 0, db: join(dir, 'a.db'), exitWhenDone: false }));
    await assert.rejects(refused.listen(), (e: Error & { code?: string }) =>
      e.code === 'INVALID_ARGUMENT' && /plain ws:\/\/ on 0\.0\.0\.0/.test(e.message) && /--tls-cert/.test(e.message) && /--insecure/.test(e.message));
    await refused.stop();
    const log: string[] = [];
    const allowed = new Hub(parseHubConfig({ host: '0.0.0.0', port: 0, db: join(dir, 'b.db'), exitWhenDone: false, insecure: true }), (l) => log.push(l));
    assert.ok((await allowed.listen()) > 0);
    assert.ok(log.some((l) => /^WARNING: serving plain ws:\/\/ on 0\.0\.0\.0 without TLS/.test(l)), log.join('\n'));
    await allowed.stop();

    // The CLI: a usage error (2) without --insecure; with it, the hub listens and prints the warning even with --quiet.
    const no = await cli('fedseg-hub', ['start', '--host', '0.0.0.0', '--port', '0', '--db', join(dir, 'c.db'), '--quiet']);
    assert.equal(no.code, 2, no.err);
    assert.match(no.err, /refusing to serve plain ws:\/\/ on 0\.0\.0\.0.*--insecure/);
    const yes = await cli('fedseg-hub', ['start', '--host', '0.0.0.0', '--port', '0', '--db', join(dir, 'd.db'), '--quiet', '--insecure'], {},
      /(WARNING[^\n]*\n[\s\S]*listening on ws:[^\n]*\n)|(listening on ws:[^\n]*\n[\s\S]*WARNING[^\n]*\n)/);
    assert.match(yes.out, /listening on ws:\/\/0\.0\.0\.0:\d+/);
    assert.match(yes.err, /fedseg-hub: WARNING: serving plain ws:\/\/ on 0\.0\.0\.0 without TLS \(--insecure\)/);
  } finally {
    cleanup();
  }
});

test('a site refuses ws:// to another computer without insecure, before any connection is made', { timeout: 60_000 }, async () => {
  assert.throws(() => wsConnector('ws://10.0.0.1:1', { maxPayload: 1 << 20, handshakeTimeoutMs: 1000 }), (e: Error & { code?: string }) =>
    e.code === 'INVALID_ARGUMENT' && /refusing plain ws:\/\/ to 10\.0\.0\.1:1/.test(e.message) && /wss:\/\/10\.0\.0\.1:1/.test(e.message) && /--insecure/.test(e.message));
  // Loopback stays allowed without a word; a wss:// URL too.
  assert.deepEqual(siteTransportPolicy('ws://127.0.0.1:8765', {}, {}), []);
  assert.deepEqual(siteTransportPolicy('ws://localhost:8765', {}, {}), []);
  assert.deepEqual(siteTransportPolicy('wss://10.0.0.1:8765', {}, {}), []);
  const s = site('ws://10.0.0.1:1', 'A', 'fst_x', new FakeTrainer({ target: 0, samples: 1 }));
  await assert.rejects(within(s.promise, 5000, 'the refusal'), { code: 'INVALID_ARGUMENT' });
  assert.deepEqual(s.events.map((e) => e.type), ['connecting'], 'one attempt, refused before a socket was opened');

  // On a real non-loopback address of this machine: nothing reaches a listener there without insecure.
  const lan = lanAddress();
  if (!lan) return;
  const server = createServer((c) => {
    accepted++;
    c.destroy();
  });
  let accepted = 0;
  await new Promise<void>((r) => server.listen(0, lan, () => r()));
  const port = (server.address() as { port: number }).port;
  const refused = site(`ws://${lan}:${port}`, 'A', 'fst_x', new FakeTrainer({ target: 0, samples: 1 }), { firstAttempts: 1 });
  await assert.rejects(within(refused.promise, 5000, 'the refusal'), { code: 'INVALID_ARGUMENT' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(accepted, 0, 'no connection reached the listener');
  // With insecure the same URL is tried (and warned about).
  const warnings: string[] = [];
  const tried = site(`ws://${lan}:${port}`, 'A', 'fst_x', new FakeTrainer({ target: 0, samples: 1 }), {
    firstAttempts: 1, connect: (u, o) => wsConnector(u, { ...o, insecure: true, onWarning: (w) => warnings.push(w) }),
  });
  await assert.rejects(within(tried.promise, 10_000, 'the insecure attempt'), { code: 'CONNECTION_FAILED' });
  assert.equal(accepted, 1, 'the insecure attempt reached the listener');
  assert.match(warnings[0] ?? '', /plain ws:\/\/ \(--insecure\)/);
  server.close();
});

test('a site warns when NODE_TLS_REJECT_UNAUTHORIZED=0 is set; fedseg site --insecure', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    assert.match(siteTransportPolicy('wss://hub.example.org:8443', {}, { NODE_TLS_REJECT_UNAUTHORIZED: '0' }).join('\n'), /NODE_TLS_REJECT_UNAUTHORIZED=0 is set: TLS certificates are not checked/);
    assert.deepEqual(siteTransportPolicy('wss://hub.example.org:8443', {}, { NODE_TLS_REJECT_UNAUTHORIZED: '1' }), []);
    const args = ['site', '--hub', 'wss://127.0.0.1:9', '--name', 'A', '--token', 'fst_x', '--db', join(dir, 'missing.db')];
    // The warning comes first, before the command fails for its own reason (the store does not exist).
    const warned = await cli('fedseg', args, { NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    assert.match(warned.err, /fedseg site: WARNING: NODE_TLS_REJECT_UNAUTHORIZED=0 is set/);
    assert.match(warned.err, /does not exist/);
    const quiet = await cli('fedseg', args, { NODE_TLS_REJECT_UNAUTHORIZED: undefined });
    assert.doesNotMatch(quiet.err, /WARNING/);
    // ws:// to another computer: a usage error naming wss:// and --insecure; with --insecure, a warning.
    const plain = ['site', '--hub', 'ws://10.0.0.1:1', '--name', 'A', '--token', 'fst_x', '--db', join(dir, 'missing.db')];
    const no = await cli('fedseg', plain);
    assert.equal(no.code, 2, no.err);
    assert.match(no.err, /refusing plain ws:\/\/ to 10\.0\.0\.1:1.*wss:\/\/10\.0\.0\.1:1.*--insecure/);
    const yes = await cli('fedseg', [...plain, '--insecure']);
    assert.match(yes.err, /fedseg site: WARNING: connecting to 10\.0\.0\.1:1 over plain ws:\/\/ \(--insecure\)/);
    assert.match(yes.err, /does not exist/);
  } finally {
    cleanup();
  }
});
