#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang with ASan and UBSan) and runs each for
# SECONDS (default 60) on its seed corpus. A crash leaves its input in build-fuzz/artifacts/ and
# fails the run: add that file to tests/fuzz/regressions/<target>/ with the fix, and the unit
# test FuzzRegressions replays it from then on.
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (targets: onnx_import npy npz idx image quant_config qdq_import project)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx_import npy npz idx image quant_config qdq_import project)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
out=build-fuzz/fuzz
mkdir -p "$out/artifacts"
status=0
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  # Seeds: small files kept in the repo, plus real models for the importer.
  [ -d "tests/fuzz/seeds/$t" ] && cp -n tests/fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  if [ "$t" = qdq_import ]; then
    for d in /usr/share/libonnx-testdata/data/node/test_*quantizelinear*; do
      [ -f "$d/model.onnx" ] && cp -n "$d/model.onnx" "$corpus/$(basename "$d").onnx" 2>/dev/null || true
    done
  fi
  if [ "$t" = onnx_import ]; then
    cp -n resources/models/*.onnx tests/models/*.onnx "$corpus"/ 2>/dev/null || true
    for d in /usr/share/libonnx-testdata/data/node/test_*; do
      [ -f "$d/model.onnx" ] && cp -n "$d/model.onnx" "$corpus/$(basename "$d").onnx" 2>/dev/null || true
    done
  fi
  echo "fuzz_$t: ${seconds}s on $(ls "$corpus" | wc -l) inputs"
  if ! "build-fuzz/bin/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$corpus" \
      >"$out/$t.log" 2>&1; then
    echo "fuzz_$t FOUND A CRASH: $(ls -t "$out"/artifacts/"$t"-* | head -1)"
    grep -m3 -E "ERROR|runtime error|SUMMARY" "$out/$t.log" || true
    status=1
  else
    grep -E "stat::number_of_executed_units" "$out/$t.log" | sed "s/^/  /" || true
  fi
done
exit $status
