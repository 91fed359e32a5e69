// Dataset statistics (checked against a direct computation over the pixels) and thumbnail grids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../store/memory-store.js';
import { decodeImageFile } from './codecs/image-file.js';
import { generateFundusSites } from './synthetic/fundus.js';
import { generateProstateSites } from './synthetic/prostate.js';
import { datasetStats, datasetThumbnailGrid, renderThumbnail, CLASS_COLOURS } from './stats.js';

test('datasetStats matches a direct computation over the pixels', () => {
  const store = createMemoryStore();
  const pro = generateProstateSites({ sites: 1, perSite: 8, size: 16, seed: 9, depth: 8 })[0]!.samples;
  const d = store.createDataset({ name: 'p', kind: 'prostate', channels: 1, classes: 1 });
  store.addSamples(d.id, pro.map((s, i) => ({ ...s, split: i < 6 ? 'train' : 'test', spacing: [0.5 + i * 0.01, 0.6] as [number, number] })));
  const st = datasetStats(store, 'p');
  const all = pro.flatMap((s) => Array.from(s.image.data));
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const std = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
  assert.equal(st.count, 8);
  assert.deepEqual(st.splits, { train: 6, test: 2 });
  assert.deepEqual(st.sizes, { '16x16': 8 });
  assert.ok(Math.abs(st.intensity!.mean - mean) < 1e-6 && Math.abs(st.intensity!.std - std) < 1e-5);
  assert.equal(st.intensity!.min, Math.min(...all));
  const fg = pro.map((s) => s.mask.data.reduce((a, b) => a + b, 0) / 256);
  assert.ok(Math.abs(st.labelFractions[0]! - fg.reduce((a, b) => a + b, 0) / 8) < 1e-12);
  assert.equal(st.emptyMasks[0], fg.filter((f) => f === 0).length);
  assert.ok(st.emptyMasks[0]! > 0 && st.emptyMasks[0]! < 8);
  assert.equal(st.emptyAll, st.emptyMasks[0]);
  assert.deepEqual(st.spacing, { min: [0.5, 0.6], max: [0.5 + 7 * 0.01, 0.6] });
  assert.throws(() => datasetStats(store, 'nope'), /does not exist/);
});

test('thumbnails: grid PNG of the right size, overlay colours on the disc, none when disabled', () => {
  const store = createMemoryStore();
  const f = generateFundusSites({ sites: 1, perSite: 5, size: 32, seed: 1 })[0]!.samples;
  const d = store.createDataset({ name: 'f', channels: 3, classes: 2 });
  store.addSamples(d.id, f);
  const png = datasetThumbnailGrid(store, d.id, { size: 32, cols: 3 });
  const r = decodeImageFile(png, 'grid.png');
  assert.deepEqual([r.width, r.height], [3 * 32 + 4 * 2, 2 * 32 + 3 * 2]);
  const s = f[0]!;
  const t = renderThumbnail(s, { size: 32, opacity: 1 });
  const plain = renderThumbnail(s, { size: 32, overlay: false });
  let cup = -1;
  let bg = -1;
  for (let i = 0; i < 32 * 32; i++) {
    if (s.mask.data[i * 2 + 1] && cup < 0) cup = i;
    if (!s.mask.data[i * 2] && bg < 0) bg = i;
  }
  assert.deepEqual(Array.from(t.rgba.subarray(cup * 4, cup * 4 + 3)), CLASS_COLOURS[1]);
  assert.deepEqual(Array.from(plain.rgba.subarray(cup * 4, cup * 4 + 3)), Array.from(s.image.data.subarray(cup * 3, cup * 3 + 3)));
  assert.deepEqual(Array.from(t.rgba.subarray(bg * 4, bg * 4 + 3)), Array.from(s.image.data.subarray(bg * 3, bg * 3 + 3)));
});
