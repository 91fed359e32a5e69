// `fedseg site --flower HOST:PORT` as a real process on a real SQLite store (docs/flower.md §7): the
// one-line errors and exit codes before and at the first contact: an address that is not HOST:PORT,
// plaintext to another computer, --hub and --flower together, a SuperLink that is not there (exit 3,
// after its attempts), and the key it made is kept sealed in the store for the next start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from '../../test/helpers/cli-capture.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { FLOWER_KEY_SETTING } from '../flower/flower-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-flower-'));
const db = join(dir, 'site.db');

before(() => {
  const store = openSqliteStore(db);
  try {
    const d = store.createDataset({ name: 'Domain1', kind: 'fundus', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
    store.addSamples(d.id, generateFundusSites({ sites: 1, perSite: 2, size: 32, seed: 1 })[0]!.samples);
  } finally {
    store.close();
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

const oneLine = (err: string) => err.trim().split('\n').filter((l) => l.startsWith('fedseg site'));

test('bad addresses and mixed flags are usage errors in one line, before any store is touched', { timeout: 120_000 }, async () => {
  for (const [args, re] of [
    [['--flower', 'http://10.0.0.1:9092'], /not a Flower SuperLink address: HOST:PORT/],
    [['--flower', '10.0.0.1:70000'], /not a Flower SuperLink address/],
    [['--flower', '10.0.0.1:9092'], /plaintext gRPC to 10\.0\.0\.1:9092 .*--flower-ca FILE.*--insecure/],
    [['--flower', '127.0.0.1:9092', '--hub', 'ws://127.0.0.1:1'], /--hub and --flower are two ways to join/],
    [['--flower', '127.0.0.1:9092', '--flower-runs', '-1'], /--flower-runs/],
  ] as [string[], RegExp][]) {
    const r = await spawnCli('fedseg', ['site', ...args, '--name', 'site-a', '--db', db, '--backend', 'cpu', '--quiet']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    const lines = oneLine(r.err);
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0]!, re);
  }
});

test('no SuperLink at the address: exit 3 with one line after its attempts; the site key is kept sealed for the next start', { timeout: 120_000 }, async () => {
  const r = await spawnCli('fedseg', ['site', '--flower', '127.0.0.1:1', '--name', 'site-a', '--db', db, '--backend', 'cpu']);
  assert.equal(r.code, 3, r.err);
  const lines = oneLine(r.err);
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0]!, /cannot reach the Flower SuperLink at 127\.0\.0\.1:1 .*gave up after 3 attempt\(s\)/);
  const store = openSqliteStore(db);
  try {
    const kept = store.getSetting(FLOWER_KEY_SETTING);
    assert.ok(kept !== undefined && !JSON.stringify(kept).includes('PRIVATE KEY'), 'a sealed key, not a plain one');
  } finally {
    store.close();
  }
});
