# SPDX-License-Identifier: MIT
"""libnorm from Python (python/libnorm.py, ctypes, standard library only).

    PYTHONPATH=python NORM_LIBRARY=/path/to/libnorm.so.0 python3 examples/python/example.py

Without NORM_LIBRARY the module asks ctypes.util.find_library('norm'), which finds an
installed libnorm (ldconfig's cache) or one in LD_LIBRARY_PATH.
"""
import array
import math

import libnorm

lib = libnorm.library()
print('libnorm %s from %s, kernel tier %s' % (lib.version(), lib.path, lib.active_isa()))

hidden = 8
x = array.array('f', [0.5 * i - 1.0 for i in range(2 * hidden)])       # two rows
gamma = array.array('f', [1.0] * hidden)

y = libnorm.rmsnorm(x, gamma, eps=1e-6)
print('rmsnorm  ', ' '.join('%.4f' % v for v in y[:hidden]))
y = libnorm.layernorm(x, gamma, eps=1e-5)
print('layernorm', ' '.join('%.4f' % v for v in y[:hidden]))

# bf16 rows and weights as 16-bit patterns (array('H')), with the residual add fused:
# h = x + residual is written back into residual, and y = rmsnorm(h) * gamma.
xb = array.array('H', (libnorm.f32_to_bf16(v) for v in x))
resid = array.array('H', (libnorm.f32_to_bf16(1.0) for _ in x))
gb = array.array('H', (libnorm.f32_to_bf16(v) for v in gamma))
yb = libnorm.rmsnorm(xb, gb, dtype='bf16', residual=resid, residual_out=resid)
print('bf16 h   ', ' '.join('%.4f' % libnorm.bf16_to_f32(v) for v in resid[:hidden]))
print('bf16 y   ', ' '.join('%.4f' % libnorm.bf16_to_f32(v) for v in yb[:hidden]))

# Errors raise libnorm.NormError with the library's own message.
try:
    libnorm.rmsnorm(x, gamma, eps=-1.0)
except libnorm.NormError as e:
    print('eps = -1:', e)

ms = sum(v * v for v in x[:hidden]) / hidden
assert abs(libnorm.rmsnorm(x, gamma)[3] - x[3] / math.sqrt(ms + 1e-6)) < 1e-6
print('ok')
