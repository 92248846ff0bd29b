#!/usr/bin/env bash
# The prepared GPU check of the vulkan device (run it where a GPU is lent):
#   tests/perf/gpu-check.sh [OUT_DIR]
# 1. builds (skipped when QS_BIN names prebuilt programs: see gpu-bundle.sh, for a machine
#    without the build dependencies),
# 2. lists the Vulkan devices, runs the vulkan conformance (ONNX node tests) and the vulkan
#    tests on the first GPU,
# 3. benchmarks the bundled models at batch 1, 64 and 256: vulkan fp32 and weight-only int8 and
#    int4 (codes dequantized in the shaders), against cpu-onednn fp32,
# and writes everything to OUT_DIR (default build/gpu-check): one JSON per run, summary.json and
# a printed table.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/build/gpu-check}
mkdir -p "$out"
if [ -z "${QS_BIN:-}" ]; then
  (cd "$here" && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQS_WITH_GUI=OFF \
     -DQS_WITH_VULKAN=ON >/dev/null && cmake --build build) || exit 1
  QS_BIN=$here/build/bin
fi
configs=${QS_CONFIGS:-$QS_BIN/../gpu-configs}
node_tests=${QS_NODE_TESTS:-/usr/share/libonnx-testdata/data/node}
models=${QS_MODELS:-$here/resources/models}
cli=$QS_BIN/quantscope-cli
export QS_MODELS_DIR=$models

# An NVIDIA driver that ships its Vulkan ICD outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
             /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
  done
fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv

"$cli" plugins --json > "$out/plugins.json" 2>&1
"$cli" plugins 2>&1 | grep -E "vulkan|refused"
"$QS_BIN/quantscope-conformance" --device vulkan --data-dir "$node_tests" \
  --json-out "$out/conformance-vulkan.json" | tail -3
"$QS_BIN/quantscope-vulkan-tests" --gtest_brief=1 2>&1 | tail -5

runs=()
for model in ${QS_CHECK_MODELS:-lenet mobilenet vit}; do
  for batch in ${QS_CHECK_BATCHES:-1 64 256}; do
    for mode in onednn-fp32 vulkan-fp32 vulkan-w8 vulkan-w4; do
      args=(bench "$models/$model.onnx" --batch "$batch" --runs 30 --warmup 5 --min-seconds 0.5 --json)
      case $mode in
        onednn-fp32) args+=(--device cpu-onednn) ;;
        vulkan-fp32) args+=(--device vulkan) ;;
        vulkan-w8) args+=(--device vulkan --config "$configs/$model-w8.json" --real) ;;
        vulkan-w4) args+=(--device vulkan --config "$configs/$model-w4.json" --real) ;;
      esac
      f="$out/bench-$model-$mode-b$batch.json"
      if timeout 120 "$cli" "${args[@]}" > "$f" 2> "$f.err"; then runs+=("$f"); else
        echo "FAILED: $model $mode batch $batch: $(tail -2 "$f.err")"; fi
    done
  done
done
# Where the GPU time goes: each node on the device's timestamps, largest batch.
for model in ${QS_CHECK_MODELS:-lenet mobilenet vit}; do
  "$cli" bench "$models/$model.onnx" --device vulkan --batch 256 --runs 20 --warmup 3 \
    --min-seconds 0.2 --per-layer --json > "$out/layers-$model-vulkan-b256.json" 2>/dev/null &&
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); ls=sorted(j['layers'], key=lambda l: -l['median_ms']); print(sys.argv[2], 'batch 256, slowest nodes:', ', '.join('%s %s %.3f ms' % (l['name'], l['op'], l['median_ms']) for l in ls[:4]))" "$out/layers-$model-vulkan-b256.json" "$model"
done
python3 - "$out" "${runs[@]}" <<'PY'
import json, os, sys
out, files = sys.argv[1], sys.argv[2:]
rows = []
for f in files:
    j = json.load(open(f))
    name = os.path.basename(f)[len("bench-"):-len(".json")]
    model, rest = name.split("-", 1)
    mode, batch = rest.rsplit("-b", 1)
    dev = j.get("device_time") or {}
    rows.append({"model": model, "mode": mode, "batch": int(batch), "median_ms": j["median_ms"],
                 "device_median_ms": dev.get("median_ms"), "throughput_per_s": j["throughput_per_s"],
                 "isa": j.get("isa"), "cv": j["cv"]})
json.dump(rows, open(os.path.join(out, "summary.json"), "w"), indent=1)
base = {(r["model"], r["batch"]): r["median_ms"] for r in rows if r["mode"] == "onednn-fp32"}
print(f"{'model':10} {'batch':>5} {'mode':12} {'median ms':>10} {'gpu ms':>9} {'samples/s':>10} {'vs onednn':>9}")
for r in sorted(rows, key=lambda r: (r["model"], r["batch"], r["mode"])):
    b = base.get((r["model"], r["batch"]))
    ratio = f"{b / r['median_ms']:.2f}x" if b and r["median_ms"] else "-"
    gpu = f"{r['device_median_ms']:.3f}" if r["device_median_ms"] is not None else "-"
    print(f"{r['model']:10} {r['batch']:>5} {r['mode']:12} {r['median_ms']:>10.3f} {gpu:>9} "
          f"{r['throughput_per_s']:>10.0f} {ratio:>9}")
print("isa:", sorted({r['isa'] for r in rows}))
PY
