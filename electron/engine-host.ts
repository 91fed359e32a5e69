// Entry of the engine's Electron utility process: the whole core engine (SQLite store, tfjs, training
// and federation workers) runs here, never in the main process, so the window stays responsive.
import { createEngine } from '../core/app/index.js';
import { serveEngine, type HostPortLike } from './engine-link.js';

const port = (process as unknown as { parentPort?: HostPortLike }).parentPort;
if (!port) throw new Error('engine-host must run as an Electron utility process');
const dbPath = process.env.FEDSEG_DB;
if (!dbPath) throw new Error('engine-host: FEDSEG_DB is not set');
const engine = await createEngine({ dbPath, mode: 'electron' });
serveEngine(port, engine);
process.on('exit', () => void engine.close());
