// The hub registers exactly the strategies the other parties know by name (core/contract/strategy-names.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STRATEGY_NAMES } from '../../core/contract/strategy-names.js';
import { STRATEGIES } from '../../federation-hub/strategies/index.js';

test('STRATEGIES and STRATEGY_NAMES list the same strategies', () => {
  assert.deepEqual(Object.keys(STRATEGIES), [...STRATEGY_NAMES]);
});
