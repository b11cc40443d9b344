#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start: install the dependencies, build libnorm (release), run the benchmark.
# Arguments are passed to the benchmark (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
if [ -d build/meson-private ]; then meson setup --reconfigure build; else meson setup build; fi
ninja -C build
build/bench/norm-bench "$@"
