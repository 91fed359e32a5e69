// Lint: typescript-eslint's recommended rules plus the layering rules that keep FedSeg's shape.
// Layers (see docs/ARCHITECTURE.md):
//   core/contract   <- everything (types + schemas only)
//   core/**         never imports electron/, renderer/, federation-hub/
//   federation-hub/ imports only core/contract/** from core (never tfjs, never the engine)
//   renderer/       imports only core/contract/** from core
// A wrong import is an error whose message says where the code belongs.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const coreMsg = 'core/ is the headless engine: it must not import electron/, renderer/ or federation-hub/. Move shared types to core/contract/.';
const contractOnly = (who) =>
  `${who} may import only core/contract/** from core (types + schemas). Put the logic behind the app API / hub protocol instead.`;

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'dist-electron/**', 'dist-renderer/**', 'release/**', 'test-output/**',
      'bench-output/**', 'demo-output/**', '**/*.svelte', 'test/fixtures/lint/**', '.gl/**', '.whl/**', '.device/**', '.edev/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,mjs,js,cjs}'],
    plugins: { 'import-x': importX },
    languageOptions: {
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
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs'],
      'import-x/resolver-next': [createNodeResolver({
        extensions: ['.ts', '.js', '.mjs', '.json'],
        extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
      })],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', {
        zones: [
          { target: './core', from: './electron', message: coreMsg },
          { target: './core', from: './renderer', message: coreMsg },
          { target: './core', from: './federation-hub', message: coreMsg },
          { target: './federation-hub', from: './core', except: ['./contract'], message: contractOnly('federation-hub/') },
          { target: './renderer', from: './core', except: ['./contract'], message: contractOnly('renderer/') },
          { target: './renderer', from: './electron', message: 'renderer/ talks to the main process only through the typed app API (window.api).' },
          { target: './renderer', from: './federation-hub', message: contractOnly('renderer/') },
          { target: './core/contract', from: './core', except: ['./contract'], message: 'core/contract/ holds types and schemas only: it must not import the engine.' },
        ],
      }],
    },
  },
);
