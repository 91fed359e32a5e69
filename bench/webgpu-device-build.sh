#!/usr/bin/env bash
# Builds the one-file GPU bench bundle + the files carried to a GPU machine (see docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cp bench/webgpu-device-run.sh .device/run.sh
mkdir -p .device/webgpu
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .device/webgpu/
[ -f .device/dawn.node.xz ] || xz -T2 -9 -c node_modules/webgpu/dist/linux-x64/dawn.node > .device/dawn.node.xz
[ -f .device/node.xz ] || xz -T2 -9 -c "$(command -v node)" > .device/node.xz
npx esbuild bench/webgpu.bench.ts --bundle --platform=node --format=esm --target=node20 --ignore-annotations \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --outfile=.device/webgpu-bench.mjs --log-level=warning
