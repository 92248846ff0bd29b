#!/usr/bin/env bash
# First command of the README: installs what is missing, builds, and shows Quantscope working on
# the bundled models. With a display it opens the workbench window on the bundled sample; without
# one (or when the GUI was not built) it runs the CLI demo: every bundled model evaluated on
# Fashion-MNIST, as a table of accuracy and speed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default
echo
if [ -x build/bin/quantscope ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec build/bin/quantscope
fi
build/bin/quantscope-cli demo
