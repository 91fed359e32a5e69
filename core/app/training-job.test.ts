// runTrainingJob directly (no worker): an ASCNet-7 run checkpoints its Adam state (the serialisable
// Adam of core/train, read back with awaited data() so this also works on webgpu), and a resumed run
// continues that optimiser instead of restarting it (docs/algorithms.md §7 training, app resume).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainingConfig } from '../contract/app-api.js';
import { OPTIMISER_KIND } from '../contract/checkpoint.js';
import { decodeWeights } from '../contract/weights.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { createMemoryStore } from '../store/memory-store.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { runTrainingJob } from './training-job.js';

function adamStep(store: DatasetStore, runId: number): { step: number; beta2: number; moments: number } {
  const ck = store.listCheckpoints({ runId }).filter((c) => c.modelKind === OPTIMISER_KIND && c.meta.role === 'optimiser');
  assert.equal(ck.length, 1, `run ${runId} keeps exactly one optimiser checkpoint`);
  const arrays = decodeWeights(store.loadCheckpoint(ck[0]!.id)).arrays;
  return {
    step: arrays.find((a) => a.name === 'adam.step')!.data[0]!,
    beta2: Number(arrays.find((a) => a.name === 'adam.config')!.data[2]!.toPrecision(7)),
    moments: arrays.filter((a) => a.name.startsWith('adam.m/')).length,
  };
}

test('ASCNet-7 training checkpoints its Adam state and resume continues it (no leaks)', async () => {
  await useBackend('wasm');
  const store = createMemoryStore();
  const [site] = generateCellSites({ size: 16, perSite: 4, seed: 3 });
  const d = store.createDataset({ name: 'cells', kind: 'cells', channels: 1, classes: 2, classNames: ['cell', 'nucleus'] });
  store.addSamples(d.id, site!.samples);
  // 4 images: 3 train + 1 held out; batch 2 -> 2 steps per epoch.
  const cfg: TrainingConfig = { name: 'asc', datasetIds: [String(d.id)], modelKind: 'ascnet-7', baseWidth: 4, depth: 2, epochs: 1, batchSize: 2, learningRate: 1e-3, elcfs: false, maxSteps: 0, seed: 1 };
  const hooks = { progress: () => {}, signal: new AbortController().signal, backend: 'wasm' };
  const run1 = store.createRun({ name: 'first', config: {} });
  const out1 = await assertNoLeaks(() => runTrainingJob(store, { runId: run1.id, config: cfg, resumeFromRunId: null }, hooks), 'first run');
  assert.equal(out1.status, 'finished', out1.message);
  const s1 = adamStep(store, run1.id);
  assert.equal(s1.step, 2);
  assert.equal(s1.beta2, 0.9, "ASCNet's beta2");
  assert.ok(s1.moments > 10, `moments for the trainable weights (${s1.moments})`);

  const run2 = store.createRun({ name: 'resumed', config: {} });
  const out2 = await assertNoLeaks(() => runTrainingJob(store, { runId: run2.id, config: { ...cfg, epochs: 2 }, resumeFromRunId: run1.id }, hooks), 'resumed run');
  assert.equal(out2.status, 'finished', out2.message);
  const s2 = adamStep(store, run2.id);
  assert.equal(s2.step, 4, 'the resumed optimiser continues from step 2');
  assert.equal(s2.beta2, 0.9);
  assert.equal(s2.moments, s1.moments);
  store.close();
});
