// The direct PNG decoder equals pngjs (the general decoder) pixel for pixel on every filter type and
// colour type it takes, declines the kinds it does not take, and names the file on every corruption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import { decodePngFast, decodePngFastAsync } from './png-fast.js';
import { decodeImageFile, decodeImageFileAsync } from './image-file.js';
import { createRng } from '../../rng.js';
import { pngChunk } from '../../../test/helpers/import-bombs.js';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function writePng(w: number, h: number, colorType: number, data: Uint8Array, filterType: number, bitDepth = 8): Buffer {
  const png = new PNG({ width: w, height: h, colorType, inputColorType: colorType, inputHasAlpha: colorType === 4 || colorType === 6, bitDepth } as ConstructorParameters<typeof PNG>[0]);
  png.data = Buffer.from(data);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: colorType === 4 || colorType === 6, bitDepth, filterType } as Parameters<typeof PNG.sync.write>[1]);
}

/** What pngjs decodes: RGBA reduced to grey when R = G = B everywhere, else RGB (alpha dropped). */
function viaPngjs(buf: Buffer): { channels: number; data: Uint8Array } {
  const p = PNG.sync.read(buf);
  const n = p.width * p.height;
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = p.data[i * 4] === p.data[i * 4 + 1] && p.data[i * 4] === p.data[i * 4 + 2];
  const out = new Uint8Array(grey ? n : n * 3);
  for (let i = 0; i < n; i++) {
    if (grey) out[i] = p.data[i * 4]!;
    else for (let c = 0; c < 3; c++) out[i * 3 + c] = p.data[i * 4 + c]!;
  }
  return { channels: grey ? 1 : 3, data: out };
}

test('equals pngjs on every filter type and colour type, odd sizes and grey-valued colour files', () => {
  const rng = createRng(5);
  let cases = 0;
  for (const colorType of [0, 2, 4, 6]) {
    for (const filterType of [0, 1, 2, 3, 4, -1]) {
      for (const [w, h] of [[7, 5], [1, 1], [33, 3]] as const) {
        for (const greyValued of [false, true]) {
          const ch = CHANNELS[colorType]!;
          const data = new Uint8Array(w * h * ch);
          for (let i = 0; i < w * h; i++) {
            const v = Math.floor(rng.next() * 256);
            for (let c = 0; c < ch; c++) data[i * ch + c] = greyValued && c < 3 && ch >= 3 ? v : Math.floor(rng.next() * 256);
          }
          const buf = writePng(w, h, colorType, data, filterType);
          const fast = decodePngFast(buf, 'x.png');
          assert.ok(fast, `colour type ${colorType} is decoded directly`);
          const ref = viaPngjs(buf);
          assert.equal(fast.channels, ref.channels, `ct ${colorType} filter ${filterType} ${w}x${h}`);
          assert.deepEqual(fast.data, ref.data, `ct ${colorType} filter ${filterType} ${w}x${h} grey-valued ${greyValued}`);
          cases++;
        }
      }
    }
  }
  assert.equal(cases, 144);
});

test('declines 16-bit, palette and interlaced files, which decodeImageFile still reads through pngjs', () => {
  const deep = writePng(3, 2, 0, new Uint8Array(12).fill(200), 0, 16);
  assert.equal(decodePngFast(deep, 'deep.png'), null);
  assert.equal(decodeImageFile(deep, 'deep.png').bitDepth, 16);
  const rgb = writePng(4, 4, 2, new Uint8Array(48).map((_, i) => i * 5), 0);
  const patched = Buffer.concat([rgb.subarray(0, 28), Buffer.from([1]), rgb.subarray(29)]); // IHDR interlace byte
  patched.writeUInt32BE(crc32(patched.subarray(12, 29)) >>> 0, 29);
  assert.equal(decodePngFast(patched, 'adam7.png'), null);
  const palette = handMade(2, 1, new Uint8Array([0, 0, 0]), { colorType: 3 });
  assert.equal(decodePngFast(palette, 'pal.png'), null);
});

function handMade(w: number, h: number, raw: Uint8Array, opts: { end?: boolean; colorType?: number } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = opts.colorType ?? 0;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), ...(opts.end === false ? [] : [pngChunk('IEND', new Uint8Array(0))])]);
}

test('corrupt files are refused with the file named: bad CRC, bad filter, short or overlong data, no IEND', () => {
  const ok = writePng(4, 3, 2, new Uint8Array(36).map((_, i) => i), 1);
  const badCrc = Buffer.from(ok);
  badCrc[40] = badCrc[40]! ^ 0xff;
  assert.throws(() => decodePngFast(badCrc, 'crc.png'), /crc\.png: unreadable PNG \(bad CRC/);
  assert.throws(() => decodePngFast(handMade(2, 2, new Uint8Array([9, 1, 2, 0, 3, 4])), 'f.png'), /f\.png: unreadable PNG \(row 0 has filter type 9\)/);
  assert.throws(() => decodePngFast(handMade(2, 2, new Uint8Array([0, 1, 2])), 's.png'), /s\.png: unreadable PNG \(image data holds 3 of 6 bytes\)/);
  assert.throws(() => decodePngFast(handMade(2, 2, new Uint8Array(6000)), 'big.png'), /big\.png: PNG image data inflates to more than the 6 bytes its header declares/);
  assert.throws(() => decodePngFast(handMade(2, 2, new Uint8Array(6), { end: false }), 'cut.png'), /cut\.png: unreadable PNG \(no IEND/);
  assert.throws(() => decodePngFast(ok.subarray(0, ok.length - 20), 'trunc.png'), /trunc\.png: unreadable PNG/);
  const good = decodePngFast(handMade(2, 2, new Uint8Array([0, 1, 2, 2, 3, 4])), 'g.png')!;
  assert.deepEqual([...good.data], [1, 2, 4, 6], 'Up filter adds the row above');
});

test('the async decode (inflate on the thread pool) gives the same pixels and the same errors', async () => {
  const rng = createRng(9);
  for (const colorType of [0, 2, 6]) {
    const ch = CHANNELS[colorType]!;
    const buf = writePng(19, 11, colorType, new Uint8Array(19 * 11 * ch).map(() => Math.floor(rng.next() * 256)), -1);
    assert.deepEqual(await decodePngFastAsync(buf, 'a.png'), decodePngFast(buf, 'a.png'));
    assert.deepEqual(await decodeImageFileAsync(buf, 'a.png'), decodeImageFile(buf, 'a.png'));
  }
  const deep = writePng(3, 2, 0, new Uint8Array(12).fill(9), 0, 16);
  assert.equal(await decodePngFastAsync(deep, 'deep.png'), null);
  assert.deepEqual(await decodeImageFileAsync(deep, 'deep.png'), decodeImageFile(deep, 'deep.png'));
  await assert.rejects(() => decodePngFastAsync(handMade(2, 2, new Uint8Array(6000)), 'big.png'), /big\.png: PNG image data inflates to more than the 6 bytes its header declares/);
  await assert.rejects(() => decodePngFastAsync(handMade(2, 2, new Uint8Array([0, 1, 2])), 's.png'), /s\.png: unreadable PNG \(image data holds 3 of 6 bytes\)/);
  await assert.rejects(() => decodeImageFileAsync(writePng(9000, 1, 0, new Uint8Array(9000), 0), 'wide.png'), /wide\.png/);
});
