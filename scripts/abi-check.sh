#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ABI check: libnorm.so's exported symbols (with their version node, src/libnorm.map) and the
# public types they reach (norm_params' layout, norm_moments, the enums), as libabigail's abidw
# sees them in a debug-info build, compared by abidiff with the committed baseline
# abi/libnorm.abi. Fails on an incompatible change: a function removed or re-versioned, a type
# changed (a field moved, resized or retyped, an enumerator's value changed, a parameter's type).
# Passes, and says so, on compatible ones: functions added, enumerators added, fields appended to
# norm_params (struct_size guards them).
#
#   scripts/abi-check.sh            check against the baseline
#   scripts/abi-check.sh --update   rewrite abi/libnorm.abi from this tree (an intended change:
#                                   README, "ABI check")
#
# The build (ABI_BUILD_DIR, default build-abi) is a debug build of the scalar kernels only: what
# is exported, and every type it uses, does not depend on the tiers compiled in, and this takes
# seconds. The baseline holds no paths or source locations, so it does not depend on the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${ABI_BUILD_DIR:-build-abi}
update=false
case ${1:-} in
    --update) update=true ;;
    "") ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

opts=(-Dbuildtype=debug -Dtests=disabled -Dbench=disabled)
# Every SIMD tier off, for whatever architecture this is.
for isa in $(sed -n "s/^option('\([a-z0-9]*\)', type: 'feature'.*description: '.*kernels.*/\1/p" meson_options.txt); do
    opts+=("-D$isa=disabled")
done
if [ -d "$dir/meson-private" ]; then
    meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null
else
    meson setup "$dir" "${opts[@]}" >/dev/null
fi
ninja -C "$dir" | tail -n 1

current=$(mktemp --suffix=.abi)
trap 'rm -f "$current"' EXIT
abidw --headers-dir include --drop-private-types --no-corpus-path --no-comp-dir-path --no-show-locs --out-file "$current" "$dir/libnorm.so"

if $update; then
    cat "$current" >abi/libnorm.abi
    echo "abi-check: abi/libnorm.abi rewritten from $dir/libnorm.so: review 'git diff abi/' and commit it"
    exit 0
fi

# abidiff's status is a bit field: 1 error, 2 usage, 4 a change it reports, 8 an incompatible
# one (a symbol removed). Compatible changes are left out before it counts: added symbols
# (--no-added-syms; listed below) and libabigail's harmless changes (added enumerators). So bit
# 8 fails, and bit 4 fails unless the change is fields appended to norm_params, which callers'
# struct_size guards: that is tested by comparing again with those fields cut off the current
# struct (a copy of its XML), so that a tail addition made together with any other change to
# norm_params still fails. (libabigail 2.2's has_data_member_inserted_at suppression cannot do
# this: it also hid two fields swapped.)
status=0
abidiff --no-added-syms abi/libnorm.abi "$current" || status=$?
if [ $((status & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed to run (status $status)" >&2
    exit 1
fi
first=$status
verdict="compatible: symbols or enumerators added"
if [ "$status" -eq 4 ]; then
    cut=$(mktemp --suffix=.abi)
    trap 'rm -f "$current" "$cut"' EXIT
    python3 - abi/libnorm.abi "$current" "$cut" <<'PY'
import sys
import xml.etree.ElementTree as ET
base, cur, out = sys.argv[1:]
def params(tree):
    return [c for c in tree.iter('class-decl') if c.get('name') == 'norm_params' and c.get('size-in-bits')]
old, new = ET.parse(base), ET.parse(cur)
size = int(params(old)[0].get('size-in-bits'))
for c in params(new):
    for m in list(c.findall('data-member')):
        if int(m.get('layout-offset-in-bits')) >= size:
            c.remove(m)
    c.set('size-in-bits', str(size))
new.write(out)
PY
    status=0
    abidiff --no-added-syms abi/libnorm.abi "$cut" >/dev/null || status=$?
    verdict="compatible: fields appended to norm_params (guarded by struct_size)"
fi
if [ "$status" -ne 0 ]; then
    echo "abi-check: FAILED: an incompatible ABI change against abi/libnorm.abi (above). If it is intended," >&2
    echo "abi-check: it needs a new soname (libnorm.so.1) and a new baseline; see README, \"ABI check\"." >&2
    exit 1
fi
if abidiff abi/libnorm.abi "$current" >/dev/null; then
    echo "abi-check: no change against abi/libnorm.abi that libabigail reports (it lets harmless ones, such as an enumerator appended, pass unreported)"
else
    # Compatible, but the baseline should record it (what was added, unless printed above).
    [ "$first" -ne 0 ] || abidiff abi/libnorm.abi "$current" || true
    echo "abi-check: $verdict; run scripts/abi-check.sh --update to record it in the baseline"
fi
