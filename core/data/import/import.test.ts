// Importers: round trips on generated files for every layout/convention, dry runs, resizing,
// all-or-nothing under injected failures (corrupt file mid-way, throwing progress callback, cancel,
// full database) checked on the raw SQLite file, and bad-input messages naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FedSegError } from '../../contract/errors.js';
import type { Sample } from '../../contract/image.js';
import { openSqliteStore } from '../../store/sqlite-store.js';
import { createMemoryStore } from '../../store/memory-store.js';
import { encodePng } from '../codecs/image-file.js';
import { writeNifti } from '../codecs/nifti.js';
import { writeNpy } from '../codecs/npy.js';
import { writeBinaryMaskFolder, writeDofeLayout, writeNiftiLayout, writeNpyLayout } from '../export.js';
import { FUNDUS_BINARY, FUNDUS_LABELMAP, REFUGE } from '../masks.js';
import { generateFundusSites } from '../synthetic/fundus.js';
import { generateProstateSites } from '../synthetic/prostate.js';
import { importNifti, importNpy } from './arrays.js';
import { importDofe, importFolder } from './folder.js';
import type { ImportProgress } from './runner.js';
import { databaseDigest } from '../../../test/helpers/db-digest.js';
import { freshDirs } from '../../../test/helpers/fresh-dirs.js';

const { root, fresh } = freshDirs('fedseg-import-');
const sites = generateFundusSites({ sites: 2, perSite: 5, size: 24, seed: 21 });
const prostate = generateProstateSites({ sites: 1, perSite: 6, size: 20, seed: 2, depth: 6 });

function same(a: Sample, b: Sample, tol = 0): void {
  assert.equal(a.name, b.name);
  assert.deepEqual([a.image.width, a.image.height, a.image.channels], [b.image.width, b.image.height, b.image.channels]);
  if (tol === 0) assert.deepEqual(a.image.data, b.image.data);
  else a.image.data.forEach((v, i) => assert.ok(Math.abs(v - b.image.data[i]!) <= tol, `${a.name}[${i}] ${v} vs ${b.image.data[i]}`));
  assert.deepEqual(a.mask, b.mask);
}

async function fails(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FedSegError, `expected FedSegError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}


test('DoFE layout: generate -> write -> import round trip (one dataset per domain, splits kept)', async () => {
  const dir = fresh('dofe');
  await writeDofeLayout(sites, dir, { testFraction: 0.2 });
  const dbPath = join(dir, 'site.sqlite');
  const store = openSqliteStore(dbPath);
  const events: ImportProgress[] = [];
  const rep = await importDofe(store, { root: dir, onProgress: (p) => events.push(p) });
  assert.deepEqual(rep.datasets.map((d) => [d.name, d.samples, d.splits]), [['Domain1', 5, { train: 4, test: 1 }], ['Domain2', 5, { train: 4, test: 1 }]]);
  assert.deepEqual(rep.skipped, []);
  for (const [k, site] of sites.entries()) {
    const ds = store.getDataset(site.site)!;
    assert.equal(ds.kind, 'fundus');
    assert.deepEqual(ds.classNames, ['disc', 'cup']);
    const got = store.loadSamples(ds.id);
    // Train first, then test: the generator's order.
    got.forEach((s, i) => same(s, sites[k]!.samples[i]!));
    assert.equal(got[4]!.split, 'test');
  }
  assert.deepEqual(events.filter((e) => e.phase === 'read').map((e) => e.done), Array.from({ length: 10 }, (_, i) => i + 1));
  assert.ok(events.some((e) => e.phase === 'commit') && events.at(-1)!.phase === 'done');
  // Importing the same domains again is refused as a whole.
  const before = databaseDigest(dbPath);
  await fails(importDofe(store, { root: dir }), 'ALREADY_EXISTS', /Domain1/);
  assert.equal(databaseDigest(dbPath), before);
  store.close();
});

test('folder import: label maps, REFUGE grey levels, binary-per-structure files, masks beside images', async () => {
  const site = sites[0]!;
  // Label map (0 bg, 1 disc rim, 2 cup) in a separate folder, masks named <stem>_mask.png.
  const dir = fresh('labelmap');
  mkdirSync(join(dir, 'img'));
  mkdirSync(join(dir, 'lab'));
  for (const s of site.samples) {
    writeFileSync(join(dir, 'img', `${s.name}.png`), encodePng(24, 24, 3, Uint8Array.from(s.image.data)));
    const lab = new Uint8Array(24 * 24).map((_, i) => s.mask.data[i * 2 + 1] ? 2 : s.mask.data[i * 2] ? 1 : 0);
    writeFileSync(join(dir, 'lab', `${s.name}_mask.png`), encodePng(24, 24, 1, lab));
  }
  const store = createMemoryStore();
  const r1 = await importFolder(store, { images: join(dir, 'img'), masks: join(dir, 'lab'), convention: FUNDUS_LABELMAP, dataset: 'lm', split: 'train' });
  assert.equal(r1.datasets[0]!.samples, 5);
  store.loadSamples(r1.datasets[0]!.id!).forEach((s, i) => same(s, site.samples[i]!));
  // Binary per structure, masks in the same folder as the images.
  const bdir = fresh('binary');
  await writeBinaryMaskFolder(site, bdir, ['-Disc-T', '-Cup-T']);
  writeFileSync(join(bdir, site.site, 'orphan-Cup-T.png'), encodePng(24, 24, 1, new Uint8Array(576)));
  const r2 = await importFolder(store, { images: join(bdir, site.site), convention: FUNDUS_BINARY, dataset: 'bin' });
  assert.equal(r2.datasets[0]!.samples, 5);
  assert.deepEqual(r2.skipped.map((s) => [s.file.split('/').pop(), s.reason]), [['orphan-Cup-T.png', 'mask without a matching image']]);
  store.loadSamples(r2.datasets[0]!.id!).forEach((s, i) => same(s, site.samples[i]!));
  // REFUGE grey masks via the generic folder importer, resized on import.
  const gdir = fresh('refuge');
  await writeDofeLayout([site], gdir, { testFraction: 0 });
  const r3 = await importFolder(store, {
    images: join(gdir, site.site, 'train/ROIs/image'), masks: join(gdir, site.site, 'train/ROIs/mask'), convention: REFUGE, dataset: 'ref',
    resize: { width: 16, height: 12 },
  });
  const got = store.loadSamples(r3.datasets[0]!.id!);
  assert.deepEqual([got[0]!.image.width, got[0]!.image.height, got[0]!.mask.classes], [16, 12, 2]);
  assert.deepEqual(r3.datasets[0]!.sizes, { '16x12': 5 });
  for (const s of got) for (let i = 0; i < s.mask.data.length; i += 2) assert.ok(s.mask.data[i + 1]! <= s.mask.data[i]!, 'cup inside disc after nearest resize');
});

test('dry run: reports samples, skipped files and every problem; writes nothing', async () => {
  const dir = fresh('dry');
  await writeDofeLayout([sites[0]!], dir, { testFraction: 0 });
  const img = join(dir, 'Domain1/train/ROIs/image');
  const msk = join(dir, 'Domain1/train/ROIs/mask');
  copyFileSync(join(img, 'Domain1-0000.png'), join(img, 'extra.png')); // image without mask
  copyFileSync(join(msk, 'Domain1-0000.png'), join(msk, 'lonely.png')); // mask without image
  writeFileSync(join(img, 'Domain1-0002.png'), 'garbage'); // corrupt
  const dbPath = join(dir, 'dry.sqlite');
  const store = openSqliteStore(dbPath);
  const before = databaseDigest(dbPath);
  const rep = await importFolder(store, { images: img, masks: msk, convention: REFUGE, dataset: 'd', dryRun: true });
  assert.equal(rep.dryRun, true);
  assert.equal(rep.datasets[0]!.samples, 4);
  assert.equal(rep.datasets[0]!.id, null);
  assert.deepEqual(rep.skipped.map((s) => s.reason.split(' (')[0]), ['no mask found', 'mask without a matching image']);
  assert.match(rep.skipped[0]!.file, /extra\.png$/);
  assert.equal(rep.problems.length, 1);
  assert.match(rep.problems[0]!.file, /Domain1-0002\.png$/);
  assert.match(rep.problems[0]!.message, /not a PNG or JPEG/);
  assert.equal(store.listDatasets().length, 0);
  assert.equal(databaseDigest(dbPath), before);
  // The real import of the same folder fails on the corrupt file, naming it, and writes nothing.
  await fails(importFolder(store, { images: img, masks: msk, convention: REFUGE, dataset: 'd' }), 'UNSUPPORTED', /Domain1-0002\.png/);
  assert.equal(databaseDigest(dbPath), before);
  store.close();
});

test('all-or-nothing: throwing progress callback, cancel, and a full database leave the file exactly as before', async () => {
  const dir = fresh('aon');
  await writeDofeLayout(sites, dir);
  const dbPath = join(dir, 'aon.sqlite');
  const store = openSqliteStore(dbPath);
  store.createDataset({ name: 'pre-existing', channels: 3, classes: 2 });
  store.appendAudit({ direction: 'in', kind: 'k', bytes: 1, peer: 'p', summary: 's' });
  const before = databaseDigest(dbPath);
  await assert.rejects(importDofe(store, {
    root: dir,
    onProgress: (p) => {
      if (p.phase === 'read' && p.done === 7) throw new Error('injected failure after 7 files');
    },
  }), /injected failure/);
  assert.equal(databaseDigest(dbPath), before);
  const ac = new AbortController();
  await fails(importDofe(store, {
    root: dir, signal: ac.signal, onProgress: (p) => {
      if (p.done === 3) ac.abort();
    },
  }), 'CANCELLED', /nothing was written/);
  assert.equal(databaseDigest(dbPath), before);
  store.close();
  // Database capped just above its current size: the commit fails as "full", nothing lands.
  const probe = new Database(dbPath, { readonly: true });
  const pages = probe.pragma('page_count', { simple: true }) as number;
  probe.close();
  const capped = openSqliteStore(dbPath, { maxPageCount: pages + 1 });
  await fails(importDofe(capped, { root: dir }), 'DB_ERROR', /is full/);
  capped.close();
  assert.equal(databaseDigest(dbPath), before);
  // And the same import succeeds without the cap.
  const ok = openSqliteStore(dbPath);
  const rep = await importDofe(ok, { root: dir });
  assert.equal(rep.datasets.length, 2);
  ok.close();
});

test('FedDG .npy: round trip for fundus (3+2) and MRI (1+1) arrays', async () => {
  const dir = fresh('npy');
  await writeNpyLayout([sites[1]!, prostate[0]!], dir);
  const store = createMemoryStore();
  const r = await importNpy(store, { dir: join(dir, sites[1]!.site), dataset: 'npy-f' });
  assert.deepEqual([r.datasets[0]!.channels, r.datasets[0]!.classes, r.datasets[0]!.classNames], [3, 2, ['disc', 'cup']]);
  store.loadSamples(r.datasets[0]!.id!).forEach((s, i) => same(s, sites[1]!.samples[i]!));
  const rp = await importNpy(store, { dir: join(dir, prostate[0]!.site), dataset: 'npy-p' });
  assert.deepEqual([rp.datasets[0]!.channels, rp.datasets[0]!.classes], [1, 1]);
  store.loadSamples(rp.datasets[0]!.id!).forEach((s, i) => same(s, prostate[0]!.samples[i]!));
});

test('NIfTI: volumes -> axial slices, per-volume z-score, labels merged, spacing kept', async () => {
  const dir = fresh('nifti');
  await writeNiftiLayout(prostate, dir, { spacing: [0.5, 0.75, 3] });
  const site = prostate[0]!;
  const store = createMemoryStore();
  const r = await importNifti(store, { dir: join(dir, site.site), dataset: 'p', kind: 'prostate' });
  assert.equal(r.datasets[0]!.samples, 6);
  const got = store.loadSamples(r.datasets[0]!.id!);
  // The generator already z-scored each volume, so z-scoring again changes values only by rounding.
  got.forEach((s, i) => same(s, site.samples[i]!, 1e-4));
  assert.deepEqual(got[0]!.spacing, [0.75, 0.5]);
  assert.ok(got.some((s) => s.mask.data.every((v) => v === 0)) && got.some((s) => s.mask.data.some((v) => v === 1)), 'slices with and without gland');
  // SAML-style labels {1, 2} merged into one class; label 3 outside the configured classes is refused.
  const d2 = fresh('nifti-merge');
  const vol = new Float32Array(4 * 3 * 2).map((_, i) => i);
  const lab = new Uint8Array(24);
  lab[1] = 1;
  lab[13] = 2;
  writeFileSync(join(d2, 'Case01.nii.gz'), writeNifti({ nx: 4, ny: 3, nz: 2, spacing: [1, 1, 1], data: vol }));
  writeFileSync(join(d2, 'Case01_Segmentation.nii.gz'), writeNifti({ nx: 4, ny: 3, nz: 2, spacing: [1, 1, 1], data: lab }));
  const rm = await importNifti(store, { dir: d2, dataset: 'merged', classes: [[1, 2]] });
  const ms = store.loadSamples(rm.datasets[0]!.id!);
  assert.deepEqual(ms.map((s) => Array.from(s.mask.data).reduce((a, b) => a + b, 0)), [1, 1]);
  const z = ms.flatMap((s) => Array.from(s.image.data));
  assert.ok(Math.abs(z.reduce((a, b) => a + b, 0)) < 1e-4, 'z-scored volume has mean 0');
  lab[5] = 3;
  writeFileSync(join(d2, 'Case01_Segmentation.nii.gz'), writeNifti({ nx: 4, ny: 3, nz: 2, spacing: [1, 1, 1], data: lab }));
  await fails(importNifti(store, { dir: d2, dataset: 'merged2', classes: [[1, 2]] }), 'INVALID_INPUT', /Case01_Segmentation\.nii\.gz: label value 3/);
});

test('bad input: each failure names the file, and nothing is written', async () => {
  const store = createMemoryStore();
  const s0 = sites[0]!.samples[0]!;
  const png = (s: Sample): Buffer => encodePng(s.image.width, s.image.height, 3, Uint8Array.from(s.image.data));
  const grey = (w: number, h: number, v: number): Buffer => encodePng(w, h, 1, new Uint8Array(w * h).fill(v));
  const mk = (files: Record<string, Buffer | string>): string => {
    const d = fresh('bad');
    for (const [f, b] of Object.entries(files)) writeFileSync(join(d, f), b);
    return d;
  };
  const opts = (d: string) => ({ images: d, convention: FUNDUS_LABELMAP, dataset: 'bad' });
  // Image/mask size mismatch.
  await fails(importFolder(store, opts(mk({ 'a.png': png(s0), 'a_mask.png': grey(20, 24, 0) }))), 'SHAPE_MISMATCH', /a_mask\.png: mask is 20x24 but image .*a\.png is 24x24/);
  // Mask values outside the convention (label map and REFUGE).
  await fails(importFolder(store, opts(mk({ 'a.png': png(s0), 'a_mask.png': grey(24, 24, 3) }))), 'INVALID_INPUT', /a_mask\.png: label value 3 at \(x=0, y=0\) is not in the label map \{0, 1, 2\}/);
  await fails(importFolder(store, { ...opts(mk({ 'a.png': png(s0), 'a_mask.png': grey(24, 24, 77) })), convention: REFUGE }), 'INVALID_INPUT', /a_mask\.png: grey level 77 .* not a REFUGE level/);
  // Colour mask.
  await fails(importFolder(store, opts(mk({ 'a.png': png(s0), 'a_mask.png': png(s0) }))), 'INVALID_INPUT', /a_mask\.png: mask is a colour image/);
  // Duplicate names.
  await fails(importFolder(store, opts(mk({ 'a.png': png(s0), 'a.jpg': png(s0), 'a_mask.png': grey(24, 24, 0) }))), 'INVALID_INPUT', /duplicate image name 'a'/);
  // Empty folder, missing folder, corrupt mask.
  await fails(importFolder(store, opts(mk({}))), 'INVALID_INPUT', /no PNG\/JPEG images/);
  await fails(importFolder(store, opts(join(root, 'does-not-exist'))), 'NOT_FOUND', /does-not-exist: folder does not exist/);
  await fails(importFolder(store, opts(mk({ 'a.png': png(s0), 'a_mask.png': png(s0).subarray(0, 50) }))), 'CORRUPT_FILE', /a_mask\.png: unreadable PNG/);
  // Only images, no masks at all: nothing to import, with the reason.
  await fails(importFolder(store, opts(mk({ 'a.png': png(s0) }))), 'INVALID_INPUT', /nothing to import.*a\.png \(no mask found/);
  // NIfTI label volume that does not match its image volume.
  const nd = mk({
    'Case00.nii.gz': Buffer.from(writeNifti({ nx: 4, ny: 3, nz: 2, spacing: [1, 1, 1], data: new Float32Array(24) })),
    'Case00_segmentation.nii.gz': Buffer.from(writeNifti({ nx: 4, ny: 3, nz: 3, spacing: [1, 1, 1], data: new Uint8Array(36) })),
  });
  await fails(importNifti(store, { dir: nd, dataset: 'n' }), 'SHAPE_MISMATCH', /Case00_segmentation\.nii\.gz: label volume is 4x3x3 but image volume .*Case00\.nii\.gz is 4x3x2/);
  // npy mask channel that is not 0/1, and a file with a different channel count.
  const a = new Float32Array(2 * 2 * 5);
  const b = a.slice();
  b[3] = 0.5;
  await fails(importNpy(store, { dir: mk({ 'a.npy': Buffer.from(writeNpy([2, 2, 5], a)), 'b.npy': Buffer.from(writeNpy([2, 2, 5], b)) }), dataset: 'x' }), 'INVALID_INPUT', /b\.npy: mask channel 0 has value 0\.5/);
  await fails(importNpy(store, { dir: mk({ 'a.npy': Buffer.from(writeNpy([2, 2, 5], a)), 'b.npy': Buffer.from(writeNpy([2, 2, 4], new Float32Array(16))) }), dataset: 'x' }), 'SHAPE_MISMATCH', /b\.npy: shape \(2, 2, 4\)/);
  await fails(importNpy(store, { dir: mk({ 'a.npy': 'nope' }), dataset: 'x' }), 'CORRUPT_FILE', /a\.npy: not a valid \.npy/);
  assert.equal(store.listDatasets().length, 0);
  assert.deepEqual(readdirSync(root).length > 0, true);
});
