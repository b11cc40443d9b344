#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs every program in examples/ against libnorm as its users get it, printing
# each command and failing on the first failure:
#   1. the build installed with `meson install --destdir` into a temporary directory;
#   2. examples/c and examples/cpp, compiled with pkg-config's flags for that install (the C
#      program with an rpath, the C++ one run through LD_LIBRARY_PATH);
#   3. examples/cmake: a CMake project, find_package(norm CONFIG REQUIRED) and norm::norm;
#   4. examples/python, and python/test_libnorm.py, on the installed libnorm.so;
#   5. examples/mpi: tensor-parallel RMSNorm over Open MPI, mpirun -np 3 and -np 4;
#   6. examples/meson-parent: libnorm as a Meson subproject (a symlink to this tree), which
#      must build no libnorm tests or bench and install nothing.
# BUILD_DIR (default build/) is the build that is installed; it is set up and built if needed.
# KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build}
start=$SECONDS

work=$(mktemp -d "${TMPDIR:-/tmp}/norm-examples.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "examples: working in $work (kept)"
else
    trap 'rm -rf "$work"' EXIT
fi

step() { printf '\n--- examples: %s\n' "$*"; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

# 1. Install ----------------------------------------------------------------------------
step "install $build into a temporary directory"
if [ ! -d "$build/meson-private" ]; then
    run meson setup "$build"
fi
run ninja -C "$build" >/dev/null
run meson install -C "$build" --no-rebuild --quiet --destdir "$work/stage"
# Where the files went: the build's prefix and libdir under the destdir.
read -r prefix libdir < <(meson introspect "$build" --buildoptions | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], os.path.join(o["prefix"], o["libdir"]))')
P=$work/stage$prefix
L=$work/stage$libdir
ls "$L"/libnorm.so* "$L"/pkgconfig/norm.pc "$L"/cmake/norm/normConfig.cmake \
   "$L"/cmake/norm/normConfigVersion.cmake "$P"/include/norm.h >/dev/null

# The .pc file names the configured prefix; a --destdir install moves it, so it is redefined
# (for an install into its own prefix, PKG_CONFIG_PATH alone is enough).
export PKG_CONFIG_PATH=$L/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pc() { pkg-config --define-variable=prefix="$P" "$@" norm; }
printf '+ pkg-config --cflags --libs norm: %s\n' "$(pc --cflags --libs)"
printf '+ pkg-config --static --libs norm: %s\n' "$(pc --static --libs)"
if pc --static --libs | grep -q '/[^ ]*\.a\b'; then
    echo "examples: norm.pc names a static archive by its path" >&2
    exit 1
fi

# 2. C and C++ ----------------------------------------------------------------------------
step "C: examples/c/rmsnorm.c (pkg-config, rpath)"
# shellcheck disable=SC2046
run cc -std=c11 -Wall -Wextra -Werror examples/c/rmsnorm.c $(pc --cflags --libs) -lm \
    -Wl,-rpath,"$L" -o "$work/rmsnorm"
run "$work/rmsnorm"

step "C++: examples/cpp/layernorm.cpp (pkg-config, LD_LIBRARY_PATH)"
# shellcheck disable=SC2046
run c++ -std=c++17 -Wall -Wextra -pedantic -Werror examples/cpp/layernorm.cpp $(pc --cflags --libs) \
    -o "$work/layernorm"
run env LD_LIBRARY_PATH="$L" "$work/layernorm"

# 3. CMake --------------------------------------------------------------------------------
step "CMake: examples/cmake (find_package(norm CONFIG REQUIRED), norm::norm)"
run cmake -S examples/cmake -B "$work/cmake" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
    | grep -E 'libnorm|Configuring done|Generating done'
run cmake --build "$work/cmake" | tail -n 1
run "$work/cmake/norm-cmake-example"

# 4. Python -------------------------------------------------------------------------------
step "Python: examples/python/example.py and python/test_libnorm.py (ctypes)"
run env NORM_LIBRARY="$L/libnorm.so.0" PYTHONPATH="$root/python" python3 examples/python/example.py
# Without NORM_LIBRARY: ctypes.util.find_library('norm') through LD_LIBRARY_PATH.
run env -u NORM_LIBRARY LD_LIBRARY_PATH="$L" PYTHONPATH="$root/python" python3 -c \
    'import libnorm; print("found by find_library:", libnorm.library().path, libnorm.rmsnorm([3.0, 4.0])[0])'
run env NORM_LIBRARY="$L/libnorm.so.0" PYTHONPATH="$root/python" python3 python/test_libnorm.py 2>&1 | tail -n 1
# (tail hides unittest's list; a failure still fails the pipeline: pipefail)

# 5. MPI ----------------------------------------------------------------------------------
step "MPI: examples/mpi/tp_rmsnorm.c, tensor-parallel RMSNorm"
if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
    echo "examples: mpicc/mpirun not found (Debian: libopenmpi-dev openmpi-bin; scripts/install-deps.sh)" >&2
    exit 1
fi
# shellcheck disable=SC2046
run mpicc -std=c11 -Wall -Wextra -Werror examples/mpi/tp_rmsnorm.c $(pc --cflags --libs) -lm \
    -Wl,-rpath,"$L" -o "$work/tp_rmsnorm"
if [ "$(id -u)" -eq 0 ]; then
    # Open MPI refuses to start as root without both of these.
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# More ranks than cores is fine for a correctness check (--oversubscribe); shared memory
# only, so that nothing probes for network fabrics in a container.
for np in 3 4; do
    run env OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
        mpirun --oversubscribe -np "$np" "$work/tp_rmsnorm"
done

# 6. Meson subproject ---------------------------------------------------------------------
step "Meson: examples/meson-parent, libnorm as a subproject"
cp -r examples/meson-parent "$work/meson-parent"
mkdir "$work/meson-parent/subprojects"
ln -s "$root" "$work/meson-parent/subprojects/libnorm"
# The scalar tier only: the SIMD kernels take minutes to compile and are tested elsewhere;
# what is checked here is how libnorm behaves as a subproject.
run meson setup "$work/meson-parent-build" "$work/meson-parent" --force-fallback-for=norm \
    -Dlibnorm:sse2=disabled -Dlibnorm:avx2=disabled -Dlibnorm:avx512=disabled \
    -Dlibnorm:avx512bf16=disabled -Dlibnorm:neon=disabled > "$work/meson-parent-setup.log"
if grep -n 'WARNING' "$work/meson-parent-setup.log"; then
    echo "examples: configuring the parent project printed a warning" >&2
    exit 1
fi
sed -n '/^libnorm/,/^norm-parent/p' "$work/meson-parent-setup.log" | grep -E '^ +(library|install|tests|bench)'
run python3 - "$work/meson-parent-build" <<'EOF'
# No libnorm test or bench target, no test but the parent's, nothing installed.
import json, subprocess, sys
def introspect(what):
    return json.loads(subprocess.check_output(['meson', 'introspect', sys.argv[1], what]))
targets = [t['name'] for t in introspect('--targets')]
tests = [t['name'] for t in introspect('--tests')]
installed = introspect('--installed')
print('targets:', ' '.join(sorted(targets)))
print('tests:', ' '.join(tests), '| installed:', installed or 'nothing')
unwanted = {'checkasm', 'api', 'norm-bench', 'header_cxx', 'norm_bench_reference'}
bad = unwanted.intersection(targets) or tests != ['norm-parent'] or installed
sys.exit('examples: the subproject built or installed more than the library' if bad else 0)
EOF
run ninja -C "$work/meson-parent-build" >/dev/null
run meson test -C "$work/meson-parent-build" --print-errorlogs | grep -E '^ *[0-9]+/[0-9]+ |^Ok:|^Fail:'
run "$work/meson-parent-build/norm-parent"

step "all examples passed ($((SECONDS - start)) s)"
