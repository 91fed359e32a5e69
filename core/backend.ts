// Picks the best TensorFlow.js backend that loads on this machine and says which.
// Order (first that initialises wins): tfjs-node-gpu (CUDA) -> webgpu (Dawn, hardware adapter only unless
// forced; core/tf/webgpu-backend.ts) -> tfjs-node (native CPU) -> wasm -> cpu.
// Force one with FEDSEG_BACKEND=<name> or `initBackend({ backend })`.
// The native packages are optionalDependencies: their install downloads libtensorflow, which may fail;
// then they are simply absent and we fall through. wasm gets FedSeg's extra training kernels
// (core/tf/wasm-kernels.ts) so it can train convnets, and runs XNNPACK on every core the OS gives the
// process (core/tf/wasm-threads.ts; FEDSEG_THREADS=N or `initBackend({ threads })` overrides, 1 = the
// single-threaded build); cpu is the portable last resort.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tf } from './tf/tf.js';
import { FedSegError } from './contract/errors.js';
import { registerWasmTrainingKernels } from './tf/wasm-kernels.js';
import { registerThreadedWasm, disposeWasmThreads, wasmThreadCount } from './tf/wasm-threads.js';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_ORDER: BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendReport {
  /** FedSeg's name for the backend. */
  name: BackendName;
  /** tfjs's registered backend name (tensorflow, webgpu, wasm, cpu). */
  tfBackend: string;
  version: string;
  simd: boolean | null;
  threads: number | null;
  /** What was tried before this one and why it was skipped. */
  skipped: { name: BackendName; reason: string }[];
  detail?: string;
}

export interface InitBackendOptions {
  /** Force one backend (fails if it cannot load). Defaults to env FEDSEG_BACKEND, else auto. */
  backend?: BackendName | 'auto';
  /** Backends not to try in auto mode. */
  exclude?: BackendName[];
  /** wasm threads (default: env FEDSEG_THREADS, else the cores this process may use; 1 = single-threaded). */
  threads?: number;
}

const require = createRequire(import.meta.url);
let current: BackendReport | null = null;

/** Hooks other modules register (wasm kernels, gradient patches, webgpu kernels) run after a backend is set. */
type BackendHook = (name: BackendName) => void | Promise<void>;
const hooks: BackendHook[] = [];
export function onBackendReady(hook: BackendHook): void {
  hooks.push(hook);
}
// wasm can train only with FedSeg's composite kernels (Conv2DBackpropFilter etc.; core/tf/wasm-kernels.ts).
onBackendReady((name) => {
  if (name === 'wasm') registerWasmTrainingKernels();
});

async function tryNative(gpu: boolean): Promise<string> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  try {
    await import(pkg);
  } catch (e) {
    throw new Error(`${pkg} is not installed or failed to load (${(e as Error).message.split('\n')[0]})`);
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
  return require(`${pkg}/package.json`).version as string;
}

/** The loaded wasm backend module: its thread count is a module-level function, not a method of the backend object. */
let wasmModule: { getThreadsCount(): number } | null = null;

/** tfjs's own single-threaded wasm factory, kept so a failed threaded start can fall back to it. */
let stockWasmFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | null = null;
let threadedFailure: string | null = null;

async function tryWasm(threads: number): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasmModule = wasm;
  const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  wasm.setWasmPaths(join(dir, 'dist') + '/');
  stockWasmFactory ??= tf.findBackendFactory('wasm');
  if (threads > 1 && threadedFailure === null && (await registerThreadedWasm(threads))) {
    try {
      if (await tf.setBackend('wasm')) return wasm.version_wasm;
      threadedFailure = 'the threaded wasm backend did not initialise';
    } catch (e) {
      threadedFailure = (e as Error).message;
    }
    // One thread still trains; the reason is reported in the backend's detail.
    disposeWasmThreads();
    tf.removeBackend('wasm');
    if (stockWasmFactory) tf.registerBackend('wasm', stockWasmFactory, 2);
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  return wasm.version_wasm;
}

async function tryBackend(name: BackendName, explicit: boolean, threads: number): Promise<{ version: string; detail?: string }> {
  switch (name) {
    case 'tensorflow-gpu':
      return { version: await tryNative(true) };
    case 'tensorflow':
      return { version: await tryNative(false) };
    case 'webgpu': {
      const { initWebGpu } = await import('./tf/webgpu-backend.js');
      return await initWebGpu({ explicit });
    }
    case 'wasm': {
      const version = await tryWasm(threads);
      return threadedFailure && threads > 1 ? { version, detail: `threads unavailable (${threadedFailure}), running on 1` } : { version };
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      return { version: tf.version_core };
  }
}

async function features(): Promise<{ simd: boolean | null; threads: number | null }> {
  if (tf.getBackend() !== 'wasm') return { simd: null, threads: null };
  // Async: the threaded loader never asks tfjs's own loader, which is what evaluates this flag.
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') as boolean;
  return { simd, threads: wasmModule ? wasmModule.getThreadsCount() : null };
}

function parseForced(v: string | undefined): BackendName | 'auto' | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || (BACKEND_ORDER as string[]).includes(v)) return v as BackendName | 'auto';
  throw new FedSegError('INVALID_ARGUMENT', `FEDSEG_BACKEND=${v} is not a backend; use one of auto, ${BACKEND_ORDER.join(', ')}`);
}

/**
 * Initialise the best backend (or the forced one) and return a report. Idempotent for the same request.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendReport> {
  const forced = opts.backend ?? parseForced(process.env.FEDSEG_BACKEND) ?? 'auto';
  const threads = wasmThreadCount(opts.threads);
  if (current && (forced === 'auto' || forced === current.name) && tf.getBackend() === current.tfBackend) return current;
  const candidates = forced === 'auto' ? BACKEND_ORDER.filter((b) => !(opts.exclude ?? []).includes(b)) : [forced];
  const skipped: BackendReport['skipped'] = [];
  for (const name of candidates) {
    try {
      const { version, detail } = await tryBackend(name, forced !== 'auto', threads);
      await tf.ready();
      for (const h of hooks) await h(name);
      current = { name, tfBackend: tf.getBackend(), version, ...(await features()), skipped, ...(detail ? { detail } : {}) };
      return current;
    } catch (e) {
      skipped.push({ name, reason: (e as Error).message });
    }
  }
  throw new FedSegError(
    'BACKEND_UNAVAILABLE',
    `no TensorFlow.js backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

export function currentBackend(): BackendReport | null {
  return current;
}

export function describeBackend(r: BackendReport): string {
  const extras = [r.simd === null ? '' : `SIMD ${r.simd ? 'on' : 'off'}`, r.threads === null ? '' : `${r.threads} thread(s)`]
    .filter(Boolean)
    .join(', ');
  return `${r.name} (tfjs ${r.tfBackend} ${r.version}${extras ? ', ' + extras : ''})${r.detail ? ' — ' + r.detail : ''}`;
}
