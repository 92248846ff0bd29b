#!/usr/bin/env bash
# First command of the README: installs what is missing, builds, and shows Quantscope working on
# the bundled models. Until the workbench window exists this runs the CLI demo: every bundled
# model evaluated on Fashion-MNIST, as a table of accuracy and speed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default
echo
build/bin/quantscope-cli demo
