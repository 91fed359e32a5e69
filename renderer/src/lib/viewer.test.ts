// Viewer helpers: the canvas <-> image transform, window/level (DICOM linear VOI function), percentile
// presets, and the readout of values under the pointer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyWindowLevel, canvasToImage, clampWindowLevel, fieldAt, formatReadout, formatValue, formatWindowLevel, FULL_RANGE, isViewerKey, labelsAt,
  pixelValues, presetWindow, rasterPercentiles, readoutAt, viewTransform, windowFromRange, windowLut,
} from './viewer.js';

const grey = (values: number[], width = values.length) => ({ width, height: values.length / width, channels: 1 as const, pixels: Uint8Array.from(values) });

test('at zoom 1 the image fills the canvas; every canvas pixel maps back to the image pixel drawn there', () => {
  const t = viewTransform(384, 32, 32, 1, { x: 0, y: 0 });
  assert.deepEqual(t, { scale: 12, tx: 0, ty: 0 });
  assert.deepEqual(canvasToImage(t, 32, 32, 0, 0), { x: 0, y: 0 });
  assert.deepEqual(canvasToImage(t, 32, 32, 383.9, 383.9), { x: 31, y: 31 });
  assert.deepEqual(canvasToImage(t, 32, 32, 12 * 5 + 11.9, 12 * 7), { x: 5, y: 7 });
  assert.equal(canvasToImage(t, 32, 32, -0.1, 10), null);
  assert.equal(canvasToImage(t, 32, 32, 384, 10), null);
});

test('zoom scales about the canvas centre and pan shifts; a wide image is centred vertically', () => {
  const z = viewTransform(100, 10, 10, 2, { x: 0, y: 0 });
  assert.deepEqual(z, { scale: 20, tx: -50, ty: -50 });
  // The centre of the canvas still shows the centre of the image.
  assert.deepEqual(canvasToImage(z, 10, 10, 50, 50), { x: 5, y: 5 });
  const p = viewTransform(100, 10, 10, 1, { x: 30, y: -20 });
  assert.deepEqual(canvasToImage(p, 10, 10, 29.9, 0), null);
  assert.deepEqual(canvasToImage(p, 10, 10, 35, 0), { x: 0, y: 2 });
  const wide = viewTransform(100, 20, 10, 1, { x: 0, y: 0 });
  assert.deepEqual(wide, { scale: 5, tx: 0, ty: 25 });
  assert.equal(canvasToImage(wide, 20, 10, 50, 10), null, 'above the image');
  assert.deepEqual(canvasToImage(wide, 20, 10, 50, 30), { x: 10, y: 1 });
});

test('W 256 L 128 is the identity on 8-bit data; a narrow window clips and stretches', () => {
  const id = windowLut(FULL_RANGE);
  for (let v = 0; v < 256; v++) assert.equal(id[v], v);
  const lut = windowLut({ window: 101, level: 100.5 });
  // Ends of the linear part: c - 0.5 -/+ (w - 1) / 2 = 50 and 150.
  assert.equal(lut[0], 0);
  assert.equal(lut[50], 0);
  assert.equal(lut[100], 128);
  assert.equal(lut[150], 255);
  assert.equal(lut[151], 255);
  for (let v = 51; v <= 150; v++) assert.ok(lut[v]! >= lut[v - 1]!, 'monotone');
  // Window 1 is a threshold at the level.
  const th = windowLut({ window: 1, level: 100 });
  assert.equal(th[99], 0);
  assert.equal(th[100], 255);
});

test('window/level applies to every colour channel and keeps alpha; the source pixels are not changed', () => {
  const src = new Uint8ClampedArray([10, 100, 200, 77]);
  const out = applyWindowLevel(src, windowFromRange(100, 200));
  assert.deepEqual(Array.from(out), [0, 0, 255, 77]);
  assert.deepEqual(Array.from(src), [10, 100, 200, 77]);
});

test('windowFromRange maps the range ends to black and white', () => {
  assert.deepEqual(windowFromRange(0, 255), FULL_RANGE);
  const wl = windowFromRange(40, 200);
  const lut = windowLut(wl);
  assert.equal(lut[40], 0);
  assert.equal(lut[200], 255);
  assert.equal(formatWindowLevel(wl), 'W 161 L 120.5');
  assert.equal(formatWindowLevel(FULL_RANGE), 'W 256 L 128');
  assert.deepEqual(clampWindowLevel({ window: 0, level: 9999 }), { window: 1, level: 767 });
  assert.deepEqual(clampWindowLevel({ window: 10.4, level: 3.3 }), { window: 10, level: 3.5 });
});

test('percentiles are nearest-rank over all colour channels; alpha is not data', () => {
  const r = grey(Array.from({ length: 100 }, (_, i) => i), 10);
  assert.deepEqual(rasterPercentiles(r, [0, 1, 50, 99, 100]), [0, 0, 49, 98, 99]);
  const rgba = { width: 2, height: 1, channels: 4 as const, pixels: Uint8Array.from([10, 20, 30, 255, 40, 50, 60, 255]) };
  assert.deepEqual(rasterPercentiles(rgba, [0, 100]), [10, 60]);
  const auto = presetWindow(r, 'auto');
  assert.deepEqual(auto, windowFromRange(0, 98));
  assert.deepEqual(presetWindow(r, 'minmax'), windowFromRange(0, 99));
  assert.deepEqual(presetWindow(r, 'full'), FULL_RANGE);
  assert.deepEqual(presetWindow(r, 'manual', { window: 7, level: 9 }), { window: 7, level: 9 });
  assert.deepEqual(presetWindow(null, 'auto'), FULL_RANGE);
});

test('the readout names the pixel, its values, the labels of each mask there and the field value', () => {
  const img = { width: 2, height: 2, channels: 3 as const, pixels: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
  assert.deepEqual(pixelValues(img, 1, 1), [10, 11, 12]);
  const pred = { width: 2, height: 2, classes: 2, data: Uint8Array.from([0, 0, 1, 0, 0, 0, 1, 1]) };
  const ref = { width: 2, height: 2, classes: 2, data: Uint8Array.from([0, 0, 1, 0, 1, 0, 1, 0]) };
  assert.deepEqual(labelsAt(pred, 1, 1), [0, 1]);
  assert.deepEqual(labelsAt(pred, 5, 5), []);
  // A 1x1 field stretched over the image, and a 4x4 field sampled at the pixel's centre.
  const f4 = { width: 4, height: 4, data: Float32Array.from({ length: 16 }, (_, i) => i), min: 0, max: 15 };
  assert.equal(fieldAt(f4, 2, 2, 1, 1), 15);
  assert.equal(fieldAt(f4, 2, 2, 0, 0), 5);
  const names = ['disc', 'cup'];
  const r = readoutAt(img, 1, 1, [{ name: 'prediction', mask: pred, classNames: names }, { name: 'reference', mask: ref, classNames: names }], [{ name: 'rate', field: f4 }]);
  assert.equal(formatReadout(r), 'x 1, y 1 · RGB 10, 11, 12 · prediction: disc, cup · reference: disc · rate 15.0');
  const g = readoutAt(grey([0, 200]), 1, 0, [{ name: 'mask', mask: { width: 2, height: 1, classes: 1, data: Uint8Array.from([1, 0]) }, classNames: [] }], []);
  assert.equal(formatReadout(g), 'x 1, y 0 · value 200 · mask: background');
  assert.equal(formatValue(0.0123), '0.012');
  assert.equal(formatValue(2.345), '2.35');
  assert.equal(formatValue(0), '0');
});

test('viewer keys are refused inside form fields and with browser shortcut modifiers', () => {
  const field = { closest: (sel: string) => (sel.includes('input') ? {} : null) };
  const button = { closest: () => null };
  const key = (target: unknown, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) =>
    isViewerKey({ target: target as EventTarget, ctrlKey: false, metaKey: false, altKey: false, ...mods });
  assert.equal(key(button), true);
  assert.equal(key(null), true);
  assert.equal(key(field), false);
  assert.equal(key(button, { altKey: true }), false);
  assert.equal(key(button, { ctrlKey: true }), false);
});
