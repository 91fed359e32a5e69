import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainingProgress } from '../../../core/contract/app-api.js';
import { federatedEta, formatLosses, isRunning, overallFraction, whereText } from './progress.js';

const base: TrainingProgress = {
  runId: '1', mode: 'local', phase: 'training', round: null, epoch: 1, step: 3, totalSteps: 12, losses: {}, samplesPerSec: 2, etaSec: 9,
  backend: 'cpu', message: '', dice: null, totalRounds: null, fraction: null,
};

test('losses get names, total first, bookkeeping dropped', () => {
  const l = formatLosses({ diceLoss: 0.5, elapsedMs: 1234, total: 0.75, boundary: 0.125, steps: 4, weird: NaN, metaDiceLoss: 0.25 });
  assert.deepEqual(l.map((x) => x.label), ['Total', 'Dice loss', 'Boundary contrastive loss', 'Meta-step Dice loss']);
  assert.equal(l[0]!.value, '0.7500');
  assert.equal(formatLosses({ someNewTerm: 1 })[0]!.label, 'Some New Term');
});

test('a federated job counts rounds; a local one steps', () => {
  const fed: TrainingProgress = { ...base, mode: 'federated', round: 2, totalRounds: 4, fraction: 0.5, step: 5, totalSteps: 10 };
  assert.equal(overallFraction(fed, 1), 0.375);
  assert.equal(overallFraction({ ...fed, phase: 'waiting' }, 2), 0.5);
  assert.equal(overallFraction({ ...fed, phase: 'done' }, 2), 1);
  assert.equal(overallFraction(base), 0.25);
  assert.equal(whereText(fed), 'Round 2 of 4 · local training 50% (step 5 of 10)');
  assert.equal(whereText({ ...fed, phase: 'waiting' }), 'Round 2 of 4 · waiting for the hub');
  assert.equal(whereText(base, 2), 'Epoch 1 of 2 · step 3 of 12');
});

test('running, and the federated ETA from completed rounds', () => {
  assert.equal(isRunning(null), false);
  assert.equal(isRunning(base), true);
  assert.equal(isRunning({ ...base, phase: 'cancelled' }), false);
  assert.equal(federatedEta(0, 60_000, 2, 5), 90);
  assert.equal(federatedEta(0, 60_000, 0, 5), null);
  assert.equal(federatedEta(0, 60_000, 5, 5), 0);
});
