#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the differential fuzz target tests/fuzz/fuzz_norm (libFuzzer; every tier against the
# scalar oracle, canaries, nothing written on error) for a bounded time on each tier this CPU
# runs, one libFuzzer run per tier, and prints executions per second and total executions.
#
#   scripts/fuzz.sh [SECONDS_PER_TIER]      (default 30)
#
# The build directory (FUZZ_BUILD_DIR, default build-asan) is clang-14 with ASan+UBSan over the
# whole library and -fsanitize=fuzzer-no-link for libFuzzer's coverage; it is set up here if
# needed and is the one scripts/sanitizers.sh runs the test suite in. Each tier starts from the
# committed corpus (tests/fuzz/corpus/, read only) and keeps what it finds in
# <build>/fuzz-corpus/<tier>/ across runs. A failure (a disagreement, a sanitizer report, a
# crash) stops the script with status 1 and leaves the input in <build>/fuzz-artifacts/: copy it
# into tests/fuzz/corpus/ to make it a regression input (the Meson test fuzz-corpus replays it).
# Environment: FUZZ_TIERS="avx2 avx512" runs those tiers only; FUZZ_SEED=N makes libFuzzer's
# choices reproducible (scripts/test-all.sh sets 1 under CI, so that a CI run explores the same
# inputs for the same code; unset, each run explores new ones).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
dir=${FUZZ_BUILD_DIR:-build-asan}
[[ $secs =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS_PER_TIER must be a number, not '$secs'" >&2; exit 2; }

./scripts/asan-build.sh "$dir"
ninja -C "$dir" tests/fuzz/fuzz_norm | tail -n 1
bin=$dir/tests/fuzz/fuzz_norm

# UBSan's findings abort (the build has -fno-sanitize-recover too); leaks are findings.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

if [ -n "${FUZZ_TIERS:-}" ]; then
    tiers=$FUZZ_TIERS
else
    tiers=$(NORM_ISA='' NORM_FUZZ_LIST_TIERS=1 "$bin" 2>/dev/null)
fi
if [ -z "$tiers" ]; then
    # No SIMD tier here: the oracle's own checks (canaries, nothing written on error) still run.
    echo "fuzz.sh: no tier above scalar on this CPU: fuzzing the scalar oracle's own checks only"
    tiers=oracle-only
fi

mkdir -p "$dir/fuzz-artifacts"
summary=()
for t in $tiers; do
    work=$dir/fuzz-corpus/$t
    mkdir -p "$work"
    log=$dir/fuzz-$t.log
    printf '\n----- fuzz_norm, tier %s, %s s -----\n' "$t" "$secs"
    env_tier=()
    [ "$t" = oracle-only ] || env_tier=(NORM_FUZZ_TIERS="$t")
    # -timeout: one input never takes a second; -max_len: the format needs ~30 bytes plus 3 per
    # special value. NORM_ISA is cleared so that every tier can be selected.
    seed=()
    [ -z "${FUZZ_SEED:-}" ] || seed=(-seed="$FUZZ_SEED")
    if ! env NORM_ISA="" "${env_tier[@]}" "$bin" "${seed[@]}" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
            -max_len=512 -rss_limit_mb=4096 -artifact_prefix="$dir/fuzz-artifacts/$t-" \
            "$work" tests/fuzz/corpus >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz.sh: tier $t FAILED: the input is in $dir/fuzz-artifacts/ (log: $log)." >&2
        echo "fuzz.sh: replay it with $dir/tests/fuzz/fuzz-replay FILE; copy it into tests/fuzz/corpus/ as a regression input." >&2
        exit 1
    fi
    grep -E '^fuzz_norm:|^INFO: (seed corpus|Loaded)|^#[0-9]+ +DONE' "$log" || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    summary+=("$(printf '%-12s %8s exec/s %10s executions  coverage %s edges' "$t" "${rate:-?}" "${execs:-?}" "${cov:-?}")")
done

printf '\n===== fuzz_norm: %s s per tier, no disagreement =====\n' "$secs"
printf '%s\n' "${summary[@]}"
