// `fedseg serve` as a user runs it: prints the URL, serves the UI behind the token, stops on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('fedseg serve --help, bad options, and a real start/stop', async () => {
  const help = spawnSync(process.execPath, ['bin/fedseg.mjs', 'serve', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /127\.0\.0\.1/);
  const bad = spawnSync(process.execPath, ['bin/fedseg.mjs', 'serve', '--port', '70000'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^fedseg serve: --port must be an integer in \[0, 65535\], got '70000'/);

  const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-serve-'));
  mkdirSync(join(dir, 'ui'));
  writeFileSync(join(dir, 'ui', 'index.html'), '<!doctype html><title>ok</title>');
  const child = spawn(process.execPath, ['bin/fedseg.mjs', 'serve', '--db', join(dir, 'site.sqlite'), '--static', join(dir, 'ui')], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
      child.stdout.on('data', (d) => {
        out += String(d);
        const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\S+\/)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<title>ok<\/title>/);
    assert.equal((await fetch(new URL('/', url))).status, 403);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
