// Raw TensorFlow.js import (no FedSeg patches). Only core/tf/* may import this file; everything else
// imports `tf` from './tf.js', which also installs FedSeg's gradient overrides.
//
// Why `@tensorflow/tfjs` as well as tfjs-core: tfjs-core's Node build (tf-core.node.js) registers no
// gradients, and its ESM deep import `dist/register_all_gradients` fails to resolve in Node
// (ERR_UNSUPPORTED_DIR_IMPORT). The union package's CJS bundle registers every gradient and chained op
// into tfjs's *global* registries (globalThis._tfGlobals), which the core package shares.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';

// PROD silences tfjs's "install tfjs-node" console banner; we report the backend ourselves.
tf.env().set('PROD', true);

export { tf };
