import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centredWindow, classColour, contourRgba, CONTOUR_COLOUR, errorColours, errorMapRgba, fieldToRgba, formatBytes, formatDuration, heatColour, histogram, maskFractions, maskOverlayRgba, outlineOf, rasterToRgba } from './draw.js';

// 4x4 mask, 2 classes: class 0 = 3x3 block at (0,0)..(2,2), class 1 = the single pixel (1,1).
function mask() {
  const data = new Uint8Array(4 * 4 * 2);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) data[(y * 4 + x) * 2] = 1;
  data[(1 * 4 + 1) * 2 + 1] = 1;
  return { width: 4, height: 4, classes: 2, data };
}

test('grey and RGB rasters become opaque RGBA', () => {
  assert.deepEqual(Array.from(rasterToRgba({ width: 1, height: 1, channels: 1, pixels: new Uint8Array([7]) })), [7, 7, 7, 255]);
  assert.deepEqual(Array.from(rasterToRgba({ width: 1, height: 1, channels: 3, pixels: new Uint8Array([1, 2, 3]) })), [1, 2, 3, 255]);
});

test('outline = mask pixels that touch the outside (4-neighbourhood, border counts)', () => {
  const o = outlineOf(mask(), 0);
  const expected = [1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0];
  assert.deepEqual(Array.from(o), expected);
});

test('overlay: fill paints classes in order, hidden classes are skipped, outline mode leaves the inside clear', () => {
  const fill = maskOverlayRgba(mask(), { mode: 'fill' });
  const at = (img: Uint8ClampedArray, x: number, y: number) => Array.from(img.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4));
  assert.deepEqual(at(fill, 1, 1), [...classColour(1), 255], 'cup over disc');
  assert.deepEqual(at(fill, 0, 0), [...classColour(0), 255]);
  assert.deepEqual(at(fill, 3, 3), [0, 0, 0, 0]);
  const hidden = maskOverlayRgba(mask(), { mode: 'fill', visible: [true, false] });
  assert.deepEqual(at(hidden, 1, 1), [...classColour(0), 255]);
  const outline = maskOverlayRgba(mask(), { mode: 'outline', visible: [true, false] });
  assert.deepEqual(at(outline, 1, 1), [0, 0, 0, 0]);
  assert.deepEqual(maskFractions(mask()), [9 / 16, 1 / 16]);
});

test('error map: false positives and false negatives per class in their own colours, agreement clear', () => {
  const ref = mask();
  // Prediction: class 0 shifted one pixel right (FP in column 3, FN in column 0), class 1 missed.
  const pred = { width: 4, height: 4, classes: 2, data: new Uint8Array(4 * 4 * 2) };
  for (let y = 0; y < 3; y++) for (let x = 1; x < 4; x++) pred.data[(y * 4 + x) * 2] = 1;
  const err = errorMapRgba(pred, ref);
  const at = (x: number, y: number) => Array.from(err.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4));
  assert.deepEqual(at(3, 0), [...errorColours(0).fp, 255], 'predicted, not in the reference');
  assert.deepEqual(at(0, 2), [...errorColours(0).fn, 255], 'in the reference, missed');
  assert.deepEqual(at(2, 2), [0, 0, 0, 0], 'both agree: clear');
  assert.deepEqual(at(3, 3), [0, 0, 0, 0], 'both background: clear');
  assert.deepEqual(at(1, 1), [...errorColours(1).fn, 255], 'the missed cup paints over the agreeing disc');
  assert.notDeepEqual(errorColours(0).fp, errorColours(0).fn);
  assert.notDeepEqual(errorColours(0).fn, errorColours(1).fn);
  const hidden = errorMapRgba(pred, ref, [false, true]);
  assert.deepEqual(Array.from(hidden.subarray((0 * 4 + 3) * 4, (0 * 4 + 3) * 4 + 4)), [0, 0, 0, 0], 'a hidden class shows no errors');
  assert.throws(() => errorMapRgba({ ...pred, width: 2, height: 8 }, ref), /differ in size/);
});

test('the reference contour is the outline of every visible class in one colour', () => {
  const c = contourRgba(mask());
  const at = (x: number, y: number) => Array.from(c.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4));
  assert.deepEqual(at(0, 0), [...CONTOUR_COLOUR, 255]);
  assert.deepEqual(at(1, 1), [...CONTOUR_COLOUR, 255], 'the one-pixel cup is its own outline');
  assert.deepEqual(at(3, 3), [0, 0, 0, 0]);
  const discOnly = contourRgba(mask(), [true, false], [1, 2, 3]);
  assert.deepEqual(Array.from(discOnly.subarray((1 * 4 + 1) * 4, (1 * 4 + 1) * 4 + 4)), [0, 0, 0, 0], 'inside the disc, cup hidden');
  assert.deepEqual(Array.from(discOnly.subarray(0, 4)), [1, 2, 3, 255]);
});

test('heat colours run dark to bright and clamp; fields map their own range', () => {
  const lum = (t: number) => heatColour(t).reduce((a, b) => a + b, 0);
  for (let t = 0; t < 1; t += 0.1) assert.ok(lum(t + 0.1) >= lum(t) - 1e-9, `monotone at ${t}`);
  assert.deepEqual(heatColour(-5), heatColour(0));
  assert.deepEqual(heatColour(NaN), heatColour(0));
  const f = fieldToRgba({ width: 2, height: 1, data: new Float32Array([3, 9]), min: 3, max: 9 });
  assert.deepEqual(Array.from(f.subarray(0, 3)), heatColour(0));
  assert.deepEqual(Array.from(f.subarray(4, 7)), heatColour(1));
});

test('histogram counts every value once; window and formatting helpers', () => {
  const bins = histogram([0, 0.1, 0.5, 0.99, 1], 4);
  assert.equal(bins.reduce((a, b) => a + b.count, 0), 5);
  assert.deepEqual(bins.map((b) => b.count), [2, 0, 1, 2]);
  assert.deepEqual(histogram([], 3), []);
  assert.deepEqual(centredWindow(32, 32, 3), [13, 13, 7]);
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1500), '1.5 kB');
  assert.equal(formatBytes(2_500_000), '2.5 MB');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatDuration(75), '1 min 15 s');
});
