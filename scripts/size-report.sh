#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the kernels cost to ship and to build: the code size of libnorm.so and of each tier's
# kernel objects (size(1)'s text), and the CPU time of a clean release build. Run it before and
# after a change to the kernels to see what the change costs.
#   scripts/size-report.sh            a clean build in a temporary directory, then the report
#   scripts/size-report.sh BUILD_DIR  the report for an existing build (no build time)
set -euo pipefail
cd "$(dirname "$0")/.."

report() { # build dir
    local dir=$1
    printf '%-28s %10s\n' "object" "text bytes"
    for obj in "$dir"/libnorm_*.a.p/*.o; do
        [ -e "$obj" ] || continue
        printf '%-28s %10s\n' "$(basename "$obj" .c.o)" "$(size -A "$obj" | awk '$1 ~ /^\.text/ {s += $2} END {print s + 0}')"
    done
    local so
    so=$(ls "$dir"/libnorm.so.*.*.* 2>/dev/null | head -n 1 || true)
    [ -n "$so" ] && printf '%-28s %10s\n' "libnorm.so (text)" "$(size -A "$so" | awk '$1 == ".text" {print $2}')"
    return 0
}

if [ $# -ge 1 ]; then
    report "$1"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
meson setup "$dir" -Dtests=disabled -Dbench=disabled >/dev/null
# CPU time of the build's children (the compilers), whatever the parallelism.
TIMEFORMAT='%U %S %R'
t=$( { time ninja -C "$dir" >/dev/null; } 2>&1 )
read -r user sys real <<<"$t"
report "$dir"
awk -v u="$user" -v s="$sys" -v r="$real" -v c="$(nproc)" \
    'BEGIN { printf "release build: %.1f CPU-s (user %.1f + sys %.1f), %.1f s wall on %d cores\n", u + s, u, s, r, c }'
