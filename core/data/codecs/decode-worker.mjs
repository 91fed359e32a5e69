// Worker bootstrap for the PNG/JPEG decode pool (decode-pool.ts): registers tsx so the TypeScript
// worker body can run from source, then loads it. If this cannot load (e.g. a bundled build without
// tsx), the pool notices the worker error and decodes in the calling thread instead.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
