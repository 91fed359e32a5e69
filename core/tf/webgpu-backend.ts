// WebGPU backend in Node through Dawn (npm `webgpu`). Filled in by the GPU issue (#8).
import { FedSegError } from '../contract/errors.js';

export async function initWebGpu(): Promise<{ version: string; detail?: string }> {
  throw new FedSegError('BACKEND_UNAVAILABLE', 'webgpu backend not enabled in this build');
}
