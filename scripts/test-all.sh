#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test libnorm has, failing on the first failure:
#   1. native build, full suite (every tier this CPU has: avx512 here, where present);
#   2. the examples (scripts/examples.sh): C, C++, CMake, Python, MPI and a Meson parent
#      project, built and run against an install of that build;
#   3. the same x86 binaries on emulated older CPUs, which must pick and pass sse2 (Nehalem)
#      and avx2 (Haswell): real dispatch on real (emulated) hardware, not a forced cap;
#   4. an aarch64 cross build, full suite under qemu-user, for the scalar and neon tiers;
#   5. the ABI check against abi/libnorm.abi (scripts/abi-check.sh);
#   6. the suite under ASan+UBSan and the tier-switching test under TSan (scripts/sanitizers.sh);
#   7. the differential fuzzer, FUZZ_SECONDS per tier (scripts/fuzz.sh; default 30, 0 skips it).
# Emulated runs set NORM_TEST_QUICK=1 (fewer of the largest cases) and CK_FORK=no.
# Build directories default to build/ and build-arm64/ (override: BUILD_DIR, ARM_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build}
arm_build=${ARM_BUILD_DIR:-build-arm64}

section() { printf '\n===== %s =====\n' "$*"; }

setup() { # dir [meson args...]
    local dir=$1; shift
    if [ -d "$dir/meson-private" ]; then
        meson setup --reconfigure "$dir" "$@" | sed -n '/^libnorm/,$p'
    else
        meson setup "$dir" "$@" | sed -n '/^libnorm/,$p'
    fi
    ninja -C "$dir" | tail -n 1
}

section "native ($(uname -m))"
setup "$build"
meson test -C "$build" -v --print-errorlogs

section "examples, against an install of $build"
BUILD_DIR=$build ./scripts/examples.sh

if [ "$(uname -m)" = x86_64 ]; then
    section "x86-64 emulated as Nehalem (SSE2 only): must select sse2"
    meson test -C "$build" -v --print-errorlogs --setup nehalem --suite norm
    section "x86-64 emulated as Haswell (AVX2+FMA, no AVX-512): must select avx2"
    meson test -C "$build" -v --print-errorlogs --setup haswell --suite norm

    section "aarch64 cross build under qemu-user: scalar and neon"
    setup "$arm_build" --cross-file cross/aarch64-linux-gnu.ini
    meson test -C "$arm_build" -v --print-errorlogs --suite norm
fi

section "ABI: libnorm.so against abi/libnorm.abi"
./scripts/abi-check.sh

section "sanitizers: the suite under ASan+UBSan, tier switching under TSan"
./scripts/sanitizers.sh

# Every finding so far is fixed and replayed by the fuzz-corpus test above; this looks for new
# ones, on every tier this CPU runs. A finding fails the run (its input is left in
# build-asan/fuzz-artifacts/ for tests/fuzz/corpus/).
fuzz_seconds=${FUZZ_SECONDS:-30}
# Under CI the fuzzer's choices are seeded, so that a run explores the same inputs for the same
# code; elsewhere each run explores new ones (FUZZ_SEED=N reproduces one).
if [ -n "${CI:-}" ]; then
    export FUZZ_SEED=${FUZZ_SEED:-1}
fi
if [ "$fuzz_seconds" -gt 0 ]; then
    section "fuzz_norm: ${fuzz_seconds} s per tier (libFuzzer, ASan+UBSan)"
    ./scripts/fuzz.sh "$fuzz_seconds"
else
    section "fuzz_norm: not run (FUZZ_SECONDS=0)"
fi

section "all test runs passed"
