// The decode pool gives exactly what inline decoding gives, pixels and errors alike, and an import
// through it stores the same samples.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FedSegError } from '../../contract/errors.js';
import { createMemoryStore } from '../../store/memory-store.js';
import { writeDofeLayout } from '../export.js';
import { importDofe } from '../import/folder.js';
import { generateFundusSites } from '../synthetic/fundus.js';
import { createDecodePool, readRasterInline } from './decode-pool.js';

const dir = mkdtempSync(join(tmpdir(), 'fedseg-pool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('worker decoding equals inline decoding, errors included; imports through the pool match', async () => {
  const sites = generateFundusSites({ sites: 1, perSite: 6, size: 24, seed: 5 });
  await writeDofeLayout(sites, dir, { testFraction: 0 });
  const img = join(dir, 'Domain1/train/ROIs/image/Domain1-0001.png');
  writeFileSync(join(dir, 'bad.png'), 'definitely not a png');
  const pool = createDecodePool(1);
  assert.equal(await pool.ready(), 1, 'the worker started');
  assert.deepEqual(await pool.read(img), await readRasterInline(img));
  assert.ok(pool.offloaded >= 1);
  for (const f of [join(dir, 'bad.png'), join(dir, 'missing.png')]) {
    const inline = await readRasterInline(f).catch((e: unknown) => e as FedSegError);
    const pooled = await pool.read(f).catch((e: unknown) => e as FedSegError);
    assert.ok(pooled instanceof FedSegError && inline instanceof FedSegError);
    assert.deepEqual([pooled.code, pooled.message], [inline.code, inline.message]);
  }
  await pool.close();
  const a = createMemoryStore();
  const b = createMemoryStore();
  await importDofe(a, { root: dir, decodeWorkers: 0 });
  await importDofe(b, { root: dir, decodeWorkers: 1 });
  assert.deepEqual(b.loadSamples(1).map((s) => [s.name, s.image.data, s.mask.data]), a.loadSamples(1).map((s) => [s.name, s.image.data, s.mask.data]));
});
