#!/usr/bin/env bash
# Runs the webgpu GPU bench on a Linux GPU machine that has the NVIDIA (or other Vulkan) driver but no
# Node/npm: everything it needs travels in .device/ (built by bench/webgpu-device-build.sh) and .gl/
# (Debian's libvulkan1 .deb). Usage, from the repo root: bash .device/run.sh [bench flags]. See docs/gpu.md.
set -uo pipefail
OUT=${OUT:-$PWD/bench-output}; mkdir -p "$OUT"
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
ICD=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1)
if [ -z "$ICD" ] && ldconfig -p | grep -q libGLX_nvidia.so.0; then
  ICD=/tmp/nvidia_icd.json
  echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}' > $ICD
fi
echo "vulkan ICD: ${ICD:-none found}"
[ -n "$ICD" ] && export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD
unz() { python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$1" "$2"; }
NODE=$(command -v node || true)
if [ -z "$NODE" ]; then mkdir -p /tmp/n; unz .device/node.xz /tmp/n/node; chmod +x /tmp/n/node; NODE=/tmp/n/node; fi
mkdir -p node_modules/webgpu/dist/linux-x64
cp .device/webgpu/index.js .device/webgpu/package.json node_modules/webgpu/
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || unz .device/dawn.node.xz node_modules/webgpu/dist/linux-x64/dawn.node
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader 2>/dev/null
"$NODE" -v
FEDSEG_WEBGPU_BENCH_MAIN=1 "$NODE" .device/webgpu-bench.mjs "$@" 2>&1 | grep -v '^ - \|^$' | tee "$OUT/webgpu-bench.log"
