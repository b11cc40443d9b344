#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up (idempotently) the sanitizer build that scripts/sanitizers.sh runs the test suite in
# and scripts/fuzz.sh fuzzes with: clang-14, AddressSanitizer over the library, the kernels and
# the tests, UndefinedBehaviorSanitizer over all of them but the SIMD kernels (-Dsimd_ubsan=false,
# see meson.build: with it one kernel file took clang over 13 CPU-minutes; every UBSan check
# fatal: -fno-sanitize-recover=all), libFuzzer's coverage on everything
# (-fsanitize=fuzzer-no-link) and the libFuzzer target tests/fuzz/fuzz_norm (-Dfuzz=enabled).
#
#   scripts/asan-build.sh [BUILD_DIR]        (default build-asan)
#
# ASAN_BUILD_ARGS adds Meson options (e.g. "-Davx2=disabled" for a quicker build while
# developing). b_lundef=false: libnorm.so leaves the sanitizer runtimes' symbols to the program.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-build-asan}
# shellcheck disable=SC2206
extra=(${ASAN_BUILD_ARGS:-})
# shellcheck disable=SC2054 # (a Meson option whose value is a comma-separated list)
opts=(-Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=enabled -Dsimd_ubsan=false
      "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer"
      "-Dcpp_args=-fno-sanitize-recover=all" "${extra[@]}")
if [ -d "$dir/meson-private" ]; then
    # --reconfigure, not meson configure: it also takes options added to meson_options.txt since.
    meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null
else
    CC=${SAN_CC:-clang-14} CXX=${SAN_CXX:-clang++-14} meson setup "$dir" "${opts[@]}" | sed -n '/^libnorm/,$p'
fi
