// Codecs: .npy against numpy-written fixtures (make_npy.py), NIfTI against a spec-written fixture
// (make_nifti.py), writer/reader round trips, PNG/JPEG decoding and corrupt-file messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FedSegError } from '../../contract/errors.js';
import { decodeImageFile, encodePng } from './image-file.js';
import { readNifti, writeNifti } from './nifti.js';
import { readNpy, writeNpy } from './npy.js';

const fx = (f: string): Uint8Array => readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', f));

function fails(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof FedSegError && e.code === code && re.test(e.message));
}

test('npy: reads numpy fixtures (float32, fortran float64, big-endian int16, uint8)', () => {
  const a = readNpy(fx('f4_2x3x2.npy'), 'f4');
  assert.deepEqual(a.shape, [2, 3, 2]);
  assert.deepEqual(Array.from(a.data), Array.from({ length: 12 }, (_, i) => i / 4 - 1));
  const f = readNpy(fx('f8_fortran_3x2.npy'), 'f8');
  assert.deepEqual([f.dtype, f.shape], ['float64', [3, 2]]);
  assert.deepEqual(Array.from(f.data), [1.5, -2, 3, 4, 5, 6.25]);
  assert.deepEqual(Array.from(readNpy(fx('i2_be_4.npy'), 'i2').data), [-300, 0, 7, 32000]);
  assert.deepEqual(Array.from(readNpy(fx('u1_2x2.npy'), 'u1').data), [0, 255, 128, 1]);
});

test('npy: writer round trip and corrupt files named', () => {
  const data = new Float32Array([0.5, -1, 2, 3, 4, 5]);
  const back = readNpy(writeNpy([1, 2, 3], data), 'x');
  assert.deepEqual(back.shape, [1, 2, 3]);
  assert.deepEqual(Array.from(back.data), Array.from(data));
  assert.equal((writeNpy([3], new Uint8Array(3)).length - 3) % 64, 0, 'header padded to 64 bytes');
  fails(() => readNpy(new Uint8Array([1, 2, 3]), 'bad.npy'), 'CORRUPT_FILE', /bad\.npy.*magic/);
  const full = writeNpy([2, 3], data);
  fails(() => readNpy(full.subarray(0, full.length - 4), 'cut.npy'), 'CORRUPT_FILE', /cut\.npy.*truncated/);
});

test('NIfTI: reads a spec-written int16 volume with scaling and spacing; writer round trip', () => {
  const v = readNifti(fx('int16_4x3x2.nii.gz'), 'fixture');
  assert.deepEqual([v.nx, v.ny, v.nz], [4, 3, 2]);
  assert.deepEqual(v.spacing, [0.5, 0.75, 3]);
  assert.deepEqual(Array.from(v.data), Array.from({ length: 24 }, (_, i) => (i * 3 - 20) * 0.5 + 10));
  const data = new Float32Array(5 * 4 * 3).map((_, i) => i * 0.25 - 3);
  for (const gz of [true, false]) {
    const w = readNifti(writeNifti({ nx: 5, ny: 4, nz: 3, spacing: [0.6, 0.7, 2.5], data }, gz), 'rt');
    assert.deepEqual([w.nx, w.ny, w.nz], [5, 4, 3]);
    assert.ok(Math.abs(w.spacing[0] - 0.6) < 1e-6 && Math.abs(w.spacing[2] - 2.5) < 1e-6);
    assert.deepEqual(Array.from(w.data), Array.from(data));
  }
  fails(() => readNifti(new Uint8Array(400), 'zeros.nii'), 'CORRUPT_FILE', /zeros\.nii.*not a NIfTI/);
  fails(() => readNifti(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), 'x.nii.gz'), 'CORRUPT_FILE', /x\.nii\.gz.*gzip/);
  const ok = writeNifti({ nx: 5, ny: 4, nz: 3, spacing: [1, 1, 1], data }, false);
  fails(() => readNifti(ok.subarray(0, 400), 'short.nii'), 'CORRUPT_FILE', /short\.nii/);
});

test('PNG/JPEG: decode grey/colour, corrupt and unsupported files named', () => {
  const rgb = new Uint8Array(4 * 3 * 3).map((_, i) => (i * 29) % 256);
  const c = decodeImageFile(encodePng(4, 3, 3, rgb), 'c.png');
  assert.deepEqual([c.width, c.height, c.channels, c.bitDepth], [4, 3, 3, 8]);
  assert.deepEqual(Array.from(c.data), Array.from(rgb));
  const g = decodeImageFile(encodePng(4, 3, 1, rgb.subarray(0, 12)), 'g.png');
  assert.equal(g.channels, 1);
  assert.deepEqual(Array.from(g.data), Array.from(rgb.subarray(0, 12)));
  // 16-bit grey PNG keeps its full range.
  const p16 = new PNG({ width: 2, height: 2, bitDepth: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false } as ConstructorParameters<typeof PNG>[0]);
  (p16 as unknown as { data: Uint16Array }).data = new Uint16Array([0, 1000, 40000, 65535]);
  const w16 = PNG.sync.write(p16, { bitDepth: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false } as Parameters<typeof PNG.sync.write>[1]);
  const d16 = decodeImageFile(w16, 'deep.png');
  assert.deepEqual([d16.bitDepth, d16.channels, Array.from(d16.data)], [16, 1, [0, 1000, 40000, 65535]]);
  const jpg = jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(8 * 8 * 4, 200) }, 95).data;
  const j = decodeImageFile(jpg, 'a.jpg');
  assert.deepEqual([j.width, j.height, j.channels], [8, 8, 1]);
  assert.ok(Math.abs(j.data[0]! - 200) <= 2);
  const png = encodePng(4, 3, 3, rgb);
  fails(() => decodeImageFile(png.subarray(0, 40), 'trunc.png'), 'CORRUPT_FILE', /trunc\.png: unreadable PNG/);
  fails(() => decodeImageFile(new Uint8Array(0), 'empty.png'), 'CORRUPT_FILE', /empty\.png: file is empty/);
  fails(() => decodeImageFile(new TextEncoder().encode('hello'), 'notes.txt'), 'UNSUPPORTED', /notes\.txt: not a PNG or JPEG/);
  fails(() => decodeImageFile(jpg.subarray(0, 30), 'cut.jpg'), 'CORRUPT_FILE', /cut\.jpg: unreadable JPEG/);
});
