// Site data at rest, end to end (docs/security.md §5): `fedseg serve` as a real process on its default
// folder (~/.fedseg under a temporary HOME) makes it 0700 (tightening one an older FedSeg left 0755),
// its store 0600 with -wal/-shm, and holds the store's lock, so a second `fedseg serve` on it exits
// naming the first one's pid; the hub's state is 0600; a token saved through a real hub is sealed:
// its bytes are not in the store file, and the engine opens it again after a restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine } from '../core/app/engine.js';
import { HubState } from '../federation-hub/state.js';
import { startHub } from './federation/helpers/hub-harness.js';

const posix = process.platform !== 'win32';
const repo = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const mode = (p: string) => statSync(p).mode & 0o777;
/** The environment of a FedSeg run by a user whose home is `home` (no FEDSEG_DB: the default folder). */
const homeEnv = (home: string) => Object.fromEntries(Object.entries({ ...process.env, HOME: home }).filter(([k]) => k !== 'FEDSEG_DB'));
const dir = mkdtempSync(join(tmpdir(), 'fedseg-at-rest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `fedseg serve` with HOME=home; resolves once it prints its URL (or rejects with what it printed). */
function serve(home: string, staticDir: string): Promise<{ proc: ChildProcess; err: () => string }> {
  const proc = spawn(process.execPath, [join(repo, 'bin/fedseg.mjs'), 'serve', '--static', staticDir], {
    env: homeEnv(home), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  return new Promise((resolveStart, reject) => {
    proc.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('Open: ')) resolveStart({ proc, err: () => err });
    });
    proc.on('exit', (code) => reject(new Error(`fedseg serve exited ${code}: ${out}${err}`)));
  });
}

test('fedseg serve: ~/.fedseg 0700, site.sqlite 0600, and a second serve on it is refused with the pid', { skip: !posix, timeout: 120_000 }, async () => {
  const home = join(dir, 'home');
  const staticDir = join(dir, 'static');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>FedSeg</title>');
  const data = join(home, '.fedseg');
  mkdirSync(data, { recursive: true, mode: 0o755 }); // as an older FedSeg left it
  chmodSync(data, 0o755);
  const first = await serve(home, staticDir);
  try {
    const db = join(data, 'site.sqlite');
    assert.equal(mode(data), 0o700);
    assert.match(first.err(), /\.fedseg could be read by other users \(mode 0755\); it is now 0700/);
    for (const p of [db, `${db}-wal`, `${db}-shm`]) assert.equal(mode(p), 0o600, p);
    assert.equal(readFileSync(`${db}.lock`, 'utf8'), `${first.proc.pid}\n`);

    const second = spawnSync(process.execPath, [join(repo, 'bin/fedseg.mjs'), 'serve', '--static', staticDir], {
      env: homeEnv(home), encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(second.status, 1, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`this site's data is already open in another FedSeg \\(pid ${first.proc.pid}\\)`));
  } finally {
    first.proc.kill('SIGTERM');
    await new Promise((r) => first.proc.once('exit', r));
  }
  assert.equal(existsSync(join(data, 'site.sqlite.lock')), false, 'a stopped serve leaves no lock');
});

test('the hub state is 0600; one that an older hub left 0644 is tightened', { skip: !posix }, () => {
  const db = join(dir, 'hub.db');
  const s = new HubState(db);
  s.addSite('site-a');
  for (const p of [db, `${db}-wal`, `${db}-shm`]) assert.equal(mode(p), 0o600, p);
  s.close();
  chmodSync(db, 0o644);
  new HubState(db, { mustExist: true }).close();
  assert.equal(mode(db), 0o600);
});

test('a token the hub accepted is stored sealed: not in the file, and usable after a restart', { timeout: 120_000 }, async () => {
  const site = join(dir, 'site');
  mkdirSync(site);
  const { url, tokens } = await startHub(site, { name: 'rest', mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none' }, [{ name: 'site-a' }]);
  const token = tokens['site-a']!;
  const db = join(site, 'site.sqlite');
  let engine = await createEngine({ dbPath: db, mode: 'browser' });
  const saved = await engine.handlers.saveFederationSettings({ hubUrl: url, siteName: 'site-a', token });
  assert.equal(saved.report?.ok, true, saved.report?.message);
  assert.equal(saved.tokenSet, true);
  await engine.close();
  assert.equal(readFileSync(db).includes(token), false, 'the token is not in the store file');
  if (posix) assert.equal(mode(join(site, 'secret.key')), 0o600);
  engine = await createEngine({ dbPath: db, mode: 'browser' });
  try {
    const r = await engine.handlers.testConnection({});
    assert.equal(r.ok, true, r.message);
  } finally {
    await engine.close();
  }
});
