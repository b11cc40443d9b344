#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test suite under sanitizers:
#   1. AddressSanitizer + UndefinedBehaviorSanitizer: every Meson test of the clang-14 build that
#      scripts/asan-build.sh sets up (ASAN_BUILD_DIR, default build-asan; the same build
#      scripts/fuzz.sh fuzzes with), any UBSan report fatal. The Python test loads libnorm.so
#      into a Python that has no sanitizer runtime, so it runs with the ASan runtime preloaded
#      (and without leak detection: the interpreter's own allocations are not ours).
#   2. ThreadSanitizer, in its own build (TSAN_BUILD_DIR, default build-tsan; clang-14 with
#      -Db_sanitize=thread), with every SIMD tier compiled in: tsan-dispatch (threads switching
#      norm_set_max_isa while others call every entry point) and, where the suite has it,
#      threads-concurrent. A race report fails the test (halt_on_error).
# Fails on the first failing step. SAN_TIMEOUT_MULTIPLIER (default 4) stretches Meson's timeouts;
# ASAN_BUILD_ARGS and TSAN_BUILD_ARGS add Meson options to either build (e.g. fewer tiers while
# developing: the complete run, and CI, build every tier).
set -euo pipefail
cd "$(dirname "$0")/.."

asan=${ASAN_BUILD_DIR:-build-asan}
tsan=${TSAN_BUILD_DIR:-build-tsan}
mult=${SAN_TIMEOUT_MULTIPLIER:-4}
section() { printf '\n----- %s -----\n' "$*"; }

section "ASan+UBSan: the full test suite ($asan, clang-14)"
./scripts/asan-build.sh "$asan"
ninja -C "$asan" | tail -n 1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The tests' names from Meson's JSON (meson test --list prefixes some with project and suite).
test_names() { meson introspect --tests "$1" | python3 -c 'import json, sys; print("\n".join(t["name"] for t in json.load(sys.stdin)))'; }
all=$(test_names "$asan")
native=$(grep -vx python <<<"$all" || true)
# Leaks that are not libnorm's (Check's bookkeeping in forked children, libomp's thread team)
# are suppressed by name in tests/lsan.supp; every other leak fails the run.
# shellcheck disable=SC2086
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    meson test -C "$asan" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" $native
if grep -qx python <<<"$all"; then
    asan_rt=$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)
    case $(uname -m) in aarch64) asan_rt=$(clang-14 -print-file-name=libclang_rt.asan-aarch64.so) ;; esac
    LD_PRELOAD=$asan_rt ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
        meson test -C "$asan" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" python
fi

section "TSan: tier switching under concurrent calls ($tsan, clang-14)"
# shellcheck disable=SC2206
topts=(-Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dbench=disabled ${TSAN_BUILD_ARGS:-})
if [ -d "$tsan/meson-private" ]; then
    meson setup --reconfigure "$tsan" "${topts[@]}" >/dev/null
else
    CC=${SAN_CC:-clang-14} CXX=${SAN_CXX:-clang++-14} meson setup "$tsan" "${topts[@]}" | sed -n '/^  Kernels/,/^$/p'
fi
tests=(tsan-dispatch)
if test_names "$tsan" | grep -qx threads-concurrent; then
    tests+=(threads-concurrent)
else
    echo "sanitizers.sh: no test named threads-concurrent in this tree: only tsan-dispatch runs under TSan"
fi
# Only what those tests run (the library with every tier's kernels, and their programs), not
# the whole suite: the programs' paths from Meson's list of tests.
programs=$(meson introspect --tests "$tsan" | python3 -c '
import json, os, sys
build, names = os.path.abspath(sys.argv[1]), sys.argv[2:]
for t in json.load(sys.stdin):
    if t["name"] in names:
        print(os.path.relpath(t["cmd"][0], build))' "$tsan" "${tests[@]}" | sort -u)
# shellcheck disable=SC2086
ninja -C "$tsan" $programs | tail -n 1
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    meson test -C "$tsan" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" "${tests[@]}"

section "sanitizers: ASan+UBSan suite and TSan tests passed"
