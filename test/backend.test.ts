import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, describeBackend } from '../core/backend.js';
import { tf } from '../core/tf/tf.js';
import { assertNoLeaks } from './helpers/leaks.js';

test('auto picks a backend that loads and reports why others were skipped', async () => {
  const r = await initBackend({ backend: 'auto' });
  assert.ok(['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'].includes(r.name));
  assert.equal(tf.getBackend(), r.tfBackend);
  assert.match(describeBackend(r), /tfjs/);
  for (const s of r.skipped) assert.ok(s.reason.length > 0);
});

test('forcing cpu and wasm works, and an unknown FEDSEG_BACKEND is a clear error', async () => {
  const cpu = await initBackend({ backend: 'cpu' });
  assert.equal(cpu.name, 'cpu');
  const wasm = await initBackend({ backend: 'wasm' });
  assert.equal(wasm.name, 'wasm');
  assert.equal(wasm.simd, true);
  process.env.FEDSEG_BACKEND = 'quantum';
  await assert.rejects(() => initBackend(), /FEDSEG_BACKEND=quantum is not a backend/);
  delete process.env.FEDSEG_BACKEND;
});

test('leak helper catches a leak', async () => {
  await assert.rejects(() => assertNoLeaks(() => { tf.zeros([2]); }), /leaked 1 tensor/);
  await assertNoLeaks(() => tf.tidy(() => { tf.zeros([2]).add(1); }));
});
