// Worker-thread entry: lets the TypeScript job host run without a build step (same loader as bin/fedseg.mjs).
import { register } from 'tsx/esm/api';
register();
await import('./job-worker.ts');
