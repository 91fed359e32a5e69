// Entry of the engine's Electron utility process: the whole core engine (SQLite store, tfjs, training
// and federation workers) runs here, never in the main process, so the window stays responsive. The
// start itself (init message with the secret key, then the engine) is engine-start.ts.
import type { HostPortLike } from './engine-link.js';
import { startEngineHost } from './engine-start.js';

const port = (process as unknown as { parentPort?: HostPortLike }).parentPort;
if (!port) throw new Error('engine-host must run as an Electron utility process');
const dbPath = process.env.FEDSEG_DB;
if (!dbPath) throw new Error('engine-host: FEDSEG_DB is not set');
const engine = await startEngineHost(port, dbPath);
if (engine) process.on('exit', () => void engine.close());
