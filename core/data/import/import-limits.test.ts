// Imports next to bombs (docs/security.md §4 Import budgets): decompression bombs (an 8192x8192 PNG
// pair of ~130 KB, 48 of them through the decode workers, NIfTI headers declaring gigabytes) are
// refused per file with the file and the limit named, quickly and with bounded memory (measured as
// the peak RSS of a fresh process running the import), while the good files beside them are imported;
// a FIFO, or a link to a device, in the folder is reported and never opened; a file name too long
// for a sample name is skipped with its name and the import goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createMemoryStore } from '../../store/memory-store.js';
import { encodePng } from '../codecs/image-file.js';
import { writeNifti } from '../codecs/nifti.js';
import { writeNpy } from '../codecs/npy.js';
import { FUNDUS_LABELMAP } from '../masks.js';
import { generateFundusSites } from '../synthetic/fundus.js';
import { niftiHeader, zeroPng } from '../../../test/helpers/import-bombs.js';
import { measureImport } from '../../../test/helpers/measure-import.js';
import { importNifti, importNpy } from './arrays.js';
import { importFolder } from './folder.js';
import { freshDirs } from '../../../test/helpers/fresh-dirs.js';

const { fresh } = freshDirs('fedseg-bombs-');
const [site] = generateFundusSites({ sites: 1, perSite: 3, size: 24, seed: 4 });
const MiB = 1024 ** 2;
/** Memory an import refusing its bombs may grow by: far below one bomb's decoded size (>= 128 MiB raster, ~670 MiB to import). */
const BOUND_MIB = 200;

function writeGoodPairs(dir: string, count = 3): string[] {
  return site!.samples.slice(0, count).map((s) => {
    writeFileSync(join(dir, `${s.name}.png`), encodePng(24, 24, 3, Uint8Array.from(s.image.data)));
    const lab = new Uint8Array(24 * 24).map((_, i) => (s.mask.data[i * 2 + 1] ? 2 : s.mask.data[i * 2] ? 1 : 0));
    writeFileSync(join(dir, `${s.name}_mask.png`), encodePng(24, 24, 1, lab));
    return s.name;
  });
}

test('an 8192x8192 PNG pair is refused from its header with bounded memory; the good pairs are imported', async () => {
  const dir = fresh('png');
  const good = writeGoodPairs(dir);
  const bomb = await zeroPng(8192, 8192);
  writeFileSync(join(dir, 'scan_017.png'), bomb);
  writeFileSync(join(dir, 'scan_017_mask.png'), bomb);
  const m = await measureImport({ format: 'folder', options: { images: dir, convention: 'FUNDUS_LABELMAP', dataset: 'd', skipBad: true } });
  assert.equal(m.error, undefined, m.error?.message);
  assert.deepEqual(m.report!.rejected.map((r) => [basename(r.file), r.message.replace(dir + '/', '')]), [['scan_017.png', 'scan_017.png: 67.1 megapixels (8192x8192), over the 64 megapixel limit per image']]);
  assert.equal(m.report!.datasets[0]!.samples, good.length);
  assert.ok(m.peakRssGrowthMiB < BOUND_MIB, `peak RSS grew by ${m.peakRssGrowthMiB.toFixed(0)} MiB`);
  assert.ok(m.arrayBuffersGrowthMiB < BOUND_MIB, `ArrayBuffers grew by ${m.arrayBuffersGrowthMiB.toFixed(0)} MiB`);
  // Without skip-bad the import fails naming the bomb and the limit, and stores nothing.
  const store = createMemoryStore();
  await assert.rejects(importFolder(store, { images: dir, convention: FUNDUS_LABELMAP, dataset: 'd' }), /1 of 4 file\(s\) cannot be imported \(.*scan_017\.png: 67\.1 megapixels \(8192x8192\), over the 64 megapixel limit per image\)/);
  assert.equal(store.listDatasets().length, 0);
});

test('48 bomb pairs (~6 MB on disk) through the decode workers: all refused, memory bounded, good pairs kept', async () => {
  const dir = fresh('png48');
  const good = writeGoodPairs(dir);
  const bomb = await zeroPng(8192, 8192);
  for (let i = 0; i < 48; i++) {
    writeFileSync(join(dir, `scan_${String(i).padStart(3, '0')}.png`), bomb);
    writeFileSync(join(dir, `scan_${String(i).padStart(3, '0')}_mask.png`), bomb);
  }
  const m = await measureImport({ format: 'folder', options: { images: dir, convention: 'FUNDUS_LABELMAP', dataset: 'd', skipBad: true, decodeWorkers: 2 } });
  assert.equal(m.error, undefined, m.error?.message);
  assert.equal(m.report!.rejected.length, 48);
  assert.ok(m.report!.rejected.every((r) => /megapixel limit per image/.test(r.message)));
  assert.equal(m.report!.datasets[0]!.samples, good.length);
  assert.ok(m.peakRssGrowthMiB < BOUND_MIB, `peak RSS grew by ${m.peakRssGrowthMiB.toFixed(0)} MiB`);
});

test('NIfTI headers declaring gigabytes are refused before inflating; the good case is imported', async () => {
  const dir = fresh('nifti');
  const vol = (data: Float32Array | Uint8Array) => writeNifti({ nx: 4, ny: 3, nz: 2, spacing: [1, 1, 1], data });
  writeFileSync(join(dir, 'Case00.nii.gz'), vol(new Float32Array(24).map((_, i) => i)));
  writeFileSync(join(dir, 'Case00_segmentation.nii.gz'), vol(new Uint8Array(24).fill(1)));
  // 1024 x 1024 x 100 float32 (400 MiB) declared by ~1 KB of gzip; and 30000^3 int16 voxels.
  const liar = gzipSync(Buffer.concat([niftiHeader(1024, 1024, 100, 16, 32), Buffer.alloc(4096)]));
  writeFileSync(join(dir, 'Liar.nii.gz'), liar);
  writeFileSync(join(dir, 'Liar_segmentation.nii.gz'), liar);
  const huge = gzipSync(Buffer.concat([niftiHeader(30000, 30000, 30000), Buffer.alloc(1024)]));
  writeFileSync(join(dir, 'Huge.nii.gz'), huge);
  writeFileSync(join(dir, 'Huge_segmentation.nii.gz'), huge);
  const m = await measureImport({ format: 'nifti', options: { dir, dataset: 'n', skipBad: true } });
  assert.equal(m.error, undefined, m.error?.message);
  const rej = Object.fromEntries(m.report!.rejected.map((r) => [basename(r.file), r.message.replace(dir + '/', '')]));
  assert.match(rej['Liar.nii.gz']!, /^Liar\.nii\.gz: header declares 1024x1024x100 voxels of 4 bytes \(400 MiB\), more than .* of gzip data can hold$/);
  assert.match(rej['Huge.nii.gz']!, /^Huge\.nii\.gz: 27000000\.0 megavoxels \(30000x30000x30000\), over the 128 megavoxel limit per volume$/);
  assert.equal(m.report!.datasets[0]!.samples, 2, 'Case00: two slices');
  assert.ok(m.peakRssGrowthMiB < BOUND_MIB, `peak RSS grew by ${m.peakRssGrowthMiB.toFixed(0)} MiB`);
});

test('a FIFO or a link to a device in the folder is reported by name and never opened; the import finishes', { timeout: 60_000 }, async () => {
  const dir = fresh('fifo');
  const good = writeGoodPairs(dir, 2);
  // Nothing ever writes to these FIFOs: opening one for reading would block the import forever.
  execFileSync('mkfifo', [join(dir, 'x.png'), join(dir, 'y.png'), join(dir, 'Case01.nii.gz')]);
  writeFileSync(join(dir, 'w.png'), encodePng(24, 24, 1, new Uint8Array(576)));
  execFileSync('mkfifo', [join(dir, 'w_mask.png')]);
  symlinkSync('/dev/zero', join(dir, 'y_mask.png'));
  symlinkSync(join(dir, 'nowhere.png'), join(dir, 'gone_mask.png'));
  for (const decodeWorkers of [0, 2]) {
    const store = createMemoryStore();
    const rep = await importFolder(store, { images: dir, convention: FUNDUS_LABELMAP, dataset: `f${decodeWorkers}`, decodeWorkers });
    assert.equal(rep.datasets[0]!.samples, good.length);
    const skipped = Object.fromEntries(rep.skipped.map((s) => [basename(s.file), s.reason]));
    assert.equal(skipped['x.png'], 'not a regular file but a FIFO (named pipe); skipped without opening it');
    assert.equal(skipped['w_mask.png'], 'not a regular file but a FIFO (named pipe); skipped without opening it');
    assert.equal(skipped['Case01.nii.gz'], 'not a regular file but a FIFO (named pipe); skipped without opening it');
    assert.equal(skipped['y_mask.png'], 'symbolic link to a file that is not a regular file but a character device; skipped without opening it');
    assert.equal(skipped['gone_mask.png'], 'broken symbolic link (its target does not exist)');
    assert.match(skipped['w.png']!, /^no mask found/);
  }
  // The NIfTI importer lists the same way.
  const nd = fresh('fifo-nifti');
  writeFileSync(join(nd, 'Case00.nii.gz'), writeNifti({ nx: 2, ny: 2, nz: 1, spacing: [1, 1, 1], data: new Float32Array(4) }));
  writeFileSync(join(nd, 'Case00_seg.nii.gz'), writeNifti({ nx: 2, ny: 2, nz: 1, spacing: [1, 1, 1], data: new Uint8Array(4) }));
  execFileSync('mkfifo', [join(nd, 'Case01.nii.gz'), join(nd, 'Case00_label.nii.gz')]);
  const rn = await importNifti(createMemoryStore(), { dir: nd, dataset: 'n' });
  assert.equal(rn.datasets[0]!.samples, 1);
  assert.deepEqual(rn.skipped.filter((s) => /FIFO/.test(s.reason)).map((s) => basename(s.file)), ['Case00_label.nii.gz', 'Case01.nii.gz']);
});

test('a file name too long for a sample name is skipped with its name; the rest is imported without skip-bad', async () => {
  const dir = fresh('long');
  const good = writeGoodPairs(dir, 2);
  const long = 'p'.repeat(210);
  const px = encodePng(24, 24, 1, new Uint8Array(576));
  writeFileSync(join(dir, `${long}.png`), px);
  writeFileSync(join(dir, `${long}_mask.png`), px);
  const store = createMemoryStore();
  const rep = await importFolder(store, { images: dir, convention: FUNDUS_LABELMAP, dataset: 'l' });
  assert.deepEqual(store.loadSamples(rep.datasets[0]!.id!).map((s) => s.name), good);
  assert.deepEqual(rep.skipped.map((s) => [basename(s.file), s.reason]), [[`${long}.png`, 'its name is 210 characters, over the 200-character limit for sample names; rename the file to import it']]);
  // NIfTI slices are named <case>-s000: a 197-character case name is 202 with it.
  const nd = fresh('long-nifti');
  const stem = 'c'.repeat(197);
  const v = (data: Float32Array | Uint8Array) => writeNifti({ nx: 2, ny: 2, nz: 1, spacing: [1, 1, 1], data });
  writeFileSync(join(nd, `${stem}.nii.gz`), v(new Float32Array(4)));
  writeFileSync(join(nd, `${stem}_seg.nii.gz`), v(new Uint8Array(4)));
  writeFileSync(join(nd, 'Case00.nii.gz'), v(new Float32Array(4)));
  writeFileSync(join(nd, 'Case00_seg.nii.gz'), v(new Uint8Array(4)));
  const rn = await importNifti(createMemoryStore(), { dir: nd, dataset: 'n' });
  assert.equal(rn.datasets[0]!.samples, 1);
  assert.match(rn.skipped.find((s) => basename(s.file) === `${stem}.nii.gz`)!.reason, /sample names \("c{24}…-s000"\) would be 202 characters, over the 200-character limit/);
  // .npy: the name is the file name without .npy.
  const pd = fresh('long-npy');
  const arr = writeNpy([2, 2, 5], new Float32Array(20));
  writeFileSync(join(pd, `${'n'.repeat(201)}.npy`), arr);
  writeFileSync(join(pd, 'ok.npy'), arr);
  const rp = await importNpy(createMemoryStore(), { dir: pd, dataset: 'p' });
  assert.equal(rp.datasets[0]!.samples, 1);
  assert.match(rp.skipped[0]!.reason, /its name is 201 characters/);
});

test('limits are import options: a lower per-file limit refuses ordinary files by name', async () => {
  const dir = fresh('opt');
  writeGoodPairs(dir, 2);
  const rep = await importFolder(null, { images: dir, convention: FUNDUS_LABELMAP, dataset: 'o', dryRun: true, limits: { maxMegapixels: 0.0005 } });
  assert.equal(rep.problems.length, 2);
  assert.match(rep.problems[0]!.message, /0\.000576 megapixels \(24x24\), over the 0\.0005 megapixel limit per image/);
  await assert.rejects(importFolder(null, { images: dir, convention: FUNDUS_LABELMAP, dataset: 'o', dryRun: true, limits: { maxDecodedBytes: 0 } }), /import limit maxDecodedBytes must be a positive number/);
  void MiB;
});
