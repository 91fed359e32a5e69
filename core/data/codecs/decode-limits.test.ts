// Per-file decode limits: every bomb is refused from its header, before its decoded size is
// allocated, with a message naming the file and the limit (docs/security.md §4 Import budgets):
// an 8192x8192 PNG, a JPEG whose frame header claims 60000x60000, an interlaced PNG whose data
// inflates past its header, NIfTI headers that declare more than the limit or than their gzip data
// can hold, a .nii.gz that inflates past its header, a .npy that declares more than the file holds;
// and a FIFO is refused without blocking.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { FedSegError } from '../../contract/errors.js';
import { niftiHeader, zeroNiftiGz, zeroPng } from '../../../test/helpers/import-bombs.js';
import { decodeLimits, formatBytes } from './decode-limits.js';
import { readRegularFile } from './file-read.js';
import { decodeImageFile, encodePng, probeImageFile, rasterBytes, readImageHeader } from './image-file.js';
import { readNifti, readNiftiLayout, writeNifti } from './nifti.js';
import { readNpy, writeNpy } from './npy.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-limits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fails(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FedSegError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FedSegError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('formatBytes and limits', () => {
  assert.deepEqual([formatBytes(300), formatBytes(65 * 1024), formatBytes(1.5 * 1024 ** 3), formatBytes(2 * 1024 ** 3)], ['300 bytes', '65 KiB', '1.5 GiB', '2 GiB']);
  assert.throws(() => decodeLimits({ maxFileBytes: 0 }), /maxFileBytes must be a positive number/);
});

test('PNG: an 8192x8192 all-zero file (~65 KB) is refused from its IHDR, by decode and by probe', async () => {
  const bomb = await zeroPng(8192, 8192);
  assert.ok(bomb.length < 100 * 1024, `bomb is ${bomb.length} bytes`);
  const h = readImageHeader(bomb, 'scan_017.png');
  assert.deepEqual([h.width, h.height, h.channels, rasterBytes(h)], [8192, 8192, 1, 8192 * 8192]);
  fails(() => decodeImageFile(bomb, 'scan_017.png'), 'INVALID_INPUT', /^scan_017\.png: 67\.1 megapixels \(8192x8192\), over the 64 megapixel limit per image$/);
  writeFileSync(join(dir, 'scan_017.png'), bomb);
  await rejects(probeImageFile(join(dir, 'scan_017.png')), 'INVALID_INPUT', /scan_017\.png: 67\.1 megapixels/);
  // A lower limit applies to ordinary files too; a file within it decodes.
  const small = encodePng(40, 30, 1, new Uint8Array(1200));
  fails(() => decodeImageFile(small, 's.png', decodeLimits({ maxMegapixels: 0.001 })), 'INVALID_INPUT', /s\.png: 0\.00120 megapixels \(40x30\), over the 0\.001 megapixel limit/);
  assert.equal(decodeImageFile(small, 's.png').width, 40);
});

/** A grey 8-bit Adam7-interlaced PNG of w x h (pngjs writes no interlaced files). */
function interlacedPng(w: number, h: number, px: Uint8Array): Buffer {
  const rows: number[] = [];
  for (const [xs, ys, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const) {
    if (xs >= w || ys >= h) continue;
    for (let y = ys; y < h; y += dy) {
      rows.push(0);
      for (let x = xs; x < w; x += dx) rows.push(px[y * w + x]!);
    }
  }
  const plain = encodePng(w, h, 1, px);
  const ihdr = Buffer.from(plain.subarray(0, 33));
  ihdr[28] = 1;
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(ihdr.subarray(12, 29)) >>> 0);
  crc.copy(ihdr, 29);
  const idat = deflateSync(Buffer.from(rows));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(idat.length);
  const body = Buffer.concat([Buffer.from('IDAT'), idat]);
  const c2 = Buffer.alloc(4);
  c2.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([ihdr, len, body, c2, plain.subarray(plain.length - 12)]);
}

test('PNG: an honest interlaced file decodes; interlaced data that inflates past IHDR stops at the declared size', async () => {
  const px = new Uint8Array(13 * 7).map((_, i) => (i * 37) % 256);
  const r = decodeImageFile(interlacedPng(13, 7, px), 'adam7.png');
  assert.deepEqual([r.width, r.height, Array.from(r.data)], [13, 7, Array.from(px)]);
  // IHDR says 64x64 (about 4.6 KB of interlaced rows); the stream holds 32 MiB of zeros.
  const liar = await zeroPng(64, 64, { interlaced: true, dataBytes: 32 * 1024 ** 2 });
  fails(() => decodeImageFile(liar, 'liar.png'), 'CORRUPT_FILE', /liar\.png: PNG image data inflates to more than the \d+ bytes its header declares/);
});

test('JPEG: a frame header claiming 60000x60000 is refused before jpeg-js runs, from a file and from bytes', async () => {
  const jpg = Buffer.from(jpeg.encode({ width: 16, height: 8, data: Buffer.alloc(16 * 8 * 4, 90) }, 90).data);
  const ok = readImageHeader(jpg, 'ok.jpg');
  assert.deepEqual([ok.format, ok.width, ok.height], ['jpeg', 16, 8]);
  const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
  const big = Buffer.from(jpg);
  big.writeUInt16BE(60000, sof + 5);
  big.writeUInt16BE(60000, sof + 7);
  fails(() => decodeImageFile(big, 'huge.jpg'), 'INVALID_INPUT', /^huge\.jpg: 3600\.0 megapixels \(60000x60000\), over the 64 megapixel limit per image$/);
  // Behind 200 KiB of APP segments the probe still finds the frame header, reading windows only.
  const app = Buffer.alloc(4 + 65533);
  app[0] = 0xff;
  app[1] = 0xe1;
  app.writeUInt16BE(65535, 2);
  const padded = Buffer.concat([big.subarray(0, 2), app, app, app, big.subarray(2)]);
  writeFileSync(join(dir, 'huge.jpg'), padded);
  await rejects(probeImageFile(join(dir, 'huge.jpg')), 'INVALID_INPUT', /huge\.jpg: 3600\.0 megapixels/);
  fails(() => decodeImageFile(jpg.subarray(0, 30), 'cut.jpg'), 'CORRUPT_FILE', /cut\.jpg: unreadable JPEG/);
});

test('NIfTI: headers over the limit or over what their gzip can hold are refused before inflating', async () => {
  // 30000 x 30000 x 30000 int16: refused by the voxel limit from the header alone.
  const huge = gzipSync(Buffer.concat([niftiHeader(30000, 30000, 30000), Buffer.alloc(1024)]));
  fails(() => readNifti(huge, 'huge.nii.gz'), 'INVALID_INPUT', /^huge\.nii\.gz: 27000000\.0 megavoxels \(30000x30000x30000\), over the 128 megavoxel limit per volume$/);
  // 1024 x 1024 x 100 float32 is within the voxel limit, but 400 MiB cannot come out of ~1 KB of gzip.
  const liar = gzipSync(Buffer.concat([niftiHeader(1024, 1024, 100, 16, 32), Buffer.alloc(4096)]));
  fails(() => readNifti(liar, 'liar.nii.gz'), 'CORRUPT_FILE', /liar\.nii\.gz: header declares 1024x1024x100 voxels of 4 bytes \(400 MiB\), more than \d+ bytes of gzip data can hold/);
  // A header that declares 64^3 uint8 voxels over a stream of 48 MiB: inflation stops at the declared size.
  const over = await zeroNiftiGz(64, 64, 64, 48 * 1024 ** 2);
  const lay = readNiftiLayout(over, 'over.nii.gz');
  assert.deepEqual([lay.nx, lay.ny, lay.nz, lay.bytesPerVoxel, lay.declaredBytes], [64, 64, 64, 2, 352 + 64 ** 3 * 2]);
  fails(() => readNifti(over, 'over.nii.gz'), 'CORRUPT_FILE', /over\.nii\.gz: decompresses to more than the 512 KiB its header declares/);
  // Uncompressed: the declared voxels must be in the file; dims and datatype size are checked.
  const plain = Buffer.concat([niftiHeader(100, 100, 100), Buffer.alloc(1000)]);
  fails(() => readNifti(plain, 'short.nii'), 'CORRUPT_FILE', /short\.nii: voxel data truncated \(1000 bytes for 1000000 voxels of 2 bytes\)/);
  const badBitpix = Buffer.concat([niftiHeader(2, 2, 2, 4, 8), Buffer.alloc(16)]);
  fails(() => readNifti(badBitpix, 'bitpix.nii'), 'CORRUPT_FILE', /bitpix\.nii: bitpix 8 does not match datatype 4 \(16 bits per voxel\)/);
  const zeroDim = Buffer.concat([niftiHeader(2, 0, 2), Buffer.alloc(16)]);
  fails(() => readNifti(zeroDim, 'dim.nii'), 'CORRUPT_FILE', /dim\.nii: bad dimensions 2x0x2/);
  // Over the per-file byte limit once gunzipped, declared in the header.
  const big = await zeroNiftiGz(256, 256, 64);
  fails(() => readNifti(big, 'big.nii.gz', decodeLimits({ maxFileBytes: 1024 ** 2 })), 'INVALID_INPUT', /big\.nii\.gz: 8\.0 MiB of voxels declared by its header \(256x256x64 x 2 bytes\), over the 1 MiB limit per file/);
  // An honest volume still reads, into float32 (round trip of the writer; float64 is gone).
  const v = readNifti(writeNifti({ nx: 3, ny: 2, nz: 2, spacing: [1, 1, 1], data: new Float32Array(12).map((_, i) => i - 0.5) }), 'ok.nii.gz');
  assert.ok(v.data instanceof Float32Array);
  assert.deepEqual(Array.from(v.data), Array.from({ length: 12 }, (_, i) => i - 0.5));
});

test('.npy: values are float32; a header declaring more than the file or the limit is refused first', () => {
  const a = readNpy(writeNpy([2, 3], new Float32Array([1, 2, 3, 4, 5, 6.5])), 'a.npy');
  assert.ok(a.data instanceof Float32Array);
  const head = Buffer.from(writeNpy([2, 3], new Float32Array(6)));
  const liar = Buffer.from(head.toString('latin1').replace("'shape': (2, 3)", "'shape': (9, 9)"), 'latin1').subarray(0, head.length - 24);
  fails(() => readNpy(liar, 'liar.npy'), 'CORRUPT_FILE', /liar\.npy: not a valid \.npy file \(data truncated: 0 bytes for 81 x 4-byte values\)/);
  fails(() => readNpy(head, 'many.npy', 5), 'INVALID_INPUT', /many\.npy: \.npy array has 6 values, more than the limit 5/);
});

test('files: a FIFO, a device and an oversized file are refused without being opened or read', async () => {
  const fifo = join(dir, 'x.png');
  execFileSync('mkfifo', [fifo]);
  // Nothing writes to this FIFO: a plain readFile would block forever; the test finishing is the check.
  await rejects(readRegularFile(fifo, decodeLimits()), 'INVALID_INPUT', /x\.png: not a regular file but a FIFO \(named pipe\); skipped without opening it/);
  await rejects(probeImageFile(fifo), 'INVALID_INPUT', /x\.png: not a regular file but a FIFO/);
  symlinkSync('/dev/zero', join(dir, 'zero.png'));
  await rejects(readRegularFile(join(dir, 'zero.png'), decodeLimits()), 'INVALID_INPUT', /zero\.png: not a regular file but a character device/);
  writeFileSync(join(dir, 'big.png'), Buffer.alloc(4096));
  await rejects(readRegularFile(join(dir, 'big.png'), { maxFileBytes: 1000 }), 'INVALID_INPUT', /big\.png: 4 KiB on disk, over the 1000 bytes limit per file/);
  await rejects(readRegularFile(join(dir, 'missing.png'), decodeLimits()), 'IO_ERROR', /missing\.png: cannot read \(the file does not exist\)/);
});
