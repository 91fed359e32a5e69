// Browser mode in one call: engine on a SQLite file + the HTTP/WebSocket server on 127.0.0.1.
// Used by `fedseg serve` and by the end-to-end tests.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FedSegError } from '../contract/errors.js';
import { createEngine, type Engine } from '../app/engine.js';
import { startServer, type RunningServer } from './server.js';

export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../dist-renderer', import.meta.url));

export interface BrowserApp {
  engine: Engine;
  server: RunningServer;
  close(): Promise<void>;
}

export async function startBrowserApp(opts: { dbPath: string; port?: number; staticDir?: string; token?: string }): Promise<BrowserApp> {
  const staticDir = opts.staticDir ?? DEFAULT_STATIC_DIR;
  if (!existsSync(`${staticDir}/index.html`))
    throw new FedSegError('NOT_FOUND', `the user interface is not built (${staticDir}/index.html is missing): run \`npm run build:renderer\` or use \`npm run serve\``);
  const engine = await createEngine({ dbPath: opts.dbPath, mode: 'browser' });
  let server: RunningServer;
  try {
    server = await startServer({
      handlers: engine.handlers, subscribe: engine.subscribe, staticDir,
      ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.token ? { token: opts.token } : {}),
    });
  } catch (e) {
    await engine.close();
    throw e;
  }
  return {
    engine,
    server,
    close: async () => {
      await server.close();
      await engine.close();
    },
  };
}
