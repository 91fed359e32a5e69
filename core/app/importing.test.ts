// The import wizard's handlers on a real SQLite file: the dry run judges every file with the import's
// own checks (a mask with a value the convention does not allow is flagged, per file), a strict import
// with a bad file fails naming it and leaves the database byte-for-byte as before, a skip-bad import
// stores exactly the good pairs and says what it left out, path errors say what is wrong with the path,
// and a cancelled import or dry run writes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppEventName, EventPayload } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import { encodePng } from '../data/codecs/image-file.js';
import { writeBinaryMaskFolder } from '../data/export.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { EngineContext } from './context.js';
import { importHandlers } from './importing.js';
import { databaseDigest } from '../../test/helpers/db-digest.js';

let dir: string;
let dbPath: string;
let store: DatasetStore;
let h: ReturnType<typeof importHandlers>;
let onEvent: ((e: AppEventName, p: unknown) => void) | null = null;
/** Binary-mask folder (name-Disc-T / name-Cup-T): 5 pairs, one Disc mask holding the value 7, one orphan image. */
let binary: string;


/** A grey mask file whose pixel (1, 1) holds `value` and is 0 elsewhere. */
function greyWith(w: number, h: number, value: number, base = 0): Buffer {
  const px = new Uint8Array(w * h).fill(base);
  px[w + 1] = value;
  return encodePng(w, h, 1, px);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedseg-importing-'));
  dbPath = join(dir, 'site.sqlite');
  store = openSqliteStore(dbPath);
  store.createDataset({ name: 'existing', channels: 3, classes: 2 });
  const ctx: EngineContext = {
    store, dbPath,
    emit<E extends AppEventName>(event: E, payload: EventPayload<E>) {
      onEvent?.(event, payload);
    },
    backend: async () => 'none',
  };
  h = importHandlers(ctx);
  const [site] = generateFundusSites({ sites: 1, perSite: 5, size: 32, seed: 3 });
  await writeBinaryMaskFolder({ site: 'hospital-b', samples: site!.samples }, dir, ['-Disc-T', '-Cup-T']);
  binary = join(dir, 'hospital-b');
  writeFileSync(join(binary, 'Domain1-0002-Disc-T.png'), greyWith(32, 32, 7));
  copyFileSync(join(binary, 'Domain1-0000.png'), join(binary, 'orphan.png'));
});

after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('dry run flags the mask with value 7 as a bad file, with the reason, and writes nothing', async () => {
  const before = databaseDigest(dbPath);
  const pre = await h.previewImport({ path: binary, convention: 'auto', jobId: 'p' });
  assert.equal(pre.convention, 'folder-binary');
  assert.equal(pre.goodFiles, 4);
  assert.equal(pre.badFiles, 1);
  assert.equal(pre.total, 4, 'total counts only what the import would store');
  assert.deepEqual(pre.bad.map((b) => b.name), ['Domain1-0002.png']);
  assert.match(pre.bad[0]!.problem, /^Domain1-0002-Disc-T\.png: value 7 at \(x=1, y=1\) is not binary/, 'paths are relative to the chosen folder');
  assert.deepEqual(pre.problems, []);
  assert.equal(pre.skipped.length, 1);
  assert.match(pre.skipped[0]!, /^orphan\.png: no mask file/);
  // Bad files first (with their own picture), then the good ones with the mask at thumbnail size.
  assert.equal(pre.items.length, 5);
  assert.equal(pre.items[0]!.name, 'Domain1-0002.png');
  assert.equal(pre.items[0]!.problems.length, 1);
  assert.ok(pre.items[0]!.thumbnail, 'the bad file\'s image still decodes, so it is shown');
  for (const it of pre.items.slice(1)) {
    assert.deepEqual(it.problems, []);
    assert.ok(it.thumbnail && it.maskThumbnail && it.hasMask);
    assert.equal(it.maskThumbnail.width, it.thumbnail.width);
    assert.equal(it.maskThumbnail.height, it.thumbnail.height);
    assert.equal(it.maskThumbnail.classes, 2);
  }
  assert.equal(databaseDigest(dbPath), before);
});

test('dry run runs the label-map value check per file (value 7 is not a label 0/1/2)', async () => {
  const d = join(dir, 'labelmap');
  mkdirSync(d);
  const img = encodePng(8, 8, 3, new Uint8Array(8 * 8 * 3).fill(90));
  for (const n of ['a', 'b', 'c']) writeFileSync(join(d, `${n}.png`), img);
  writeFileSync(join(d, 'a_mask.png'), greyWith(8, 8, 2, 1));
  writeFileSync(join(d, 'b_mask.png'), greyWith(8, 8, 7, 1));
  writeFileSync(join(d, 'c_mask.png'), greyWith(8, 8, 1));
  const pre = await h.previewImport({ path: d, convention: 'auto', jobId: 'p' });
  assert.equal(pre.convention, 'folder-labelmap');
  assert.equal(pre.goodFiles, 2);
  assert.deepEqual(pre.bad, [{ name: 'b.png', problem: 'b_mask.png: label value 7 at (x=1, y=1) is not in the label map {0, 1, 2}' }]);
});

test('import without skip fails on the bad file, names it, and leaves the database exactly as before', async () => {
  const before = databaseDigest(dbPath);
  await assert.rejects(
    h.importDataset({ path: binary, convention: 'auto', name: 'Hospital B', site: 'b', jobId: 'i', skipBad: false }),
    (e: unknown) => e instanceof FedSegError && e.code === 'INVALID_INPUT'
      && /^1 of 5 file\(s\) cannot be imported \(Domain1-0002\.png: Domain1-0002-Disc-T\.png: value 7/.test(e.message)
      && /nothing was imported; skip the bad files to import the other 4$/.test(e.message),
  );
  assert.equal(databaseDigest(dbPath), before);
  assert.equal(store.getDataset('Hospital B'), null);
});

test('import with skipBad stores exactly the good pairs and reports the skipped file and why', async () => {
  const r = await h.importDataset({ path: binary, convention: 'auto', name: 'Hospital B', site: 'b', jobId: 'i', skipBad: true });
  assert.equal(r.dataset.count, 4);
  assert.deepEqual(r.rejected.map((x) => x.name), ['Domain1-0002.png']);
  assert.match(r.rejected[0]!.problem, /value 7/);
  assert.equal(r.skipped.length, 1);
  const id = Number(r.dataset.id);
  assert.deepEqual(store.listSamples(id).map((s) => s.name), ['Domain1-0000', 'Domain1-0001', 'Domain1-0003', 'Domain1-0004']);
  store.deleteDataset(id);
});

test('a path that is missing, a file, or unreadable says which', async () => {
  await assert.rejects(h.previewImport({ path: join(dir, 'nope'), convention: 'auto', jobId: 'p' }), { code: 'NOT_FOUND', message: `${join(dir, 'nope')}: folder does not exist` });
  await assert.rejects(h.importDataset({ path: join(dir, 'nope'), convention: 'folder-refuge', name: 'x', site: 'l', jobId: 'i', skipBad: false }), /nope: folder does not exist/);
  const file = join(binary, 'Domain1-0000.png');
  await assert.rejects(h.previewImport({ path: file, convention: 'auto', jobId: 'p' }), { code: 'INVALID_ARGUMENT', message: `${file}: is a file, not a folder; choose the folder that holds the images` });
  await assert.rejects(h.previewImport({ path: join(file, 'below'), convention: 'auto', jobId: 'p' }), /below: folder does not exist/);
});

test('an unreadable folder says permission denied', { skip: process.getuid?.() === 0 ? 'root reads every folder' : false }, async () => {
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o000);
  try {
    await assert.rejects(h.previewImport({ path: locked, convention: 'auto', jobId: 'p' }), /locked: permission denied/);
  } finally {
    chmodSync(locked, 0o755);
  }
});

test('cancel stops an import and a dry run; nothing is written', async () => {
  const before = databaseDigest(dbPath);
  assert.deepEqual(await h.cancelImport({ jobId: 'c' }), { cancelled: false });
  const cancelOnFirst = (jobId: string) => {
    let asked: Promise<{ cancelled: boolean }> | null = null;
    onEvent = (e, p) => {
      if (e === 'importProgress' && (p as EventPayload<'importProgress'>).jobId === jobId) asked ??= h.cancelImport({ jobId });
    };
    return () => asked;
  };
  let asked = cancelOnFirst('c');
  await assert.rejects(h.importDataset({ path: binary, convention: 'auto', name: 'Cancelled', site: 'b', jobId: 'c', skipBad: true }), { code: 'CANCELLED' });
  assert.deepEqual(await asked(), { cancelled: true });
  assert.equal(databaseDigest(dbPath), before);
  asked = cancelOnFirst('d');
  await assert.rejects(h.previewImport({ path: binary, convention: 'auto', jobId: 'd' }), { code: 'CANCELLED', message: 'dry run cancelled' });
  assert.deepEqual(await asked(), { cancelled: true });
  onEvent = null;
  // The job id is free again after a cancel.
  const pre = await h.previewImport({ path: binary, convention: 'auto', jobId: 'd' });
  assert.equal(pre.goodFiles, 4);
});

test('opening a single file reads only a regular file: a FIFO is refused at once, a missing file says so', { skip: process.platform === 'win32' ? 'no FIFOs' : false }, async () => {
  const fifo = join(dir, 'pipe.png');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(h.openImageFile({ path: fifo }), (e: FedSegError) => e.code === 'INVALID_INPUT' && e.message.includes('pipe.png'));
  await assert.rejects(h.openImageFile({ path: join(dir, 'absent.png') }), (e: FedSegError) => e.code === 'IO_ERROR' && e.message.includes('absent.png'));
});
