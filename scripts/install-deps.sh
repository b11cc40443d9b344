#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs everything libnorm needs to build, test (natively, on emulated older x86 CPUs and
# for aarch64 under qemu-user), benchmark and run its examples (Open MPI for examples/mpi), on
# Debian 12; and what the hardening checks need: clang-14 with its compiler-rt libraries
# (libFuzzer, ASan, UBSan, TSan: libclang-rt-14-dev) for scripts/fuzz.sh and
# scripts/sanitizers.sh, and libabigail's abidw/abidiff (abigail-tools) for scripts/abi-check.sh. Safe to run again: it only calls apt when something is missing, and retries each
# apt step once (mirrors fail transiently).
set -euo pipefail

packages=(build-essential cmake meson ninja-build pkg-config libcpu-features-dev libsleef-dev libpthreadpool-dev check
          qemu-user libopenmpi-dev openmpi-bin
          clang-14 libclang-rt-14-dev abigail-tools)
if [ "$(dpkg --print-architecture)" = amd64 ]; then
    # The aarch64 cross toolchain and the arm64 builds of the libraries, for the NEON tier.
    # (Not pthreadpool: Debian's libpthreadpool-dev is not multi-arch, and its arm64 build
    # would replace the native one. The cross build goes without libnorm's own pool.)
    packages+=(gcc-aarch64-linux-gnu libc6-dev:arm64 libcpu-features-dev:arm64
               libsleef-dev:arm64 check:arm64)
fi

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
retry() { "$@" || { echo "install-deps: retrying: $*" >&2; sleep 10; "$@"; }; }

if [ "$(dpkg --print-architecture)" = amd64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
fi

# dpkg-query prints one "install ok installed" line per installed package it knows of.
have=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c '^install ok installed$' || true)
if [ "$have" -ne "${#packages[@]}" ]; then
    retry $sudo apt-get update -q
    retry $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi
echo "install-deps: all ${#packages[@]} packages present"
