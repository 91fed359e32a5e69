#!/usr/bin/env node
// Pre-check of `npm run dist`: electron-builder needs the Electron package in node_modules (it reads the
// version to package from there) and fails without it with a long "Cannot compute electron version"
// error; this says in one line which part is missing and how to get it, and exits 1 before the build.
import { fileURLToPath } from 'node:url';
import { electronStatus } from './electron-check.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const s = electronStatus(root);
if (!s.ok) {
  console.error(`npm run dist: ${s.reason}`);
  process.exit(1);
}
console.log(`npm run dist: packaging with Electron ${s.version}`);
