#!/usr/bin/env node
// `npm start`: the desktop app. Electron is an optional dependency whose binary download can fail
// (offline machines, CI); then this says so in one line and points to browser mode.
import { createRequire } from 'node:module';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));

let electronBinary = null;
try {
  const p = require('electron'); // the npm package exports the path of the downloaded binary
  if (typeof p === 'string' && p) electronBinary = p;
} catch {
  electronBinary = null;
}
if (!electronBinary) {
  console.error('FedSeg desktop: Electron is not installed on this machine (optional dependency; its download failed or was skipped) — run `npm run serve` to use FedSeg in your browser instead.');
  process.exit(1);
}
const built = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (built.status !== 0) process.exit(built.status ?? 1);
const child = spawn(electronBinary, [root], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
