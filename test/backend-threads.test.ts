// The threaded wasm backend (core/tf/wasm-threads.ts, docs/measured.md §11): the thread count it picks,
// that a training step on 2 threads equals the 1-thread one, and that a process using it exits on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MAX_WASM_THREADS, THREADS_ENV, wasmThreadCount } from '../core/tf/wasm-threads.js';

const STEP = fileURLToPath(new URL('./helpers/threaded-step.ts', import.meta.url));

interface StepOut {
  threads: number;
  described: string;
  losses: Record<string, number>;
  weights: Record<string, number[]>;
  probs: number[];
}

/** Runs the step in a fresh process; resolves with its output and how it ended (never kills it early). */
function runStep(threads: number, limitMs = 180_000): Promise<{ out: StepOut; code: number | null; signal: string | null; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', STEP], {
      env: { ...process.env, [THREADS_ENV]: String(threads), FEDSEG_BACKEND: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ out: JSON.parse(line) as StepOut, code, signal, ms: Date.now() - t0 });
      } catch {
        reject(new Error(`step with ${threads} thread(s) printed no result (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`));
      }
    });
  });
}

test('the thread count is the cores this process may use, or FEDSEG_THREADS, capped at the pool size', () => {
  assert.equal(wasmThreadCount(3, {}), 3);
  assert.equal(wasmThreadCount(undefined, { [THREADS_ENV]: '1' }), 1);
  assert.equal(wasmThreadCount(undefined, { [THREADS_ENV]: '64' }), MAX_WASM_THREADS);
  assert.equal(wasmThreadCount(2, { [THREADS_ENV]: '1' }), 2, 'an explicit request wins over the environment');
  const auto = wasmThreadCount(undefined, {});
  assert.ok(auto >= 1 && auto <= MAX_WASM_THREADS);
  for (const bad of ['0', '-2', '1.5', 'many']) {
    assert.throws(() => wasmThreadCount(undefined, { [THREADS_ENV]: bad }), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && e.message.includes(`${THREADS_ENV}=${bad}`));
  }
  assert.throws(() => wasmThreadCount(0, {}), /whole number/);
});

test('an ELCFS step on 2 wasm threads equals the 1-thread step, and both processes exit on their own', async () => {
  const one = await runStep(1);
  const two = await runStep(2);
  for (const [n, r] of [[1, one], [2, two]] as const) {
    assert.equal(r.signal, null, `the ${n}-thread process had to be killed: its threads kept it alive`);
    assert.equal(r.code, 0);
  }
  assert.equal(one.out.threads, 1);
  assert.equal(two.out.threads, 2);
  assert.match(two.out.described, /2 thread\(s\)/);
  for (const [k, v] of Object.entries(one.out.losses)) {
    assert.ok(Math.abs(v - two.out.losses[k]!) <= 1e-5 * Math.max(1, Math.abs(v)), `loss ${k}: ${v} vs ${two.out.losses[k]}`);
  }
  let maxW = 0;
  for (const [k, w] of Object.entries(one.out.weights)) {
    const w2 = two.out.weights[k]!;
    assert.equal(w2.length, w.length, k);
    for (let i = 0; i < w.length; i++) maxW = Math.max(maxW, Math.abs(w[i]! - w2[i]!));
  }
  assert.ok(maxW <= 1e-5, `weights after the step differ by ${maxW}`);
  const maxP = Math.max(...one.out.probs.map((p, i) => Math.abs(p - two.out.probs[i]!)));
  assert.ok(maxP <= 1e-4, `probabilities differ by ${maxP}`);
});
