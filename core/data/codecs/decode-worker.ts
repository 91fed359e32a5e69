// Decode-pool worker body: reads a file and decodes it with decodeImageFile, transferring the pixels
// back. Errors travel as {code, message} so the caller rethrows the same FedSegError.
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { FedSegError, toErrorValue } from '../../contract/errors.js';
import { decodeImageFile } from './image-file.js';

const port = parentPort;
if (!port) throw new Error('decode-worker must run in a worker thread');
port.on('message', (m: { id: number; file: string }) => {
  void (async () => {
    try {
      let buf: Buffer;
      try {
        buf = await readFile(m.file);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `${m.file}: cannot read (${(e as Error).message})`);
      }
      const r = decodeImageFile(buf, m.file);
      port.postMessage({ id: m.id, raster: r }, [r.data.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id: m.id, error: toErrorValue(e) });
    }
  })();
});
port.postMessage({ ready: true });
