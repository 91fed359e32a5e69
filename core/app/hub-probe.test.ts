import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { explainSocketError, normaliseHubUrl, probeHub } from './hub-probe.js';
import { newSiteIdentity } from '../contract/site-identity.js';

const url = new URL('wss://hub.example.org:8443');
const err = (code: string, message = code) => Object.assign(new Error(message), { code });

test('hub addresses as operators type them', () => {
  // Without a scheme a remote hub is reached over TLS; only loopback defaults to plain ws://.
  assert.equal(normaliseHubUrl('hub.example.org:8443')?.href, 'wss://hub.example.org:8443/');
  assert.equal(normaliseHubUrl('10.1.2.3:8765')?.protocol, 'wss:');
  assert.equal(normaliseHubUrl('localhost:8765')?.href, 'ws://localhost:8765/');
  assert.equal(normaliseHubUrl('127.0.0.1:8765')?.protocol, 'ws:');
  assert.equal(normaliseHubUrl('[::1]:8765')?.protocol, 'ws:');
  assert.equal(normaliseHubUrl('ws://hub.example.org:8443')?.protocol, 'ws:', 'an explicit scheme is kept');
  assert.equal(normaliseHubUrl('https://hub.example.org')?.protocol, 'wss:');
  assert.equal(normaliseHubUrl('ftp://x'), null);
  assert.equal(normaliseHubUrl('   '), null);
});

test('socket failures are classified in plain words', () => {
  const cases: [Error, string, RegExp][] = [
    [err('ENOTFOUND'), 'dns', /could not be found/],
    [err('ECONNREFUSED'), 'refused', /nothing is accepting connections on port 8443/],
    [err('ETIMEDOUT'), 'timeout', /firewall/],
    [err('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), 'tls', /certificate/],
    [err('CERT_HAS_EXPIRED'), 'tls', /expired/],
    [new Error('Unexpected server response: 404'), 'protocol', /not a FedSeg hub/],
    [err('EWHATEVER'), 'unknown', /does not recognise/],
  ];
  for (const [e, problem, msg] of cases) {
    const r = explainSocketError(e, url);
    assert.equal(r.problem, problem, e.message);
    assert.equal(r.ok, false);
    assert.match(r.message, msg);
    assert.ok(r.detail.length > 0);
  }
});

test('probe: invalid address, site name and missing token fail before connecting', async () => {
  assert.equal((await probeHub({ hubUrl: 'ftp://x', site: 'a', token: 't', identity: newSiteIdentity() })).problem, 'url');
  assert.equal((await probeHub({ hubUrl: 'ws://127.0.0.1:1', site: 'bad name!', token: 't', identity: newSiteIdentity() })).problem, 'auth');
  assert.equal((await probeHub({ hubUrl: 'ws://127.0.0.1:1', site: 'a', token: '', identity: newSiteIdentity() })).problem, 'auth');
});

test('probe: refused port and a web server that is not a hub', async () => {
  const srv = createServer((_q, s) => s.writeHead(404).end('no'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  try {
    assert.equal((await probeHub({ hubUrl: `ws://127.0.0.1:${port}`, site: 'a', token: 't', identity: newSiteIdentity() })).problem, 'protocol');
  } finally {
    await new Promise((r) => srv.close(r));
  }
  assert.equal((await probeHub({ hubUrl: `ws://127.0.0.1:${port}`, site: 'a', token: 't', identity: newSiteIdentity() })).problem, 'refused');
});
