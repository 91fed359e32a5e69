// WebGPU backend for Node through Dawn (npm `webgpu`, binaries inside the package) running
// @tensorflow/tfjs-backend-webgpu 4.22. Issue #8; facts in shared/docs/measured.md §5 and §9.
//
// How it loads (order matters):
//  1. On Linux, Dawn's Vulkan backend dlopen()s `libvulkan.so.1`. If no loader can be found we skip
//     webgpu before touching Dawn (no 21 MB native load, no stderr noise on CPU-only machines).
//  2. `create(dawnOptions)` gives a GPU object; we request a high-performance adapter ourselves and
//     report vendor / architecture / description.
//  3. A *software* adapter (SwiftShader, llvmpipe, WARP) is refused unless webgpu was forced
//     (FEDSEG_BACKEND=webgpu / initBackend({backend:'webgpu'})) or FEDSEG_WEBGPU_ALLOW_SOFTWARE=1:
//     on a 2-core CPU SwiftShader trains ~10-80x slower than wasm (MEASURED §5).
//  4. Dawn's WebGPU globals (GPUBufferUsage, GPUMapMode, GPUBuffer, ...) are installed on globalThis
//     (the tfjs backend uses them as globals), and `navigator.gpu` is set for code that looks for it.
//     tfjs-backend-webgpu 4.22's import-time support check only tests `globalThis.navigator.gpu`;
//     `window` is NOT needed and is deliberately not defined (it would make other libraries think
//     they run in a browser). We register the 'webgpu' backend factory ourselves with the adapter
//     chosen here, so the import-time registration does not matter.
//  5. FedSeg's WGSL training kernels (core/tf/webgpu-kernels.ts) are registered for 'webgpu', and Sum/Mean
//     gradients that broadcast on the GPU instead of uploading ones(x.shape) (core/tf/webgpu-grads.ts).
//
// Reading tensors: the tfjs webgpu backend implements dataSync()/arraySync() with OffscreenCanvas,
// which Node lacks, and Dawn has no blocking map. Callers on webgpu must use `await t.data()` /
// `await t.array()`. We replace the cryptic "OffscreenCanvas is not defined" with a FedSegError
// (code UNSUPPORTED) that says so. Values already on the CPU (freshly uploaded) still read sync.
//
// CPU-only CI: `useSwiftShader()` points the Vulkan loader at Debian chromium's SwiftShader ICD and
// preloads chromium's private libvulkan.so.1 into this process, so Dawn finds a software adapter
// without LD_LIBRARY_PATH set at process start.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tf } from './tf.js';
import { FedSegError } from '../contract/errors.js';

export interface WebGpuInitOptions {
  /** true when the caller forced webgpu (then a software adapter is accepted). */
  explicit?: boolean;
  /** Accept a software adapter even in auto mode. Default: env FEDSEG_WEBGPU_ALLOW_SOFTWARE=1. */
  allowSoftware?: boolean;
  /** Register FedSeg's WGSL kernels (default true unless FEDSEG_WEBGPU_KERNELS=stock). */
  fedsegKernels?: boolean;
}

export interface WebGpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  software: boolean;
}

/** Debian's chromium ships a SwiftShader Vulkan ICD and its own Vulkan loader here. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const CHROMIUM_VULKAN_LOADER = '/usr/lib/chromium/libvulkan.so.1';

const require = createRequire(import.meta.url);
let adapterSummary: WebGpuAdapterSummary | null = null;
let preloadedLoader: string | null = null;
const deviceErrors: string[] = [];

/** WebGPU validation/shader errors seen so far (tfjs does not throw them: results are silently wrong). */
export function webGpuDeviceErrors(): readonly string[] {
  return deviceErrors;
}

/** Looks for a Vulkan loader the way dlopen("libvulkan.so.1") would (ld cache, LD_LIBRARY_PATH, preloaded). */
export function findVulkanLoader(): string | null {
  if (process.platform !== 'linux') return 'native'; // Metal (macOS) / D3D12 (Windows) need no loader
  if (preloadedLoader) return preloadedLoader;
  for (const dir of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(`${dir}/libvulkan.so.1`)) return `${dir}/libvulkan.so.1`;
  }
  try {
    if (readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1')) return 'libvulkan.so.1 (ld.so.cache)';
  } catch {
    /* no cache: fall through to the usual directories */
  }
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu']) {
    if (existsSync(`${dir}/libvulkan.so.1`)) return `${dir}/libvulkan.so.1`;
  }
  return null;
}

/**
 * Points Dawn at Debian chromium's SwiftShader (software Vulkan) for correctness tests on CPU-only
 * machines. Must run before the first initWebGpu() in this process. Returns null (and changes nothing)
 * when the ICD file is absent. Software adapters still need `explicit` or FEDSEG_WEBGPU_ALLOW_SOFTWARE=1.
 */
export function useSwiftShader(icd = SWIFTSHADER_ICD, loader = CHROMIUM_VULKAN_LOADER): { icd: string; loader: string | null } | null {
  if (!existsSync(icd)) return null;
  process.env.VK_ICD_FILENAMES = icd;
  process.env.VK_DRIVER_FILES = icd;
  if (!findVulkanLoader() && existsSync(loader)) {
    // process.dlopen keeps the library mapped with RTLD_NODELETE (0x1000, missing from os.constants)
    // even though it is no Node addon; Dawn's later dlopen("libvulkan.so.1") then matches its SONAME.
    const RTLD_NOW = 2, RTLD_GLOBAL = 256, RTLD_NODELETE = 0x1000;
    try {
      process.dlopen({ exports: {} } as NodeJS.Module, loader, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    } catch (e) {
      if (!/did not self-register/.test((e as Error).message)) throw e;
    }
    preloadedLoader = loader;
  }
  return { icd, loader: findVulkanLoader() };
}

export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter === true) return true;
  const s = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
  return /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i.test(s);
}

/** The adapter the webgpu backend runs on (null before a successful initWebGpu). */
export function webGpuAdapter(): WebGpuAdapterSummary | null {
  return adapterSummary;
}

function describeAdapter(a: WebGpuAdapterSummary): string {
  const parts = [a.vendor, a.architecture, a.description].filter((p) => p && p.length > 0);
  return `adapter ${parts.join(' / ') || 'unknown'}${a.software ? ' (software)' : ''}`;
}

function webgpuPackageVersion(): string {
  try {
    return (require('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version;
  } catch {
    return tf.version_core; // bundled builds (bench/webgpu.bench.ts on a GPU box): the tfjs packages are version-locked
  }
}

type DawnModule = { create: (opts: string[]) => GPU; globals: Record<string, unknown> };

/** Called by core/backend.ts for the 'webgpu' entry. Throws an Error whose message says why webgpu cannot be used. */
export async function initWebGpu(opts: WebGpuInitOptions = {}): Promise<{ version: string; detail?: string }> {
  const allowSoftware = opts.allowSoftware ?? (opts.explicit === true || process.env.FEDSEG_WEBGPU_ALLOW_SOFTWARE === '1');
  const wantKernels = opts.fedsegKernels ?? process.env.FEDSEG_WEBGPU_KERNELS !== 'stock';
  const version = webgpuPackageVersion();

  // Already initialised in this process: just switch back to it.
  if (adapterSummary && tf.findBackend('webgpu')) {
    if (adapterSummary.software && !allowSoftware) throw new Error(softwareRefusal(adapterSummary));
    if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
    await applyKernelChoice(wantKernels);
    return { version, detail: describeAdapter(adapterSummary) };
  }

  const loader = findVulkanLoader();
  if (!loader) {
    throw new Error(
      'no Vulkan loader (libvulkan.so.1) on this machine, so Dawn cannot reach a GPU; install libvulkan1 and the GPU vendor driver ' +
        '(CPU-only correctness tests: FEDSEG_BACKEND=webgpu with chromium\'s SwiftShader, see docs/gpu.md)',
    );
  }
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new Error(`the npm package 'webgpu' (Dawn) failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
  const dawnOptions = (process.env.FEDSEG_DAWN_OPTIONS ?? '').split(',').filter(Boolean);
  const gpu = dawn.create(dawnOptions);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error(
      'Dawn found no GPU adapter (no Vulkan driver/ICD for a GPU; VK_ICD_FILENAMES=' + (process.env.VK_ICD_FILENAMES ?? 'unset') + ')',
    );
  }
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const summary: WebGpuAdapterSummary = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: isSoftwareAdapter(info),
  };
  if (summary.software && !allowSoftware) throw new Error(softwareRefusal(summary));

  // Globals the tfjs webgpu backend uses (GPUBufferUsage, GPUMapMode, GPUTextureUsage, GPUBuffer, GPUTexture).
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (g.navigator && typeof g.navigator === 'object') {
    try {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    } catch {
      /* a frozen navigator (Electron renderer) keeps its own gpu */
    }
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }

  const wg = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const lim = adapter.limits;
      const requiredFeatures: GPUFeatureName[] = [];
      if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
      const device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
          maxBufferSize: lim.maxBufferSize,
          maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
        },
      });
      // Dawn prints validation/shader errors itself; keep them so tests and benches can assert none.
      device.addEventListener?.('uncapturederror', (ev: Event) => {
        deviceErrors.push((ev as GPUUncapturedErrorEvent).error?.message ?? 'unknown device error');
      });
      return new wg.WebGPUBackend(device, info);
    },
    0, // low priority: never picked implicitly; initBackend sets it by name
  );
  patchReadSync(wg.WebGPUBackend as unknown as { prototype: Record<string, unknown> });
  if (!(await tf.setBackend('webgpu'))) throw new Error(`the webgpu backend did not initialise on ${describeAdapter(summary)}`);
  adapterSummary = summary;
  await applyKernelChoice(wantKernels);
  return { version, detail: describeAdapter(summary) + (wantKernels ? ', FedSeg WGSL conv kernels' : ', stock tfjs kernels') };
}

function softwareRefusal(a: WebGpuAdapterSummary): string {
  return (
    `only a software WebGPU adapter was found (${describeAdapter(a)}); it trains slower than wasm, so auto-selection skips it ` +
    '(force it with FEDSEG_BACKEND=webgpu or FEDSEG_WEBGPU_ALLOW_SOFTWARE=1)'
  );
}

async function applyKernelChoice(on: boolean): Promise<void> {
  const k = await import('./webgpu-kernels.js');
  k.setFedSegWebGpuKernels(on);
}

let readSyncPatched = false;
function patchReadSync(cls: { prototype: Record<string, unknown> }): void {
  if (readSyncPatched || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const orig = cls.prototype.readSync as (this: { tensorMap: { get(id: object): { values?: unknown; dtype: string } | undefined } }, id: object) => unknown;
  cls.prototype.readSync = function (this: { tensorMap: { get(id: object): { values?: unknown; dtype: string } | undefined } }, dataId: object) {
    const d = this.tensorMap.get(dataId);
    if (d && d.values == null && d.dtype !== 'string' && d.dtype !== 'complex64') {
      throw new FedSegError(
        'UNSUPPORTED',
        'synchronous read (dataSync/arraySync/bufferSync/print) of a GPU tensor is not possible on the webgpu backend in Node: use `await tensor.data()` or `await tensor.array()`',
      );
    }
    return orig.call(this, dataId);
  };
  readSyncPatched = true;
}
