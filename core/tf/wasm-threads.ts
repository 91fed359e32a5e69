// The tfjs wasm backend with XNNPACK threads in Node (docs/measured.md §11).
// tfjs-backend-wasm 4.22 runs one thread under Node: it reports no thread support when IS_NODE, it starts
// its pthread workers from `blob:` URLs that Node's Worker refuses, and its default thread count is half
// the cores. Here the same package's threaded-SIMD Emscripten module is created with real files (the
// worker is core/tf/wasm-thread-worker.cjs, the main script the package's own wasm-out file), handed to
// tfjs's own BackendWasm class and registered under the name 'wasm', so every wasm kernel (and FedSeg's
// training kernels) runs unchanged, only with a thread pool.
// Emscripten's pthread pool is 8 workers, created before the module runs, and tfjs caps XNNPACK's pool at
// 8 threads (7 workers + the calling thread), so at most 8 are used. XNNPACK's pool threads live as
// long as the module; their workers are unref'd so a process whose work is done exits on its own, the
// idle pool workers are terminated, and disposeWasmThreads() ends the rest for a clean shutdown.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker as NodeWorker, WorkerOptions } from 'node:worker_threads';
import { tf } from './tfjs.js';
import { FedSegError } from '../contract/errors.js';

const require = createRequire(import.meta.url);

/** tfjs's cap on XNNPACK's pool (the calling thread included), within Emscripten's 8-worker pool. */
export const MAX_WASM_THREADS = 8;

/** The env var that overrides the thread count (1 = the single-threaded build). */
export const THREADS_ENV = 'FEDSEG_THREADS';

interface NodeWorkerLike {
  unref(): void;
  terminate(): void;
}
interface PThreadRuntime {
  unusedWorkers: NodeWorkerLike[];
  runningWorkers: NodeWorkerLike[];
}
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: PThreadRuntime;
  tfjs?: Record<string, unknown>;
}

/**
 * How many threads wasm should use: `requested` (or FEDSEG_THREADS) if given, else the cores the OS lets
 * this process use (os.availableParallelism follows the CPU affinity mask), capped at MAX_WASM_THREADS.
 */
export function wasmThreadCount(requested?: number, env: NodeJS.ProcessEnv = process.env): number {
  let n = requested;
  const raw = env[THREADS_ENV];
  if (n === undefined && raw !== undefined && raw !== '') {
    n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new FedSegError('INVALID_ARGUMENT', `${THREADS_ENV}=${raw} is not a thread count; use a whole number from 1 to ${MAX_WASM_THREADS}`);
    }
  }
  if (n === undefined) n = availableParallelism();
  if (!Number.isInteger(n) || n < 1) throw new FedSegError('INVALID_ARGUMENT', `thread count ${n} must be a whole number >= 1`);
  return Math.min(n, MAX_WASM_THREADS);
}

/** Whether this runtime can run the threaded build at all (shared memory and workers). */
export function canThreadWasm(): boolean {
  return typeof SharedArrayBuffer === 'function' && typeof WebAssembly === 'object';
}

let live: ThreadedModule | null = null;
let registeredThreads: number | null = null;

function packageFile(rel: string): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), rel);
}

type WasmImports = Record<string, Record<string, WebAssembly.ImportValue>>;

async function createThreadedModule(threads: number): Promise<ThreadedModule> {
  const factory = require(packageFile('wasm-out/tfjs-backend-wasm-threaded-simd.js')) as (cfg: object) => Promise<ThreadedModule>;
  const mainScript = packageFile('wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const wasmFile = packageFile('wasm-out/tfjs-backend-wasm-threaded-simd.wasm');
  // Next to this module, or next to the bundle this module was built into (electron/build.mjs copies it).
  const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'wasm-thread-worker.cjs');
  // A worker that cannot start is an uncaught error inside Emscripten's handlers, so check first.
  if (!existsSync(workerFile)) throw new Error(`the wasm thread worker ${workerFile} is missing`);
  const bytes = await readFile(wasmFile);
  const before = { uncaught: process.listeners('uncaughtException'), rejection: process.listeners('unhandledRejection') };
  let aborted: unknown = null;
  const config = {
    // tfjs's C side uses min(requested, 8, logical cores / 2) threads, assuming two hyperthreads per core;
    // it reads the core count once, through this import, so the module is told twice the threads we chose.
    instantiateWasm: (info: WasmImports, receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) => {
      const env = { ...info.env, emscripten_num_logical_cores: () => 2 * threads };
      WebAssembly.instantiate(bytes, { ...info, env }).then(
        (r) => receive(r.instance, r.module),
        (e: unknown) => {
          aborted = e;
        },
      );
      return {};
    },
    locateFile: (path: string) => (path.endsWith('.worker.js') ? workerFile : path.endsWith('.wasm') ? wasmFile : path),
    mainScriptUrlOrBlob: mainScript,
    onAbort: (what: unknown) => {
      aborted = what;
    },
  };
  // The pool's 8 workers are created synchronously inside the factory call, with Node's default of
  // inheriting this process's execArgv: under `node --import tsx` every worker would register tsx's
  // loader first (~0.2 s of CPU each) although it only runs plain CommonJS. For that call, the Worker
  // the Emscripten glue picks up starts without execArgv.
  const threadsModule = require('node:worker_threads') as { Worker: typeof NodeWorker };
  const Inherit = threadsModule.Worker;
  threadsModule.Worker = class extends Inherit {
    constructor(file: string | URL, opts?: WorkerOptions) {
      super(file, { execArgv: [], ...opts });
    }
  };
  let pending: Promise<ThreadedModule>;
  try {
    pending = factory(config);
  } finally {
    threadsModule.Worker = Inherit;
  }
  const m = await pending;
  // Emscripten's Node glue adds process handlers that rethrow every uncaught error from inside its
  // minified source (so a crash anywhere prints that whole line); the process's own handling is kept.
  for (const l of process.listeners('uncaughtException')) if (!before.uncaught.includes(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!before.rejection.includes(l)) process.removeListener('unhandledRejection', l);
  // The factory resolves only once every pool worker has loaded the module (an Emscripten run
  // dependency), so creating XNNPACK's threads never waits on this thread's event loop.
  if (aborted !== null) throw new Error(`the threaded wasm module aborted: ${String(aborted)}`);
  // The same wrappers tfjs's own loader puts on the module (BackendWasm calls them).
  m.tfjs = {
    init: m.cwrap('init', null, []),
    initWithThreadsCount: m.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: m.cwrap('get_threads_count', 'number', []),
    registerTensor: m.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: m.cwrap('dispose_data', null, ['number']),
    dispose: m.cwrap('dispose', null, []),
  };
  return m;
}

function unrefAll(m: ThreadedModule): void {
  for (const w of [...m.PThread.runningWorkers, ...m.PThread.unusedWorkers]) w.unref();
}

/**
 * Registers the threaded wasm backend as 'wasm' (replacing tfjs's single-threaded factory) with `threads`
 * threads. Call before tf.setBackend('wasm'). Returns false where the runtime cannot thread.
 */
export async function registerThreadedWasm(threads: number): Promise<boolean> {
  if (!canThreadWasm()) return false;
  // One module per process: its workers and memory live as long as the process.
  if (registeredThreads !== null) return true;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // removeBackend, not findBackend: findBackend would start initialising tfjs's single-threaded module.
  if (tf.findBackendFactory('wasm')) tf.removeBackend('wasm');
  wasm.setThreadsCount(threads);
  registeredThreads = threads;
  tf.registerBackend(
    'wasm',
    async () => {
      const m = await createThreadedModule(threads);
      live = m;
      const backend = new wasm.BackendWasm(m as unknown as ConstructorParameters<typeof wasm.BackendWasm>[0]);
      // XNNPACK created its pool threads in the constructor; they never exit, so they must not hold Node open.
      unrefAll(m);
      // tfjs starts no other thread, so the pool's idle workers (8 minus the threads in use) only hold
      // memory: each is a V8 isolate with its own instance of the module.
      for (const w of m.PThread.unusedWorkers.splice(0)) w.terminate();
      return backend;
    },
    2,
  );
  return true;
}

/** Terminates the wasm pthread workers (process shutdown; after this the wasm backend cannot run). */
export function disposeWasmThreads(): void {
  if (!live) return;
  for (const w of [...live.PThread.runningWorkers, ...live.PThread.unusedWorkers]) w.terminate();
  live = null;
  registeredThreads = null;
}
