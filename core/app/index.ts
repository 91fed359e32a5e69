// The engine's public entry for shells (the Electron utility process, the browser-mode server):
// createEngine and its types, and keySecretBox for a shell that holds its own key (the desktop app's
// is kept by the OS keychain). The other public piece is dispatch.ts (argument validation and the
// {ok, value} | {ok, error} envelope), which the Electron main process uses without loading the engine.
// Everything else in core/ is the engine's inside.
export { createEngine, type Engine, type EngineOptions, type EventListener } from './engine.js';
export { keySecretBox, type SecretBox } from '../secrets/secret-box.js';
