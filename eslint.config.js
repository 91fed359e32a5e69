// Lint: typescript-eslint's recommended rules, Svelte's for .svelte files, and the layering rules that
// keep FedSeg's shape (docs/architecture.md). A wrong import is an error whose message says where the
// code belongs. test/lint-layering.test.ts proves each rule fires on a planted file.
//   core/contract   <- everything (types + schemas only; imports nothing of the engine)
//   core/**         never imports electron/, renderer/, federation-hub/
//   numerics        core/freq, core/morphology, core/metrics, core/masks, core/rng.ts: pure maths, no
//                   models, learners, runs, stores, data or I/O
//   core/models     networks only: no learners, runs, stores, federation, data, app
//   core/losses     no learners, runs, stores, federation, data, app
//   core/train      the learner reads batches (arrays), never a store; no runs, federation, app
//   core/run        the run API: no SQLite store (it uses its own ports), no app, CLI, demo, serve;
//                   of core/federation only the SiteTrainer port (trainer.ts)
//   core/federation the site client: no store, no app, CLI, demo, serve
//   better-sqlite3  only in core/store/ and federation-hub/state.ts
//   federation-hub/ imports only core/contract/** from core (never tfjs, never the engine)
//   renderer/       imports only core/contract/** from core (.svelte files included)
//   electron/       imports only core/contract/**, core/app/index.ts and core/app/dispatch.ts from core
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import svelteParser from 'svelte-eslint-parser';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const coreMsg = 'core/ is the headless engine: it must not import electron/, renderer/ or federation-hub/. Move shared types to core/contract/.';
const contractOnly = (who) =>
  `${who} may import only core/contract/** from core (types + schemas). Put the logic behind the app API / hub protocol instead.`;
const numericsMsg = (dir) =>
  `${dir} is pure numerics: it must not import models, learners, runs, stores, data or the federation. Take plain arrays as arguments (or move this code to core/run).`;
const learnerMsg = (dir, what) => `${dir} ${what}. The run API (core/run) connects it to stores and federations.`;
const outside = ['./app', './cli', './demo', './serve'];
/** Zones: `target` may not import any of `from` (all relative to the repository root). */
const deny = (target, from, message, except) => from.map((f) => ({ target, from: f, message, ...(except ? { except } : {}) }));
const core = (xs) => xs.map((x) => `./core/${x.replace(/^\.\//, '')}`);

/** Between the engine's own layers. */
const layering = [
  { target: './core', from: './electron', message: coreMsg },
  { target: './core', from: './renderer', message: coreMsg },
  { target: './core', from: './federation-hub', message: coreMsg },
  { target: './federation-hub', from: './core', except: ['./contract'], message: contractOnly('federation-hub/') },
  { target: './renderer', from: './core', except: ['./contract'], message: contractOnly('renderer/') },
  { target: './renderer', from: './electron', message: 'renderer/ talks to the main process only through the typed app API (window.api).' },
  { target: './renderer', from: './federation-hub', message: contractOnly('renderer/') },
  { target: './electron', from: './core', except: ['./contract', './app/index.ts', './app/dispatch.ts'],
    message: 'electron/ is a shell: from core it may import only core/contract/**, core/app/index.ts (createEngine) and core/app/dispatch.ts.' },
  { target: './core/contract', from: './core', except: ['./contract'], message: 'core/contract/ holds types and schemas only: it must not import the engine.' },
];

/** Inside core/: numerics, networks, losses, learner, run API, site client. */
const innerCore = [
  ...['freq', 'morphology', 'metrics', 'masks'].flatMap((d) =>
    deny(`./core/${d}`, core(['models', 'losses', 'train', 'run', 'store', 'data', 'federation', 'demo', ...outside]), numericsMsg(`core/${d}/`))),
  ...deny('./core/rng.ts', core(['models', 'losses', 'train', 'run', 'store', 'data', 'federation', ...outside]), numericsMsg('core/rng.ts')),
  ...deny('./core/models', core(['losses', 'train', 'run', 'store', 'data', 'federation', 'demo', ...outside]), learnerMsg('core/models/', 'holds networks only (forward = f(weights, x))')),
  ...deny('./core/losses', core(['train', 'run', 'store', 'data', 'federation', 'demo', ...outside]), learnerMsg('core/losses/', 'holds loss functions only')),
  ...deny('./core/train', core(['run', 'store', 'data', 'federation', 'demo', ...outside]), learnerMsg('core/train/', 'is the learner: it reads batches (arrays), never a store')),
  ...deny('./core/run', core(['store', 'demo', ...outside]), learnerMsg('core/run/', 'is the run API: it reaches stores only through its ports (core/run/ports.ts)')),
  { target: './core/run', from: './core/federation', except: ['./trainer.ts'], message: 'core/run/ implements the site client\'s SiteTrainer port (core/federation/trainer.ts) and imports nothing else of core/federation/.' },
  ...deny('./core/federation', core(['store', 'demo', ...outside]), 'core/federation/ is the site client: it reaches the store through the run API\'s ports and knows nothing of the app, CLI or demo.'),
];

const sqliteOnlyHere = {
  paths: [{ name: 'better-sqlite3', message: 'Only core/store/ (the site store) and federation-hub/state.ts (the hub state) open SQLite; use the DatasetStore interface or the run API\'s ports.' }],
};

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'core/flower/gen/**', 'dist/**', 'dist-electron/**', 'dist-renderer/**', 'release/**', 'test-output/**',
      'bench-output/**', 'demo-output/**', 'test/fixtures/lint/**', '.gl/**', '.whl/**', '.device/**', '.edev/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parser: svelteParser, parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
    // TypeScript (svelte-check, npm run typecheck) knows the DOM names; no-undef does not.
    rules: { 'no-undef': 'off' },
  },
  {
    files: ['**/*.{ts,mjs,js,cjs,svelte}'],
    plugins: { 'import-x': importX },
    languageOptions: {
      // Also used when import-x parses a .svelte file reached through an import (its <script lang="ts">).
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
      globals: {
        console: 'readonly', process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', performance: 'readonly', globalThis: 'readonly',
        window: 'readonly', document: 'readonly', navigator: 'readonly', fetch: 'readonly', TextEncoder: 'readonly',
        TextDecoder: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly',
      },
    },
    settings: {
      // Our sources import './x.js' for './x.ts' (TS bundler resolution). Without extensionAlias those
      // imports do not resolve, and no-restricted-paths / no-cycle silently skip them.
      // no-cycle only follows files with these extensions (default: .js only, so .ts cycles went unseen).
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs', '.svelte'],
      // Files reached through imports are parsed by their own kind's parser (not the importer's).
      'import-x/parsers': { 'svelte-eslint-parser': ['.svelte'], '@typescript-eslint/parser': ['.ts', '.mjs', '.js', '.cjs'] },
      'import-x/resolver-next': [createNodeResolver({
        extensions: ['.ts', '.js', '.mjs', '.json', '.svelte'],
        extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
      })],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: [...layering, ...innerCore] }],
      'no-restricted-imports': ['error', sqliteOnlyHere],
    },
  },
  {
    // Tests compose the layers they test (fixtures from core/data, a learner step to train a model):
    // they keep the outer layering, not the rules inside core/.
    files: ['**/*.test.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layering }] },
  },
  {
    // The two owners of SQLite files, and the tests that build fixtures with it directly.
    files: ['core/store/**', 'federation-hub/state.ts', '**/*.test.ts', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // CommonJS files that Node's worker_threads start directly (they cannot be ESM: the runtime they
    // evaluate expects `require` and `__filename`).
    files: ['**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', __filename: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
