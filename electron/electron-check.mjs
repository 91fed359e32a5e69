// Whether Electron can run from this checkout, for `npm start` (electron/start.mjs) and the pre-check
// of `npm run dist` (electron/check-dist.mjs). Electron is an optional dependency in two parts that
// fail apart: the npm package (npm drops it when its engines or install fail) and the binary its
// install script downloads from GitHub (offline machines, --ignore-scripts). Each missing part gets its
// own one-line reason and the command that fixes it; the package must also be the version package.json
// pins, since electron-builder packages whatever node_modules holds.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const BROWSER = 'or use `npm run serve` (FedSeg in the browser)';

/**
 * @param {string} root the project folder (its package.json and node_modules)
 * @param {Record<string, string | undefined>} env the environment (ELECTRON_OVERRIDE_DIST_PATH, as the electron package reads it)
 * @returns {{ ok: true, version: string, binary: string } | { ok: false, missing: 'package' | 'version' | 'binary', reason: string }}
 */
export function electronStatus(root, env = process.env) {
  const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).optionalDependencies?.electron ?? null;
  let pkgFile;
  try {
    pkgFile = createRequire(join(root, 'package.json')).resolve('electron/package.json');
  } catch {
    return {
      ok: false, missing: 'package',
      reason: `Electron is not installed (an optional dependency, which npm leaves out when its install fails): run \`npm install\` with network access${pinned ? ` (it installs electron ${pinned}, pinned in package.json)` : ''}, ${BROWSER}`,
    };
  }
  const dir = dirname(pkgFile);
  const { version } = JSON.parse(readFileSync(pkgFile, 'utf8'));
  if (pinned && /^\d+\.\d+\.\d+$/.test(pinned) && version !== pinned) {
    return { ok: false, missing: 'version', reason: `node_modules holds Electron ${version} but package.json pins ${pinned}: run \`npm install\` to install the pinned one, ${BROWSER}` };
  }
  // As node_modules/electron/index.js finds the binary: path.txt, written by its install script.
  const pathFile = join(dir, 'path.txt');
  const exe = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = env.ELECTRON_OVERRIDE_DIST_PATH;
  const binary = override ? join(override, exe || 'electron') : exe ? join(dir, 'dist', exe) : '';
  if (!binary || !existsSync(binary)) {
    return {
      ok: false, missing: 'binary',
      reason: `Electron ${version}'s binary is not downloaded (its install script did not run or could not reach GitHub): run \`node node_modules/electron/install.js\` with network access, ${BROWSER}`,
    };
  }
  return { ok: true, version, binary };
}
