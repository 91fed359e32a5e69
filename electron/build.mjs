#!/usr/bin/env node
// Bundles the Electron shell with esbuild into dist-electron/ (or the folder given as argv[2]):
//   main.cjs        main process (CommonJS, as package.json "main" says)
//   preload.cjs     sandboxed preload (self-contained: no npm packages)
//   engine-host.mjs the engine's utility process (npm packages stay external: node_modules ships with the app)
//   job-worker.mjs  the training/federation worker thread started by the engine
//   wasm-thread-worker.cjs  the file wasm's pthreads start from (core/tf/wasm-threads.ts looks for it
//                   next to the bundle that imports it)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(process.argv[2] ?? join(root, 'dist-electron'));
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', sourcemap: false };

await Promise.all([
  build({ ...common, entryPoints: [join(root, 'electron/main.ts')], outfile: join(out, 'main.cjs'), format: 'cjs', packages: 'external' }),
  build({ ...common, entryPoints: [join(root, 'electron/preload.ts')], outfile: join(out, 'preload.cjs'), format: 'cjs', external: ['electron'] }),
  build({ ...common, entryPoints: [join(root, 'electron/engine-host.ts')], outfile: join(out, 'engine-host.mjs'), format: 'esm', packages: 'external' }),
  build({ ...common, entryPoints: [join(root, 'core/app/job-worker.ts')], outfile: join(out, 'job-worker.mjs'), format: 'esm', packages: 'external' }),
]);
mkdirSync(out, { recursive: true });
copyFileSync(join(root, 'core/tf/wasm-thread-worker.cjs'), join(out, 'wasm-thread-worker.cjs'));
console.log(`electron shell built into ${out}`);
