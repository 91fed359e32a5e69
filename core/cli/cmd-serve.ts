// `fedseg serve`: browser mode — the app's engine and UI on http://127.0.0.1:<port>/<token>/ for headless
// hospital servers (reach it through an SSH tunnel) and for tests. Bound to loopback only.
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { intArg, parseCommandArgs, PORT_RANGE } from '../contract/cli-args.js';
import { EXIT } from '../contract/exit-codes.js';
import { startBrowserApp } from '../serve/serve-app.js';
import { ensurePrivateDir } from '../secrets/file-modes.js';

export const summary = 'serve the app UI in a browser (127.0.0.1, session token in the URL)';

const HELP = `usage: fedseg serve [--db FILE] [--port N] [--static DIR]

Starts the FedSeg engine on a site database and serves the app on http://127.0.0.1:<port>/<token>/.
Open the printed URL in a browser on this machine (or through an SSH tunnel). Only requests that carry
the session token are answered. Stop with Ctrl+C or SIGTERM (exit 0: stopping is how a server ends).

  --db FILE      site database (default: $FEDSEG_DB or ~/.fedseg/site.sqlite; created if missing)
  --port N       TCP port on 127.0.0.1, 0-65535 (default 0: any free port)
  --static DIR   built renderer folder (default: dist-renderer/ of this checkout)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { db: { type: 'string' }, port: { type: 'string' }, static: { type: 'string' } }, { prog: 'fedseg', command: 'serve' });
  if (values.help) {
    console.log(HELP);
    return EXIT.OK;
  }
  const port = intArg(values.port, 'port', PORT_RANGE) ?? 0;
  const defaultDir = join(homedir(), '.fedseg');
  const dbPath = resolve(values.db ?? process.env.FEDSEG_DB ?? join(defaultDir, 'site.sqlite'));
  // The site's folder is the user's alone (docs/security.md §5): created 0700; FedSeg's own ~/.fedseg
  // is tightened if an older version made it 0755. A folder the user chose is never changed.
  ensurePrivateDir(dirname(dbPath), { tightenExisting: dirname(dbPath) === resolve(defaultDir) });
  const app = await startBrowserApp({ dbPath, port, ...(values.static ? { staticDir: resolve(values.static) } : {}) });
  console.log(`FedSeg is running on ${dbPath}`);
  console.log(`Open: ${app.server.url}`);
  await new Promise<void>((done) => {
    const stop = () => {
      console.log('stopping…');
      void app.close().then(done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return EXIT.OK;
}
