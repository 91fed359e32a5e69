// The packaging hook that flips Electron's fuses (electron/fuses.mjs, docs/security.md §5). Electron's
// binary cannot be downloaded here, so the hook runs on fake binaries laid out as @electron/fuses reads
// a real one: arbitrary bytes, the fuse sentinel, the wire version (1), the wire length, one byte per
// fuse ('0' off, '1' on) as Electron 41 ships them, more bytes. The hook is loaded the way
// electron-builder loads it (its own resolveFunction on package.json's build.afterPack).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { build: Record<string, unknown> };
const SENTINEL = (require('@electron/fuses/dist/constants.js') as { SENTINEL: string }).SENTINEL;

// Electron's defaults, wire order: RunAsNode, CookieEncryption, NODE_OPTIONS, --inspect, asar integrity,
// asar only, browser V8 snapshot, file:// privileges, and one fuse newer than @electron/fuses 1.x knows.
const SHIPPED = '101100011';
// RunAsNode 0, cookies 1, NODE_OPTIONS 0, --inspect 0, asar integrity 1, asar only 1; the rest as shipped.
const WANTED = '010011011';

function fakeElectron(path: string, wires = 1): void {
  mkdirSync(dirname(path), { recursive: true });
  const wire = () => Buffer.concat([Buffer.from(SENTINEL), Buffer.from([1, SHIPPED.length]), Buffer.from(SHIPPED)]);
  const parts = [randomBytes(4096)];
  for (let i = 0; i < wires; i++) parts.push(wire(), randomBytes(1024));
  writeFileSync(path, Buffer.concat(parts));
}

function wiresOf(path: string): string[] {
  const b = readFileSync(path);
  const out: string[] = [];
  for (let at = b.indexOf(SENTINEL); at >= 0; at = b.indexOf(SENTINEL, at + 1)) {
    const start = at + SENTINEL.length;
    out.push(b.subarray(start + 2, start + 2 + b[start + 1]!).toString('latin1'));
  }
  return out;
}

type Hook = (context: unknown) => Promise<void>;

async function hook(): Promise<Hook> {
  const { resolveFunction } = require('app-builder-lib/out/util/resolve.js') as { resolveFunction: (type: unknown, executor: unknown, name: string, root: string) => Promise<Hook> };
  // Relative paths resolve against the working folder, as in `npm run dist` at the repository root.
  const p = pkg.build.afterPack as string;
  return resolveFunction('afterPack', p.startsWith('.') ? join(root, p) : p, 'afterPack', root);
}

test('the builder config runs the fuses hook after packing, from app.asar', async () => {
  assert.equal(pkg.build.afterPack, './electron/fuses.mjs');
  assert.equal(pkg.build.asar, true, 'OnlyLoadAppFromAsar needs the app in app.asar');
  assert.equal(pkg.build.electronFuses, undefined, 'one place flips the fuses');
  assert.equal(typeof (await hook()), 'function');
});

test('the hook flips RunAsNode, NODE_OPTIONS and --inspect off and asar integrity, asar-only and cookie encryption on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-fuses-'));
  try {
    const afterPack = await hook();
    const packager = { executableName: 'fedseg', appInfo: { productFilename: 'FedSeg' } };
    const linux = join(dir, 'linux-unpacked', 'fedseg');
    fakeElectron(linux);
    const before = readFileSync(linux);
    await afterPack({ appOutDir: dirname(linux), electronPlatformName: 'linux', arch: 1, packager });
    assert.deepEqual(wiresOf(linux), [WANTED]);
    const after = readFileSync(linux);
    assert.equal(after.length, before.length);
    let changed = 0;
    for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) changed++;
    assert.equal(changed, [...SHIPPED].filter((c, i) => c !== WANTED[i]).length, 'only fuse bytes change');

    const win = join(dir, 'win-unpacked', 'FedSeg.exe');
    fakeElectron(win);
    await afterPack({ appOutDir: dirname(win), electronPlatformName: 'win32', arch: 1, packager });
    assert.deepEqual(wiresOf(win), [WANTED]);

    // A universal macOS binary has two wires (one per slice): both are flipped.
    const mac = join(dir, 'mac', 'FedSeg.app', 'Contents', 'Frameworks', 'Electron Framework.framework', 'Electron Framework');
    fakeElectron(mac, 2);
    await afterPack({ appOutDir: join(dir, 'mac'), electronPlatformName: 'darwin', arch: 1, packager });
    assert.deepEqual(wiresOf(mac), [WANTED, WANTED]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a binary without the fuse sentinel fails the packaging', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-fuses-'));
  try {
    writeFileSync(join(dir, 'fedseg'), randomBytes(2048));
    const afterPack = await hook();
    await assert.rejects(afterPack({ appOutDir: dir, electronPlatformName: 'linux', arch: 1, packager: { executableName: 'fedseg' } }), /Could not find sentinel/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
