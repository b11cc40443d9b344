#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes fuzz_norm's seed corpus (tests/fuzz/corpus/seed-*, regress-*) from named cases.

Each case is encoded in the input format fuzz_norm.c documents at its top; the file name says
what the case is. libFuzzer starts from these and mutates them; the Meson test fuzz-corpus
replays them in every build. Files the fuzzer itself found (crash-*, or inputs merged from a
run, which have hash names) are kept alongside and are not touched by this script.

    python3 tests/fuzz/make_seeds.py            # rewrites tests/fuzz/corpus/{seed,regress}-*
"""
import os
import struct
import sys

RUN, MOMENTS, DENSE = 0, 1, 2
F32, F16, BF16, I8 = 0, 1, 2, 3
# byte 1
LN, EPS_OUT, UNIT, GATE_BEFORE, GATE, RES, BIAS, STATS = (1 << i for i in range(8))
# byte 3
P_IS_X, HAS_G, HAS_B, IN_PLACE = 1, 2, 4, 8
H_OWN, H_RESIDUAL, H_X = 0, 1, 2
DYN, MOM = 64, 128
# distributions
NORMAL, BIGMEAN, CONST, ZEROS, UNIFORM, SUBNORMAL, HUGE, MIXED, AROUND = range(9)
# eps_table indices
EPS = {0.0: 0, 1e-6: 1, 1e-5: 2, 1e-2: 3, 1.0: 4, 'min': 5, 1e-30: 6, 1e10: 7}
# scale_table indices
SCALE = {'1/127': 0, 0.05: 1, 1.0: 2, 0.25: 3, '2^-127': 4, '2^-128': 5, '2^-149': 6, 1e30: 7, 3e38: 8}
# special values (high nibble of a poke)
NAN, PINF, NINF, FMAX, NFMAX, TRUEMIN, NZERO, E30, NE30, FMIN, SNAN, EM30, H16MAX, E38, NSUB, E20 = range(16)
# poke buffers
PX, PR, PZ, PG, PB, PBIAS = 0, 1, 2, 3, 4, 5
# mutations
M_SIZE, M_KIND, M_FLAG, M_TYPE, M_N0, M_STRIDE, M_EPS, M_NULL, M_OVERLAP, M_SCALE, M_MOMENTS, \
    M_ROWS, M_GATE_MIX, M_MEAN, M_HUGE_STRIDE, M_APPLY = range(16)


def case(entry=RUN, flags=0, xt=F32, yt=F32, b3=HAS_G, rows=3, n=64, extras=(0, 0, 0, 0, 0),
         offs=(0, 0, 0, 0), eps=1e-5, scale=1.0, seed=1, xd=NORMAL, gd=AROUND, rd=NORMAL, zd=NORMAL,
         bd=NORMAL, mv=0, ex=150, eg=150, ez=150, muts=(), pokes=()):
    out = bytearray()
    out += bytes([entry, flags, xt | yt << 4, b3, rows])
    nv = n - 1 if n <= 300 else 0x8000 | (n - 1)
    out += struct.pack('<H', nv)
    field = 0
    for i, e in enumerate(extras):
        field |= (e & 7) << (3 * i)
    for i, o in enumerate(offs):
        field |= (o & 3) << (15 + 2 * i)
    out += struct.pack('<I', field)[:3]
    out += bytes([EPS[eps], SCALE[scale]])
    out += struct.pack('<Q', seed)
    out += bytes([xd | gd << 4, rd | zd << 4, bd | mv << 4, ex, eg, ez])
    out += bytes([len(muts)])
    for what, value in muts:
        out += bytes([what, value])
    for buf, val, idx in pokes:
        out += bytes([buf | val << 4]) + struct.pack('<H', idx)
    return bytes(out)


def cases():
    c = {}
    # Every type combination, both norms, with strides and offsets.
    for xt in (F32, F16, BF16):
        for yt in (F32, F16, BF16, I8):
            for p in (0, P_IS_X):
                name = 'seed-types-x%d-y%d-p%d' % (xt, yt, p)
                c[name] = case(flags=LN * (yt % 2) | STATS, xt=xt, yt=yt, b3=HAS_G | HAS_B | p | DYN * (xt == BF16),
                               rows=4, n=37 + 16 * xt, extras=(1, 3, 0, 0, 0), offs=(1, 2, 3, 1), seed=100 + xt * 8 + yt,
                               scale='1/127')
    c['seed-rms-plain'] = case(rows=4, n=64)
    c['seed-ln-eps-outside'] = case(flags=LN | EPS_OUT | STATS, b3=HAS_G | HAS_B, eps=1e-2, rows=5, n=33)
    c['seed-rms-in-place'] = case(b3=HAS_G | IN_PLACE, extras=(2, 0, 0, 0, 0), rows=3, n=19)
    c['seed-unit-offset'] = case(flags=UNIT, b3=HAS_G | HAS_B, rows=2, n=71)
    c['seed-unit-offset-no-gamma'] = case(flags=UNIT, b3=0, rows=2, n=8)
    c['seed-rows0'] = case(rows=0, n=16)
    c['seed-one-element'] = case(flags=LN | STATS, rows=6, n=1, eps=0.0)
    # The fused residual add: its own write-back, over the residual, over x; with a bias.
    for h in (H_OWN, H_RESIDUAL, H_X):
        for xt in (F32, BF16):
            c['seed-residual-h%d-x%d' % (h, xt)] = case(flags=RES | BIAS | STATS | LN * (h == 1), xt=xt, yt=xt,
                                                        b3=HAS_G | h << 4, rows=4, n=45 + h, extras=(0, 1, 2, 3, 0),
                                                        seed=200 + h)
    # Gated RMSNorm, both orders, every storage type.
    for before in (0, GATE_BEFORE):
        for xt in (F32, F16, BF16):
            c['seed-gate-%s-x%d' % ('before' if before else 'after', xt)] = case(
                flags=GATE | before | STATS, xt=xt, yt=(xt + 1) % 3, b3=HAS_G, rows=4, n=50 + xt, extras=(0, 0, 0, 0, 3),
                seed=300 + xt)
    c['seed-gate-int8-dynamic'] = case(flags=GATE, yt=I8, b3=HAS_G | DYN, rows=3, n=70)
    c['seed-int8-static-ln'] = case(flags=LN, yt=I8, b3=HAS_G | HAS_B, rows=3, n=70, scale=0.05)
    c['seed-int8-residual'] = case(flags=RES, xt=F16, yt=I8, b3=HAS_G | DYN, rows=3, n=40)
    # Given moments, with each variant the decoder knows.
    for mv in range(6):
        c['seed-moments-v%d' % mv] = case(flags=LN * (mv % 2) | STATS, b3=HAS_G | MOM, rows=3, n=30, mv=mv, bd=NORMAL)
    c['seed-moments-gate-before'] = case(flags=GATE | GATE_BEFORE, b3=HAS_G | MOM, rows=2, n=25)
    # norm_moments_run.
    c['seed-moments-run-ln'] = case(entry=MOMENTS, flags=LN, rows=4, n=100, xt=F16)
    c['seed-moments-run-residual'] = case(entry=MOMENTS, flags=RES | BIAS | LN, b3=H_X << 4, rows=3, n=20)
    c['seed-moments-run-gate'] = case(entry=MOMENTS, flags=GATE, rows=3, n=33, xt=BF16)
    # The dense entry points.
    for xt in (F32, F16, BF16):
        c['seed-dense-x%d' % xt] = case(entry=DENSE, flags=LN * (xt % 2), xt=xt, b3=HAS_G | HAS_B | IN_PLACE * (xt == 2),
                                        rows=3, n=31)
    # Long rows: the paths for 512 and 1024 elements and more (vdpbf16ps sums, one row at a time).
    c['seed-long-bf16'] = case(xt=BF16, yt=BF16, b3=HAS_G | P_IS_X, rows=2, n=1030)
    c['seed-long-ln'] = case(flags=LN | STATS, b3=HAS_G | HAS_B, rows=2, n=4100, xd=BIGMEAN)
    # Values: large means, constant rows, zeros, subnormals, huge, mixed magnitudes.
    c['seed-ln-big-mean'] = case(flags=LN | STATS, rows=4, n=200, xd=BIGMEAN)
    c['seed-ln-constant-eps0'] = case(flags=LN | STATS, rows=3, n=40, xd=CONST, eps=0.0)
    c['seed-rms-zeros-eps0'] = case(flags=STATS, rows=3, n=40, xd=ZEROS, eps=0.0)
    c['seed-rms-subnormal-eps0'] = case(flags=STATS, rows=3, n=40, xd=SUBNORMAL, eps=0.0)
    c['seed-ln-huge'] = case(flags=LN | STATS, rows=3, n=40, xd=HUGE)
    c['seed-rms-mixed'] = case(rows=3, n=90, xd=MIXED, eps=1e-6)
    c['seed-specials-x'] = case(flags=LN | STATS, b3=HAS_G | HAS_B, rows=4, n=40,
                                pokes=[(PX, NAN, 3), (PX, PINF, 45), (PX, NINF, 90), (PX, SNAN, 130)])
    c['seed-specials-gamma'] = case(b3=HAS_G | HAS_B, rows=2, n=40, pokes=[(PG, PINF, 5), (PB, NAN, 7), (PG, NZERO, 9)])
    c['seed-specials-residual'] = case(flags=RES | BIAS, b3=HAS_G, rows=3, n=40,
                                       pokes=[(PR, NAN, 1), (PX, NAN, 1), (PBIAS, PINF, 4), (PR, FMAX, 50)])
    # Regression inputs for issue #14's findings.
    #  1. a garbage struct_size (an uninitialised field), and the sizes around the accepted ones
    for v, what in ((0, 'max'), (1, 'odd'), (2, '129'), (3, '513'), (4, '520'), (5, '0'), (6, '8'), (8, '1024'),
                    (9, 'v0.1.0'), (10, 'v0.1.1'), (11, 'newer'), (12, 'newer-tail'), (13, '512'), (14, '512-tail'),
                    (15, '4096')):
        c['regress-struct-size-%s' % what] = case(flags=STATS, rows=2, n=16, muts=[(M_SIZE, v | 0x10)])
        c['regress-struct-size-%s-moments-run' % what] = case(entry=MOMENTS, rows=2, n=16, muts=[(M_SIZE, v | 0x10)])
    #  3. a subnormal static int8 scale (1/s not finite in f32), next to the smallest valid ones
    for s in ('2^-149', '2^-128', '2^-127'):
        for flags in (0, LN, GATE):
            c['regress-int8-scale-%s-f%d' % (s, flags)] = case(flags=flags, yt=I8, b3=HAS_G, rows=3, n=21, scale=s)
    #  2, 3. gated RMSNorm with huge and infinite gates (the shape: rows 6, n 39, eps
    #  outside the root, f16 x, bf16 y, f32 gamma), both orders, and with an int8 output
    for before in (0, GATE_BEFORE):
        tag = 'before' if before else 'after'
        c['regress-gate-huge-%s' % tag] = case(flags=GATE | before | EPS_OUT, xt=F16, yt=BF16, b3=HAS_G, rows=6, n=39,
                                               zd=HUGE, seed=39)
        c['regress-gate-inf-%s' % tag] = case(flags=GATE | before | EPS_OUT | STATS, xt=F16, yt=BF16, b3=HAS_G, rows=6,
                                              n=39, pokes=[(PZ, PINF, 3), (PZ, NINF, 41), (PZ, E30, 80), (PZ, NE30, 120),
                                                           (PZ, PINF, 200), (PZ, NINF, 201)])
        c['regress-gate-huge-f32-%s' % tag] = case(flags=GATE | before | EPS_OUT, b3=HAS_G, rows=6, n=39, ez=150 + 100,
                                                   zd=MIXED, seed=7)
        c['regress-gate-inf-int8-%s' % tag] = case(flags=GATE | before, yt=I8, b3=HAS_G, rows=4, n=39, scale=0.05,
                                                   pokes=[(PZ, PINF, 3), (PZ, NINF, 50), (PX, PINF, 90), (PX, NAN, 130)])
        c['regress-gate-inf-int8-dyn-%s' % tag] = case(flags=GATE | before, yt=I8, b3=HAS_G | DYN, rows=4, n=39,
                                                       pokes=[(PZ, PINF, 3), (PZ, NINF, 50), (PX, PINF, 90)])
    #  3 (second half). rows holding non-finite values with an int8 output, no gate
    c['regress-int8-inf-rows'] = case(yt=I8, b3=HAS_G, rows=3, n=39, scale=0.05, pokes=[(PX, PINF, 3), (PX, NAN, 45)])
    #  5. the underflow edge: gamma ~ 2^-132, eps outside the root
    for flags in (EPS_OUT, EPS_OUT | LN, EPS_OUT | LN | STATS):
        c['regress-underflow-gamma-2^-132-f%d' % flags] = case(flags=flags, b3=HAS_G, rows=4, n=67, eg=150 - 132,
                                                               gd=AROUND, eps=1.0)
    c['regress-underflow-gamma-2^-132-half'] = case(flags=EPS_OUT, xt=BF16, yt=F32, b3=HAS_G, rows=4, n=67, eg=18)
    #  6. NaN in both x and the residual (payloads may differ; which values are NaN may not)
    c['regress-residual-nan-nan'] = case(flags=RES, b3=HAS_G | H_RESIDUAL << 4, rows=2, n=20,
                                         pokes=[(PX, NAN, 5), (PR, SNAN, 5), (PX, SNAN, 9), (PR, NAN, 9)])
    #  7. LayerNorm with eps outside the root (supported)
    c['regress-ln-eps-outside'] = case(flags=LN | EPS_OUT | STATS, rows=3, n=30, eps=1.0)
    # Every other parameter mutation once: each makes the call invalid or probes a rule.
    for m in range(1, 16):
        for v in (0, 5):
            c['seed-invalid-m%d-v%d' % (m, v)] = case(flags=LN * (m == M_MEAN) | RES * (m == M_NULL) | STATS,
                                                      b3=HAS_G | MOM * (m == M_MOMENTS), rows=3, n=20,
                                                      muts=[(m, v)])
    return c


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, 'corpus')
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.startswith('seed-') or f.startswith('regress-'):
            os.remove(os.path.join(out, f))
    cs = cases()
    for name, data in sorted(cs.items()):
        with open(os.path.join(out, name.replace('^', '')), 'wb') as f:
            f.write(data)
    print('make_seeds: %d inputs in %s' % (len(cs), out), file=sys.stderr)


if __name__ == '__main__':
    main()
