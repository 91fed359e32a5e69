#!/usr/bin/env node
// `npm start`: the desktop app. Electron is an optional dependency whose package or binary can be
// missing (offline machines, CI; electron/electron-check.mjs tells which); then this says so in one line
// and points to browser mode.
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { electronStatus } from './electron-check.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

const s = electronStatus(root);
if (!s.ok) {
  console.error(`FedSeg desktop: ${s.reason}`);
  process.exit(1);
}
const built = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (built.status !== 0) process.exit(built.status ?? 1);
const child = spawn(s.binary, [root], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
