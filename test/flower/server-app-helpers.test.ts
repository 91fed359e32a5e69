// The ServerApp's pure NumPy helpers (integrations/flower/fedseg_flower: the ELCFS bank without a
// site's own windows, FedAvg by num-examples with name/shape checks, run config; docs/flower.md §6)
// through Python's unittest with Debian's python3, so `npm test` runs them too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { flowerMissing } from './helpers/superlink.js';

const APP = resolve(fileURLToPath(new URL('../../integrations/flower', import.meta.url)));
const missing = flowerMissing();

test('the ServerApp helpers pass their Python unit tests', { skip: missing ?? false, timeout: 120_000 }, () => {
  const r = spawnSync('/usr/bin/python3', ['-m', 'unittest', 'discover', '-s', join(APP, 'tests')], {
    env: { ...process.env, PYTHONPATH: APP, PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /Ran \d+ tests?[\s\S]*OK/);
});
