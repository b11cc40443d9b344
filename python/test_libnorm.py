# SPDX-License-Identifier: MIT
"""Tests of python/libnorm.py against a pure-Python reference (standard library only).

    NORM_LIBRARY=build/libnorm.so.0 PYTHONPATH=python python3 python/test_libnorm.py

Registered in Meson as the test 'python'. Every f32 result is held to the accuracy
contract, |y - y_ref| <= 2^-20 (|gamma| (1 + |x_hat|) + |beta|), against a reference in
double; f16 and bf16 results to one unit in the last place of their format more. The last
line is a summary ('N passed, 0 failed, K skipped'); the exit status is 0 only if nothing
failed. NORM_TEST_SEED replays a run.
"""

import array
import ctypes
import math
import os
import random
import struct
import sys
import unittest

import libnorm

SEED = int(os.environ.get('NORM_TEST_SEED') or random.SystemRandom().randrange(1 << 31))

try:
    import numpy
except ImportError:
    numpy = None


def f32(v):
    """v rounded to f32."""
    return struct.unpack('<f', struct.pack('<f', v))[0]


def decode(buf, dtype):
    """The values of a buffer of dtype as Python floats."""
    if dtype == 'f32':
        return [float(v) for v in memoryview(buf).cast('B').cast('f')]
    conv = libnorm.f16_to_f32 if dtype == 'f16' else libnorm.bf16_to_f32
    return [conv(v) for v in memoryview(buf).cast('B').cast('H')]


def encode(values, dtype):
    if dtype == 'f32':
        return array.array('f', values)
    conv = libnorm.f32_to_f16 if dtype == 'f16' else libnorm.f32_to_bf16
    return array.array('H', (conv(v) for v in values))


def reference(kind, x, n, gamma, beta, eps):
    """y and x_hat, row by row, in double, for x, gamma, beta as exact values."""
    ys, xhats = [], []
    for r in range(len(x) // n):
        row = x[r * n:(r + 1) * n]
        if kind == libnorm.RMSNORM:
            mean = 0.0
            ms = math.fsum(v * v for v in row) / n
        else:
            mean = math.fsum(row) / n
            ms = math.fsum((v - mean) ** 2 for v in row) / n
        rstd = 1.0 / math.sqrt(ms + eps)
        for i, v in enumerate(row):
            xh = (v - mean) * rstd
            g = gamma[i] if gamma is not None else 1.0
            b = beta[i] if beta is not None else 0.0
            xhats.append(xh)
            ys.append(xh * g + b)
    return ys, xhats


def ulp(v, dtype):
    if dtype == 'f32':
        return 0.0
    e = math.frexp(abs(v))[1] - 1 if v != 0 else -1000
    if dtype == 'f16':
        return 2.0 ** (max(e, -14) - 10)
    return 2.0 ** (max(e, -126) - 7)


class NormTestCase(unittest.TestCase):
    rng = random.Random(SEED)

    def values(self, count, scale=1.0, offset=0.0):
        return [f32(offset + scale * self.rng.gauss(0.0, 1.0)) for _ in range(count)]

    def check(self, kind, y, y_dtype, x, n, gamma=None, beta=None, eps=1e-6, what=''):
        """y (a buffer of y_dtype) against the reference of the exact values x, gamma, beta."""
        got = decode(y, y_dtype)
        ref, xhat = reference(kind, x, n, gamma, beta, eps)
        self.assertEqual(len(got), len(ref), what)
        for i, (g, r, xh) in enumerate(zip(got, ref, xhat)):
            gm = abs(gamma[i % n]) if gamma is not None else 1.0
            bt = abs(beta[i % n]) if beta is not None else 0.0
            bound = 2.0 ** -20 * (gm * (1.0 + abs(xh)) + bt) + ulp(r, y_dtype)
            if not abs(g - r) <= bound:
                self.fail('%s: element %d (row %d): got %r, reference %r, bound %g (seed %d)'
                          % (what, i, i // n, g, r, bound, SEED))


class TestNorms(NormTestCase):
    def test_rmsnorm_f32(self):
        n, rows = 37, 3
        x, g, b = self.values(rows * n), self.values(n), self.values(n)
        y = libnorm.rmsnorm(array.array('f', x), array.array('f', g), array.array('f', b), eps=1e-6)
        self.assertIsInstance(y, array.array)
        self.check(libnorm.RMSNORM, y, 'f32', x, n, g, b, 1e-6, 'rmsnorm f32')

    def test_layernorm_f32_stats(self):
        n, rows = 1000, 4
        x, g, b = self.values(rows * n, 3.0, 100.0), self.values(n), self.values(n)
        mean, rstd = array.array('f', [0.0] * rows), array.array('f', [0.0] * rows)
        y = libnorm.layernorm(array.array('f', x), g, b, eps=1e-5, mean=mean, rstd=rstd)
        self.check(libnorm.LAYERNORM, y, 'f32', x, n, g, b, 1e-5, 'layernorm f32')
        for r in range(rows):
            row = x[r * n:(r + 1) * n]
            m = math.fsum(row) / n
            v = math.fsum((t - m) ** 2 for t in row) / n
            self.assertAlmostEqual(mean[r], m, delta=1e-5 * abs(m))
            self.assertAlmostEqual(rstd[r], 1.0 / math.sqrt(v + 1e-5), delta=1e-6 / math.sqrt(v))

    def test_no_parameters_one_row(self):
        x = self.values(100)
        y = libnorm.rmsnorm(x)                       # a list: one row of f32
        self.check(libnorm.RMSNORM, y, 'f32', x, 100, what='rmsnorm of a list')
        y = libnorm.layernorm(x, eps=0.0)
        self.check(libnorm.LAYERNORM, y, 'f32', x, 100, eps=0.0, what='layernorm of a list')

    def test_in_place_and_bytes(self):
        n = 64
        x, g = self.values(2 * n), self.values(n)
        buf = array.array('f', x)
        out = libnorm.rmsnorm(buf, g, out=buf)
        self.assertIs(out, buf)
        self.check(libnorm.RMSNORM, buf, 'f32', x, n, g, what='in place')
        raw = bytes(array.array('f', x))
        out = bytearray(len(raw))
        libnorm.layernorm(raw, g, dtype='f32', out=out, out_dtype='f32', n=n)
        self.check(libnorm.LAYERNORM, out, 'f32', x, n, g, eps=1e-5, what='bytes')

    def test_half_types(self):
        n, rows = 67, 3
        for x_t, y_t, p_t in [('f16', 'f16', 'f16'), ('bf16', 'bf16', 'bf16'),
                              ('bf16', 'f32', 'f32'), ('f32', 'bf16', 'f32'),
                              ('f32', 'f16', 'f32'), ('f16', 'f32', 'f16')]:
            for kind in (libnorm.RMSNORM, libnorm.LAYERNORM):
                x_b = encode(self.values(rows * n, 2.0, 0.5), x_t)
                g_b, b_b = encode(self.values(n), p_t), encode(self.values(n), p_t)
                out = array.array('f' if y_t == 'f32' else 'H', bytes(rows * n * (4 if y_t == 'f32' else 2)))
                libnorm.norm(kind, x_b, g_b, b_b, 1e-5, out, dtype=x_t, out_dtype=y_t, param_dtype=p_t)
                self.check(kind, out, y_t, decode(x_b, x_t), n, decode(g_b, p_t), decode(b_b, p_t), 1e-5,
                           '%s x, %s y, %s gamma/beta, kind %d' % (x_t, y_t, p_t, kind))

    def test_half_default_out(self):
        n = 40
        x_b = encode(self.values(2 * n), 'bf16')
        y = libnorm.rmsnorm(x_b, dtype='bf16', n=n)       # y in x's type: array('H')
        self.assertEqual(y.typecode, 'H')
        self.check(libnorm.RMSNORM, y, 'bf16', decode(x_b, 'bf16'), n, what='bf16 default out')

    def test_fused_residual(self):
        n, rows = 300, 2
        for t in ('f32', 'bf16', 'f16'):
            x_b, r_b = encode(self.values(rows * n), t), encode(self.values(rows * n, 4.0), t)
            bias = self.values(n, 0.1)
            g = self.values(n)
            x_v, r_v = decode(x_b, t), decode(r_b, t)
            # h = x + residual + bias in f32 (as an unfused engine adds), rounded to x's type
            h_bits = encode([f32(f32(x_v[i] + r_v[i]) + bias[i % n]) for i in range(rows * n)], t)
            resid_out = array.array(r_b.typecode, bytes(len(r_b) * r_b.itemsize))
            y = libnorm.rmsnorm(x_b, g, eps=1e-6, dtype=t, param_dtype='f32', out_dtype='f32',
                                residual=r_b, residual_out=resid_out, bias=bias)
            self.assertEqual(bytes(resid_out), bytes(h_bits), 'residual_out, %s' % t)
            self.check(libnorm.RMSNORM, y, 'f32', decode(h_bits, t), n, g, what='fused residual, %s' % t)
            # In place: residual_out is the residual.
            y2 = libnorm.rmsnorm(x_b, g, eps=1e-6, dtype=t, param_dtype='f32', out_dtype='f32',
                                 residual=r_b, residual_out=r_b, bias=bias)
            self.assertEqual(bytes(r_b), bytes(h_bits), 'residual in place, %s' % t)
            self.assertEqual(bytes(y2), bytes(y), 'in place residual, %s' % t)

    def test_split_row_moments(self):
        """A row split in two slices: moments of each, combined, applied to each slice."""
        lib = libnorm.library()
        n, cut, rows = 501, 200, 3
        x, g = self.values(rows * n, 1.0, 3.0), self.values(n)
        whole = libnorm.layernorm(array.array('f', x), g)
        y = array.array('f', [0.0] * (rows * n))
        xa, ga = array.array('f', x), array.array('f', g)
        parts = []
        for lo, hi in ((0, cut), (cut, n)):
            p = lib.params(libnorm.LAYERNORM)
            p.rows, p.n, p.x_stride = rows, hi - lo, n
            p.x = xa.buffer_info()[0] + 4 * lo
            m = (libnorm.norm_moments * rows)()
            lib.moments_run(p, m)
            parts.append(m)
        lib.moments_combine(parts[0], parts[1], rows)
        for lo, hi in ((0, cut), (cut, n)):
            p = lib.params(libnorm.LAYERNORM)
            p.rows, p.n, p.x_stride, p.y_stride = rows, hi - lo, n, n
            p.x = xa.buffer_info()[0] + 4 * lo
            p.y = y.buffer_info()[0] + 4 * lo
            p.gamma = ga.buffer_info()[0] + 4 * lo
            p.moments = ctypes.addressof(parts[0])
            lib.run(p)
        self.check(libnorm.LAYERNORM, y, 'f32', x, n, g, eps=1e-5, what='split row')
        self.check(libnorm.LAYERNORM, whole, 'f32', x, n, g, eps=1e-5, what='whole row')

    @unittest.skipUnless(numpy is not None, 'numpy is not installed')
    def test_numpy(self):
        n = 96
        x = numpy.array(self.values(3 * n), dtype=numpy.float32).reshape(3, n)
        g = numpy.array(self.values(n), dtype=numpy.float32)
        y = libnorm.rmsnorm(x, g)
        self.assertIsInstance(y, numpy.ndarray)
        self.assertEqual(y.shape, (3, n))
        self.check(libnorm.RMSNORM, y, 'f32', [float(v) for v in x.ravel()], n, [float(v) for v in g],
                   what='numpy f32')
        xh = x.astype(numpy.float16)
        yh = libnorm.layernorm(xh)
        self.assertEqual(yh.dtype, numpy.float16)
        self.check(libnorm.LAYERNORM, yh, 'f16', [float(v) for v in xh.ravel()], n, eps=1e-5,
                   what='numpy f16')
        xb = encode([float(v) for v in x.ravel()], 'bf16')
        xb = numpy.frombuffer(xb, dtype=numpy.uint16).reshape(3, n)
        yb = libnorm.rmsnorm(xb, g, dtype='bf16')
        self.assertEqual(yb.dtype, numpy.uint16)
        self.check(libnorm.RMSNORM, yb, 'bf16', decode(xb.tobytes(), 'bf16'), n, [float(v) for v in g],
                   what='numpy bf16 (uint16 view)')


class TestErrors(NormTestCase):
    def test_status_raised(self):
        lib = libnorm.library()
        x = array.array('f', self.values(8))
        out = array.array('f', [7.0] * 8)
        for eps, status in ((-1.0, 5), (float('nan'), 5), (float('inf'), 5)):
            with self.assertRaises(libnorm.NormError) as cm:
                libnorm.rmsnorm(x, eps=eps, out=out)
            self.assertEqual(cm.exception.status, status)
            self.assertEqual(cm.exception.message, lib.status_string(status))
            self.assertIn(lib.status_string(status), str(cm.exception))
            self.assertEqual(list(out), [7.0] * 8, 'an error writes nothing')
        with self.assertRaises(libnorm.NormError) as cm:
            libnorm.rmsnorm(x, n=0)
        self.assertEqual(cm.exception.status, 2)                 # NORM_ERR_BAD_SIZE
        self.assertIn('n is 0', cm.exception.detail)             # norm_last_error_detail()
        self.assertIn('n is 0', str(cm.exception))
        with self.assertRaises(libnorm.NormError) as cm:          # gamma of f16 with f32 x
            libnorm.rmsnorm(x, array.array('H', [0x3c00] * 8), param_dtype='f16')
        self.assertEqual(cm.exception.status, 7)                 # NORM_ERR_UNSUPPORTED_TYPE
        self.assertIn('param_type f16 with x_type f32', cm.exception.detail)

    def test_checked_before_the_call(self):
        x = array.array('f', self.values(10))
        with self.assertRaises(ValueError):
            libnorm.rmsnorm(x, n=3)                              # 10 values, rows of 3
        with self.assertRaises(ValueError):
            libnorm.rmsnorm(x, array.array('f', [1.0] * 4), n=5)  # gamma shorter than a row
        with self.assertRaises(ValueError):
            libnorm.rmsnorm(x, out=array.array('f', [0.0] * 9))
        with self.assertRaises(TypeError):
            libnorm.rmsnorm(array.array('H', [0] * 4))           # f16 or bf16?
        with self.assertRaises(TypeError):
            libnorm.rmsnorm(x, out=bytes(40))                    # not writable
        with self.assertRaises(TypeError):
            libnorm.rmsnorm(x, residual=x)                       # no residual_out
        with self.assertRaises(TypeError):
            libnorm.rmsnorm(array.array('d', [1.0] * 4), dtype='f32')
        with self.assertRaises(ValueError):
            libnorm.rmsnorm(x, dtype='f64')


class TestLibrary(unittest.TestCase):
    def test_params_init(self):
        lib = libnorm.library()
        for kind, eps in ((libnorm.RMSNORM, 1e-6), (libnorm.LAYERNORM, 1e-5)):
            p = lib.params(kind)
            # This module mirrors the library's own header: the sizes must agree.
            self.assertEqual(p.struct_size, ctypes.sizeof(libnorm.norm_params))
            self.assertEqual(p.kind, kind)
            self.assertEqual(p.eps, f32(eps))
            for name, _ in libnorm.norm_params._fields_:
                if name not in ('struct_size', 'kind', 'eps'):
                    self.assertFalse(getattr(p, name), '%s is %r' % (name, getattr(p, name)))
        lib._lib.norm_params_init(None, libnorm.RMSNORM)         # ignored, no crash

    def test_isa_and_version(self):
        self.assertIn(libnorm.active_isa(), ('scalar', 'sse2', 'avx2', 'avx512', 'neon'))
        self.assertTrue(libnorm.version().startswith('0.'))
        # Under the test setups that emulate an older CPU (tests/meson.build), the tier the
        # library picked through ctypes must be the one that CPU allows.
        expect = os.environ.get('NORM_EXPECT_ISA')
        if expect and not os.environ.get('NORM_ISA'):
            self.assertEqual(libnorm.active_isa(), expect)


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    lib = libnorm.library()
    print('libnorm %s from %s, tier %s, seed %d' % (lib.version(), lib.path, lib.active_isa(), SEED))
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print('%d passed, %d failed, %d skipped' % (result.passed, failed, len(result.skipped)))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
