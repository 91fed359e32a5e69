// Decode-pool worker body: decodes a file's bytes (sent by the caller, or read here) with
// decodeImageFile, transferring the pixels back. Errors travel as {code, message} so the caller rethrows the same FedSegError. The per-file
// limits come with each request (docs/security.md §4 Import budgets).
import { parentPort } from 'node:worker_threads';
import { toErrorValue } from '../../contract/errors.js';
import type { DecodeLimits } from './decode-limits.js';
import { readRegularFile } from './file-read.js';
import { decodeImageFile } from './image-file.js';

const port = parentPort;
if (!port) throw new Error('decode-worker must run in a worker thread');
port.on('message', (m: { id: number; file: string; buf?: Uint8Array; limits: DecodeLimits }) => {
  void (async () => {
    try {
      const r = decodeImageFile(m.buf ?? await readRegularFile(m.file, m.limits), m.file, m.limits);
      port.postMessage({ id: m.id, raster: r }, [r.data.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id: m.id, error: toErrorValue(e) });
    }
  })();
});
port.postMessage({ ready: true });
