// How the engine's utility process starts (engine-host.ts is only its entry): wait for the main
// process's init message (the secret key the OS keychain unwrapped, or none: docs/security.md §5),
// open the engine with it, then answer the calls that arrived meanwhile and all later ones. An engine
// that cannot start (its store is open in another FedSeg) says why with {t:'fatal'}, so the window
// shows that reason instead of waiting for an engine.
import { createEngine, keySecretBox, type Engine } from '../core/app/index.js';
import { toErrorValue } from '../core/contract/errors.js';
import { receiveInit, serveEngine, type HostPortLike, type LinkMessage } from './engine-link.js';

export async function startEngineHost(port: HostPortLike, dbPath: string): Promise<Engine | null> {
  const { init, port: calls } = await receiveInit(port);
  try {
    const secrets = init.secrets ? keySecretBox(Buffer.from(init.secrets.key, 'base64'), init.secrets.kind) : undefined;
    const engine = await createEngine({ dbPath, mode: 'electron', ...(secrets ? { secrets } : {}) });
    serveEngine(calls, engine);
    return engine;
  } catch (e) {
    port.postMessage({ t: 'fatal', error: toErrorValue(e) } satisfies LinkMessage);
    console.error(`FedSeg engine: ${(e as Error).message}`);
    return null;
  }
}
