#!/usr/bin/env bash
# Packs what gpu-check.sh needs into a folder for a machine that cannot build Quantscope (the
# lent GPU machines have no Debian packages): the built programs and plugins, the shared
# libraries they load that are not part of glibc (the Vulkan loader too), the node tests the
# vulkan device runs, and weight-only int8 / int4 configurations of the bundled models.
#   tests/perf/gpu-bundle.sh [DIR]   (default .gpu-bundle; run after a build)
# There: QS_BIN=DIR/bin QS_NODE_TESTS=DIR/node LD_LIBRARY_PATH=DIR/lib tests/perf/gpu-check.sh
# NVIDIA's Vulkan driver (libGLX_nvidia.so.0) also needs the GL dispatch libraries: on a machine
# without them, unpack Debian's libglvnd0, libglx0, libgl1, libegl1 and the X11 client libraries
# (apt-get download here; dpkg -x there) and put them on LD_LIBRARY_PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$here/.gpu-bundle}
bin=$here/build/bin
rm -rf "$dir"
mkdir -p "$dir/bin/plugins" "$dir/lib" "$dir/node" "$dir/gpu-configs"
cp "$bin/quantscope-cli" "$bin/quantscope-conformance" "$bin/quantscope-vulkan-tests" "$dir/bin/"
cp "$bin/plugins/qsplugin_vulkan.so" "$bin/plugins/qsplugin_cpu-onednn.so" "$dir/bin/plugins/"
strip --strip-debug "$dir"/bin/quantscope-* "$dir"/bin/plugins/*.so
for f in "$dir"/bin/quantscope-* "$dir"/bin/plugins/*.so /usr/lib/x86_64-linux-gnu/libvulkan.so.1; do
  ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux-x86-64)\.so' |
  while read -r lib; do cp -L "$lib" "$dir/lib/"; done
cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$dir/lib/"
strip --strip-unneeded "$dir"/lib/*.so* 2>/dev/null || true
# The node tests the vulkan device runs (not the ones it leaves to cpu-ref).
"$bin/quantscope-conformance" --device vulkan --json |
  python3 -c "import json,sys; [print(t['name']) for t in json.load(sys.stdin)['tests'] if t['status']=='passed']" |
  while read -r t; do cp -r "/usr/share/libonnx-testdata/data/node/$t" "$dir/node/"; done
for model in lenet mobilenet vit; do
  for bits in 8 4; do
    "$bin/quantscope-cli" quantize "$here/resources/models/$model.onnx" --data fashion-mnist:train \
      --limit 64 --weights "$bits" --acts float --granularity channel -o "$dir/gpu-configs/$model-w$bits.json" >/dev/null 2>&1
  done
done
du -sh "$dir"
