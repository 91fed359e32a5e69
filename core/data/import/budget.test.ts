// The import budget: reservations are charged in plan order whatever order items ask in, the total
// is refused with a message naming the file and the budget, decoded data backed by enough file bytes
// passes the allowance, read-ahead waits for room (the awaited item never does), and an import
// through the runner refuses exactly the same items in a dry run, inline and with decode workers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FedSegError } from '../../contract/errors.js';
import { createMemoryStore } from '../../store/memory-store.js';
import { encodePng } from '../codecs/image-file.js';
import { FUNDUS_LABELMAP } from '../masks.js';
import { ImportBudget, importLimits } from './budget.js';
import { importFolder } from './folder.js';

const root = mkdtempSync(join(tmpdir(), 'fedseg-budget-'));
after(() => rmSync(root, { recursive: true, force: true }));
const MiB = 1024 ** 2;

test('limits: defaults, overrides, and a bad limit named', () => {
  const d = importLimits();
  assert.deepEqual([d.maxMegapixels, d.maxMegavoxels, d.maxDecodedBytes, d.maxDecodedRatio], [64, 128, 2 * 1024 ** 3, 100]);
  assert.equal(importLimits({ maxMegapixels: 2 }).maxMegapixels, 2);
  assert.throws(() => importLimits({ maxDecodedBytes: -1 }), (e: unknown) => e instanceof FedSegError && e.code === 'INVALID_ARGUMENT' && /maxDecodedBytes/.test(e.message));
  assert.throws(() => importLimits({ maxMegapixels: Number.NaN }), /maxMegapixels must be a positive number/);
});

test('total: charged in plan order, refused over the allowance unless backed by file bytes', async () => {
  const b = new ImportBudget(importLimits({ maxDecodedBytes: 10 * MiB, maxDecodedRatio: 4, maxInflightBytes: 1024 * MiB }));
  const reserve = (j: number, decoded: number, read: number) => b.context(j).reserve(`f${j}`, decoded, read);
  // Item 2 asks first, item 1 next, item 0 last. Charged as asked, item 0 would be the one over the
  // budget; charged in plan order it is item 2.
  const p2 = reserve(2, 6 * MiB, 1);
  const p1 = reserve(1, 3 * MiB, 1);
  const p0 = reserve(0, 3 * MiB, 1);
  await p0;
  await p1;
  // 12 MiB decoded from 3 bytes of file: over the 10 MiB allowance, far over 4x the files.
  await assert.rejects(p2, (e: unknown) => e instanceof FedSegError && e.code === 'INVALID_INPUT' && /^f2: decoding it would bring this import to 12 MiB of decoded data from 3 bytes of files, over the 10 MiB budget per import/.test(e.message));
  assert.equal(b.decoded, 6 * MiB, 'a refused item is not charged');
  // Past the allowance, decoded data backed by at least 1/4 of its size in file bytes is allowed.
  b.pass(2);
  await b.context(3).reserve('f3', 8 * MiB, 4 * MiB);
  await assert.rejects(b.context(4).reserve('f4', 8 * MiB, MiB), /f4: .*22 MiB of decoded data from 5\.0 MiB of files/);
});

test('read-ahead: waits for room; the item the runner awaits always proceeds; close releases waiters', async () => {
  const b = new ImportBudget(importLimits({ maxInflightBytes: 10 * MiB }));
  const got: number[] = [];
  const r = (j: number, n: number) => b.context(j).reserve(`f${j}`, n * MiB, n * MiB).then(() => void got.push(j));
  // Item 0 alone is over the read-ahead room: it is the head, so it proceeds.
  await r(0, 12);
  const p1 = r(1, 6);
  const p2 = r(2, 6);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(got, [0], 'items 1 and 2 wait while item 0 holds 12 MiB');
  b.consumed(0);
  await p1;
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(got, [0, 1], '6 + 6 MiB is over the room: item 2 still waits');
  b.consumed(1);
  await p2;
  b.consumed(2);
  const p3 = r(3, 6);
  const p4 = r(4, 6);
  await p3;
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(got, [0, 1, 2, 3]);
  b.close();
  await assert.rejects(p4, (e: unknown) => e instanceof FedSegError && e.code === 'CANCELLED');
});

test('an import refuses the same items over the budget in a dry run, inline and with decode workers', async () => {
  const dir = join(root, 'total');
  mkdirSync(dir);
  // Six flat 256x256 pairs (a few hundred bytes each on disk, 128 KiB decoded per pair), one small pair.
  const flat = encodePng(256, 256, 1, new Uint8Array(256 * 256));
  for (let i = 0; i < 6; i++) {
    writeFileSync(join(dir, `flat${i}.png`), flat);
    writeFileSync(join(dir, `flat${i}_mask.png`), flat);
  }
  writeFileSync(join(dir, 'small.png'), encodePng(64, 64, 1, new Uint8Array(64 * 64).map((_, i) => (i * 7919) % 251)));
  writeFileSync(join(dir, 'small_mask.png'), encodePng(64, 64, 1, new Uint8Array(64 * 64)));
  const limits = { maxDecodedBytes: 400 * 1024, maxDecodedRatio: 20 };
  const opts = { images: dir, convention: FUNDUS_LABELMAP, dataset: 'b', channels: 1 as const, limits, skipBad: true };
  const dry = await importFolder(null, { ...opts, dryRun: true });
  // 3 pairs fit in 400 KiB; the 4th would be 512 KiB from ~2 KB of files; the small pair still fits.
  const refused = dry.rejected.map((r) => r.file.split('/').pop());
  assert.deepEqual(refused, ['flat3.png', 'flat4.png', 'flat5.png']);
  assert.match(dry.rejected[0]!.message, /flat3\.png: decoding it would bring this import to 512 KiB of decoded data .*over the 400 KiB budget per import/);
  for (const decodeWorkers of [0, 2]) {
    const store = createMemoryStore();
    const rep = await importFolder(store, { ...opts, decodeWorkers });
    assert.deepEqual(rep.rejected.map((r) => r.file.split('/').pop()), refused, `decodeWorkers ${decodeWorkers}`);
    assert.deepEqual(store.loadSamples(rep.datasets[0]!.id!).map((s) => s.name), ['flat0', 'flat1', 'flat2', 'small']);
  }
  // Without skip-bad the import fails naming the first refused file, and stores nothing.
  const strict = createMemoryStore();
  await assert.rejects(importFolder(strict, { ...opts, skipBad: false }), /3 of 7 file\(s\) cannot be imported \(.*flat3\.png: decoding it would bring/);
  assert.equal(strict.listDatasets().length, 0);
});
