// Joining a Flower federation from the app (docs/flower.md, docs/app.md "Joining a Flower federation"),
// on a real SQLite file: the transport and the SuperLink's address and certificate round-trip (settings
// saved before Flower read as the hub's, a reopened engine keeps them), bad addresses are refused in
// words at the trust boundary and in the engine, "Test connection" for Flower says whether the address
// answers, and joining checks what it needs before a run is recorded, runs the SuperNode in the job
// worker and never polls a hub's /status page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventPayload } from '../contract/app-api.js';
import { FLOWER_KEY_SETTING } from '../flower/flower-identity.js';
import { dispatch } from './dispatch.js';
import { createEngine, type Engine } from './engine.js';
import { probeFlower } from './federation.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';

let dir: string;
let db: string;
let engine: Engine;
let datasetId: string;
const statuses: EventPayload<'federationStatus'>[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-flower-app-'));
  db = join(dir, 'site.sqlite');
  engine = await createEngine({ dbPath: db, mode: 'browser' });
  engine.subscribe((e, p) => {
    if (e === 'federationStatus') statuses.push(p as EventPayload<'federationStatus'>);
  });
  datasetId = (await engine.handlers.generateDemoData({ kind: 'fundus', sites: 1, perSite: 3, size: 32, seed: 3 })).datasets[0]!.id;
});
after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const h = () => engine.handlers;

/** A loopback port nothing listens on (bound, read, closed). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const waitFor = async (pred: () => boolean, ms: number, what: string) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

test('settings: hub by default (also when saved before Flower), flower round-trips, each transport keeps the other\'s fields', async () => {
  const fresh = await h().getFederationSettings({});
  assert.equal(fresh.transport, 'hub');
  assert.equal(fresh.flowerAddress, '');
  assert.equal(fresh.flowerRootCertificates, '');
  assert.equal(fresh.flowerPublicKey, '', 'no Flower key is made for a hub site');
  assert.equal(engine.store.getSetting(FLOWER_KEY_SETTING), undefined);
  // Settings as an older FedSeg saved them (no transport): the hub's.
  engine.store.setSetting('app.federation', { hubUrl: 'ws://127.0.0.1:1', siteName: 'old-site', datasetIds: [], ca: '', trustedFingerprint: null, hub: null });
  const old = await h().getFederationSettings({});
  assert.deepEqual([old.transport, old.hubUrl, old.siteName, old.flowerAddress], ['hub', 'ws://127.0.0.1:1', 'old-site', '']);

  const s = await h().saveFederationSettings({ transport: 'flower', flowerAddress: ' superlink.example-hospital.org:9092 ', flowerRootCertificates: PEM, hubUrl: 'ws://127.0.0.1:1', siteName: 'site-f', datasetIds: [datasetId] });
  assert.deepEqual([s.transport, s.flowerAddress, s.flowerRootCertificates, s.hubUrl, s.siteName, s.report], ['flower', 'superlink.example-hospital.org:9092', PEM, 'ws://127.0.0.1:1', 'site-f', null]);
  // The site's Flower public key, for a SuperLink that admits only registered nodes: made once, sealed, the same on every read.
  assert.match(s.flowerPublicKey, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  assert.match(JSON.stringify(engine.store.getSetting(FLOWER_KEY_SETTING)), /"sealed":"fsb1:/);
  assert.equal((await h().getFederationSettings({})).flowerPublicKey, s.flowerPublicKey);
  const publicKey = s.flowerPublicKey;
  assert.deepEqual((await h().getFederationStatus({})).hubUrl, 'superlink.example-hospital.org:9092');
  assert.equal((await h().getFederationStatus({})).transport, 'flower');
  // A save that does not name the transport (the sharing policy's) keeps it.
  const p = await h().saveFederationSettings({ hubUrl: s.hubUrl, siteName: s.siteName, policy: { maxWindows: 50 } });
  assert.deepEqual([p.transport, p.flowerAddress, p.policy.maxWindows], ['flower', 'superlink.example-hospital.org:9092', 50]);
  // Back to the hub: the Flower fields stay for the next switch; a token is not tested for Flower.
  const back = await h().saveFederationSettings({ transport: 'hub', hubUrl: 'ws://127.0.0.1:1', siteName: 'site-f' });
  assert.deepEqual([back.transport, back.flowerAddress, back.flowerRootCertificates, back.flowerPublicKey], ['hub', 'superlink.example-hospital.org:9092', PEM, '']);
  const tokenless = await h().saveFederationSettings({ transport: 'flower', hubUrl: 'ws://127.0.0.1:1', siteName: 'site-f', token: 'ignored', flowerAddress: '[::1]:9092', flowerRootCertificates: '' });
  assert.deepEqual([tokenless.report, tokenless.tokenSet, tokenless.flowerAddress, tokenless.flowerRootCertificates], [null, false, '[::1]:9092', '']);

  // A reopened engine reads the same settings from the file.
  await engine.close();
  engine = await createEngine({ dbPath: db, mode: 'browser' });
  engine.subscribe((e, p) => {
    if (e === 'federationStatus') statuses.push(p as EventPayload<'federationStatus'>);
  });
  const again = await h().getFederationSettings({});
  assert.deepEqual([again.transport, again.flowerAddress, again.siteName, again.datasetIds, again.policy.maxWindows], ['flower', '[::1]:9092', 'site-f', [datasetId], 50]);
  assert.equal(again.flowerPublicKey, publicKey, 'the same key after a restart (the SuperLink binds the node id to it)');
  assert.deepEqual([(await h().getFederationStatus({})).transport, (await h().getFederationStatus({})).hubUrl], ['flower', '[::1]:9092']);
});

test('bad SuperLink addresses and certificates are refused in words, at the API boundary and in the engine', async () => {
  const bad: [string, RegExp][] = [
    ['grpc://superlink:9092', /without a scheme/],
    ['superlink.example.org', /has no port/],
    ['superlink:0', /port must be a number from 1 to 65535, not '0'/],
    ['superlink:65536', /from 1 to 65535, not '65536'/],
    ['superlink:ninety', /not 'ninety'/],
    ['superlink:', /not ''/],
    ['999.1.1.1:9092', /not an IPv4 address/],
    ['-bad-.org:9092', /not a host name or IP address/],
    ['super link:9092', /holds a space/],
    ['superlink:9092/fleet', /a path/],
    ['[zz]:9092', /not an IPv6 address/],
    [':9092', /has no host name/],
  ];
  for (const [address, why] of bad) {
    const args = { transport: 'flower', flowerAddress: address, hubUrl: '', siteName: 'site-f' };
    const viaApi = await dispatch(engine.handlers, 'saveFederationSettings', args);
    assert.ok(!viaApi.ok, address);
    assert.equal(viaApi.error.code, 'INVALID_ARGUMENT', address);
    assert.match(viaApi.error.message, why, address);
    assert.match(viaApi.error.message, /flowerAddress: .*host:port/, address);
    await assert.rejects(h().saveFederationSettings({ transport: 'flower', flowerAddress: address, hubUrl: '', siteName: 'site-f' }), (e: Error & { code?: string }) =>
      e.code === 'INVALID_ARGUMENT' && why.test(e.message) && /host:port, for example/.test(e.message), address);
  }
  for (const good of ['localhost:9092', '127.0.0.1:9092', '[::1]:9092', 'superlink.example-hospital.org:443', 'SL-1:65535', '10.0.0.7:1'])
    assert.ok((await dispatch(engine.handlers, 'saveFederationSettings', { transport: 'flower', flowerAddress: good, hubUrl: '', siteName: 'site-f' })).ok, good);
  await assert.rejects(h().saveFederationSettings({ transport: 'flower', flowerAddress: '127.0.0.1:9092', flowerRootCertificates: 'not a certificate', hubUrl: '', siteName: 'site-f' }), /root certificate must be PEM text/);
  const wrongTransport = await dispatch(engine.handlers, 'saveFederationSettings', { transport: 'grpc', hubUrl: '', siteName: 'x' });
  assert.ok(!wrongTransport.ok && /transport/.test(wrongTransport.error.message));
  // Nothing of the refused saves was kept.
  assert.equal((await h().getFederationSettings({})).flowerAddress, '10.0.0.7:1');
});

test('Test connection for Flower: a listening address answers, a closed port is refused, a remote one needs its certificate', async () => {
  const listening = createTcpServer((sock) => sock.destroy());
  await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
  const open = `127.0.0.1:${(listening.address() as AddressInfo).port}`;
  try {
    const ok = await h().testConnection({ transport: 'flower', flowerAddress: open, siteName: 'site-f' });
    assert.deepEqual([ok.ok, ok.problem], [true, 'ok'], ok.message);
    assert.match(ok.message, /no token/);
    // A success saves what it tested.
    assert.equal((await h().getFederationSettings({})).flowerAddress, open);
  } finally {
    await new Promise<void>((r) => listening.close(() => r()));
  }
  const closed = `127.0.0.1:${await closedPort()}`;
  const refused = await h().testConnection({ transport: 'flower', flowerAddress: closed });
  assert.deepEqual([refused.ok, refused.problem], [false, 'refused']);
  assert.match(refused.message, new RegExp(`Nothing listens at ${closed.replace(/\./g, '\\.')}`));
  assert.match(refused.detail, /ECONNREFUSED/);
  assert.equal((await h().getFederationSettings({})).flowerAddress, open, 'a failed test saves nothing');
  const remote = await probeFlower('superlink.example-hospital.org:9092', '');
  assert.deepEqual([remote.ok, remote.problem], [false, 'tls']);
  assert.match(remote.message, /another computer: enter its root certificate/);
  // With a certificate, the TLS handshake is part of the test: a plaintext server fails it.
  const plain = createTcpServer((sock) => sock.end('not TLS\n'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const tls = await probeFlower(`127.0.0.1:${(plain.address() as AddressInfo).port}`, PEM, 3000);
    assert.deepEqual([tls.ok, tls.problem], [false, 'tls'], tls.message);
    assert.match(tls.message, /does not answer with a secure \(TLS\) connection/);
  } finally {
    plain.close();
  }
});

test('join with Flower checks the settings before recording a run, then runs the SuperNode in the worker and never polls a hub /status', async () => {
  const runs = async () => (await h().listRuns({})).length;
  const before = await runs();
  await h().saveFederationSettings({ transport: 'flower', flowerAddress: 'superlink.example-hospital.org:9092', flowerRootCertificates: '', hubUrl: '', siteName: 'site-f' });
  await assert.rejects(h().joinFederation({ datasetIds: [datasetId] }), /on another computer: enter its root certificate/);
  await h().saveFederationSettings({ transport: 'flower', flowerAddress: '', hubUrl: '', siteName: 'site-f' });
  await assert.rejects(h().joinFederation({ datasetIds: [datasetId] }), /enter the Flower SuperLink address/);
  assert.equal(await runs(), before, 'a refused join records no run');

  // An HTTP server on the SuperLink's port counts /status requests: the hub's poll must never ask it.
  let statusAsked = 0;
  const http: Server = createHttpServer((req, res) => {
    if (req.url?.startsWith('/status')) statusAsked++;
    res.writeHead(404).end();
  });
  http.on('clientError', (_e, sock) => sock.destroy());
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(http.address() as AddressInfo).port}`;
  try {
    await h().saveFederationSettings({ transport: 'flower', flowerAddress: address, hubUrl: '', siteName: 'site-f' });
    statuses.length = 0;
    const st = await h().joinFederation({ datasetIds: [datasetId] });
    assert.deepEqual([st.state, st.active, st.transport, st.hubUrl], ['connecting', true, 'flower', address]);
    assert.match(st.message, new RegExp(`joining the Flower SuperLink at ${address.replace(/\./g, '\\.')} with 'Demo fundus`));
    // One heavy job at a time, as with a hub.
    const train = await dispatch(engine.handlers, 'startTraining', { name: 'x', datasetIds: [datasetId] });
    assert.ok(!train.ok && /taking part in a federation/.test(train.error.message));
    await waitFor(() => statuses.some((s) => !s.active && s.state === 'error'), 60_000, 'the participation to stop');
    const end = (await h().getFederationStatus({}));
    assert.deepEqual([end.state, end.active, end.transport], ['error', false, 'flower']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(statusAsked, 0, 'no hub status page is asked for a Flower SuperLink');
    const run = (await h().listRuns({})).find((r) => r.id === st.runId)!;
    assert.equal(run.status, 'failed');
    assert.match(run.name, new RegExp(`Federation site-f @ Flower ${address.replace(/\./g, '\\.')}`));
    // The site's Flower key was made and sealed (never stored in plain text).
    const kept = JSON.stringify(engine.store.getSetting(FLOWER_KEY_SETTING));
    assert.match(kept, /"sealed":"fsb1:/);
    // The SuperNode's own line says what failed (here: no Fleet API behind the address).
    assert.match(end.message, new RegExp(address.replace(/\./g, '\\.')));
    // Clear returns to a state from which Join works.
    const cleared = await h().leaveFederation({});
    assert.deepEqual([cleared.state, cleared.transport, cleared.hubUrl], ['idle', 'flower', address]);
  } finally {
    await new Promise<void>((r) => http.close(() => r()));
  }
});

test('join with Flower where nothing listens: one line, "cannot reach the Flower SuperLink at ADDRESS", and Join works again', async () => {
  const address = `127.0.0.1:${await closedPort()}`;
  await h().saveFederationSettings({ transport: 'flower', flowerAddress: address, hubUrl: '', siteName: 'site-f' });
  statuses.length = 0;
  const st = await h().joinFederation({ datasetIds: [datasetId] });
  await waitFor(() => statuses.some((s) => !s.active && s.runId === st.runId), 60_000, 'the participation to stop');
  const end = await h().getFederationStatus({});
  assert.deepEqual([end.state, end.problem], ['error', 'refused']);
  assert.match(end.message, new RegExp(`^cannot reach the Flower SuperLink at ${address.replace(/\./g, '\\.')} \\(.*\\); gave up after 3 attempt\\(s\\)\\. Check the address`));
  assert.doesNotMatch(end.message, /\n/, 'one line');
  assert.ok(statuses.some((s) => s.state === 'connecting' && /connecting to the Flower SuperLink \(attempt 1\)/.test(s.message)));
  assert.equal((await h().leaveFederation({})).state, 'idle');
});
