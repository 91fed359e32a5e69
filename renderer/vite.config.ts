// Vite build of the Svelte 5 renderer into dist-renderer/ (served by browser mode and loaded by Electron).
// base './' keeps asset URLs relative, so in browser mode they stay under the /<token>/ path.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist-renderer', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // One JS file + one CSS file; no inline scripts or styles, so the strict CSP holds.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 2000,
  },
});
