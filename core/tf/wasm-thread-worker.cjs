// The file Node's worker_threads starts for each wasm pthread (docs/measured.md §11).
// tfjs-backend-wasm 4.22 ships its Emscripten pthread runtime only as a string and starts it from a
// `blob:` URL, which Node's Worker refuses (ERR_WORKER_PATH). This real file evaluates that same
// string with this file's `require` and `__filename`, which the runtime expects to find in scope;
// the string comes from the installed package, so it always matches the loaded .wasm.
'use strict';
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');

// The string holds `"\n"` escapes that the package's template literal turned into real newlines; inside
// the string literals they must be escapes again (tfjs's own loader does the same before making its Blob).
const source = wasmWorkerContents.replace(/\n/g, '\\n');
new Function('require', '__filename', source)(require, __filename);
