# SPDX-License-Identifier: MIT
"""libnorm from Python, through ctypes (standard library only).

    import libnorm
    y = libnorm.rmsnorm(x, gamma, eps=1e-6)            # x: rows of n values
    y = libnorm.layernorm(x, gamma, beta, eps=1e-5)

Buffers are anything with the buffer protocol (array.array, bytes, bytearray, memoryview,
numpy arrays when numpy is installed) or, for inputs, a plain sequence of floats:

    dtype   elements                     buffers
    'f32'   IEEE binary32                array('f'), numpy float32, bytes-like
    'f16'   IEEE binary16, as bit patterns   array('H'), numpy float16 or uint16, bytes-like
    'bf16'  bfloat16, as bit patterns    array('H'), numpy uint16, bytes-like

The dtype of a buffer is taken from its format ('f' is f32, 'e' is f16) or given with
dtype= (x, the residual), out_dtype= (y) and param_dtype= (gamma, beta, bias); 16-bit
integer and byte buffers need it. A 2-D numpy array (or memoryview) gives rows and n; for a
flat buffer n is n=, else the length of gamma or beta, else the whole buffer is one row.

Without out=, the result is a new buffer: a numpy array of x's shape when x is one, else an
array('f') (f32) or array('H') (f16, bf16). out may be x itself (in place).

Errors the library reports raise NormError, which carries the status and its
norm_status_string(); a buffer too short for the shape raises ValueError before the
library is called.

The library is loaded on first use from, in order: the path given to load(), the
environment variable NORM_LIBRARY, then ctypes.util.find_library('norm') (which searches
ldconfig's cache and LD_LIBRARY_PATH).
"""

import array
import ctypes
import ctypes.util
import os
import struct
import threading

__all__ = [
    'NormError', 'Library', 'load', 'library', 'rmsnorm', 'layernorm', 'norm',
    'active_isa', 'version', 'norm_params', 'norm_moments',
    'RMSNORM', 'LAYERNORM', 'F32', 'F16', 'BF16',
    'EPS_OUTSIDE_SQRT', 'UNIT_OFFSET', 'GATE_BEFORE_NORM',
    'f32_to_f16', 'f16_to_f32', 'f32_to_bf16', 'bf16_to_f32',
]

# enum norm_kind, norm_dtype and the flags of include/norm.h
RMSNORM, LAYERNORM = 0, 1
F32, F16, BF16, I8 = 0, 1, 2, 3
EPS_OUTSIDE_SQRT, UNIT_OFFSET, GATE_BEFORE_NORM = 1 << 0, 1 << 1, 1 << 2

_DTYPES = {'f32': F32, 'f16': F16, 'bf16': BF16}
_ITEMSIZE = {F32: 4, F16: 2, BF16: 2}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_FORMATS = {F32: ('f',), F16: ('e', 'H', 'h'), BF16: ('H', 'h')}   # buffer formats of each


class norm_moments(ctypes.Structure):
    """struct norm_moments: the partial moments of a row slice."""
    _fields_ = [('count', ctypes.c_double), ('mean', ctypes.c_double), ('m2', ctypes.c_double)]


class norm_params(ctypes.Structure):
    """struct norm_params, field for field as include/norm.h declares it (enums are int)."""
    _fields_ = [
        ('struct_size', ctypes.c_size_t),
        ('kind', ctypes.c_int),
        ('flags', ctypes.c_uint),
        ('rows', ctypes.c_size_t),
        ('n', ctypes.c_size_t),
        ('eps', ctypes.c_float),
        ('y', ctypes.c_void_p),
        ('y_stride', ctypes.c_size_t),
        ('y_type', ctypes.c_int),
        ('x', ctypes.c_void_p),
        ('x_stride', ctypes.c_size_t),
        ('x_type', ctypes.c_int),
        ('gamma', ctypes.c_void_p),
        ('beta', ctypes.c_void_p),
        ('param_type', ctypes.c_int),
        ('mean', ctypes.c_void_p),
        ('rstd', ctypes.c_void_p),
        ('residual', ctypes.c_void_p),
        ('residual_stride', ctypes.c_size_t),
        ('residual_out', ctypes.c_void_p),
        ('residual_out_stride', ctypes.c_size_t),
        ('bias', ctypes.c_void_p),
        ('gate', ctypes.c_void_p),
        ('gate_stride', ctypes.c_size_t),
        ('y_scale', ctypes.c_float),
        ('y_scales', ctypes.c_void_p),
        ('moments', ctypes.c_void_p),
        # 0.3.0: threads (0: the process default, 1 by default), the caller's pool (a C
        # function pointer and its context) and two-level rows.
        ('threads', ctypes.c_size_t),
        ('parallel_for', ctypes.c_void_p),
        ('parallel_context', ctypes.c_void_p),
        ('outer', ctypes.c_size_t),
        ('x_outer_stride', ctypes.c_size_t),
        ('y_outer_stride', ctypes.c_size_t),
        ('residual_outer_stride', ctypes.c_size_t),
        ('residual_out_outer_stride', ctypes.c_size_t),
        ('gate_outer_stride', ctypes.c_size_t),
    ]


# norm_params_init() stores the library's sizeof(norm_params), which a newer library may
# have made larger than this mirror: the struct lives in 512 bytes (the most any version
# accepts as struct_size), and the bytes past the fields this module knows stay zero, as the
# library requires of fields it knows and its caller does not.
_PARAMS_ROOM = 512


class _ParamsRoom(ctypes.Union):
    _fields_ = [('p', norm_params), ('raw', ctypes.c_ubyte * _PARAMS_ROOM)]


class NormError(Exception):
    """A libnorm call returned an error status; str() is norm_status_string(status) and, where
    the library has one, norm_last_error_detail(): the field or buffers at fault (.detail)."""

    def __init__(self, status, message, function='norm_run', detail=''):
        super().__init__('%s: %s (status %d)%s' % (function, message, status,
                                                   ': ' + detail if detail else ''))
        self.status = status
        self.message = message
        self.function = function
        self.detail = detail


def _numpy():
    try:
        import numpy
        return numpy
    except ImportError:
        return None


class _Buffer:
    """A buffer's address, element count and dtype, with what keeps them alive."""
    __slots__ = ('address', 'count', 'dtype', 'shape', 'keep', 'obj')

    def __init__(self, obj, dtype, writable, what):
        self.obj = obj
        if not _has_buffer(obj):
            if writable:
                raise TypeError('%s must be a writable buffer (array, bytearray, numpy array)' % what)
            if dtype is None:
                dtype = F32
            obj = _pack(obj, dtype)
        mv = memoryview(obj)
        if not mv.c_contiguous:
            raise ValueError('%s must be C-contiguous' % what)
        if writable and mv.readonly:
            raise TypeError('%s must be writable' % what)
        fmt = mv.format.lstrip('@=<')
        if dtype is None:
            if fmt == 'f':
                dtype = F32
            elif fmt == 'e':
                dtype = F16
            else:
                raise TypeError("%s: say which type a buffer of format '%s' holds (dtype 'f32', 'f16' or 'bf16')"
                                % (what, mv.format))
        # Bytes hold anything; other formats only what they are.
        if fmt not in ('B', 'b', 'c') and fmt not in _FORMATS[dtype]:
            raise TypeError("%s: a buffer of format '%s' cannot hold %s values"
                            % (what, mv.format, _DTYPE_NAMES[dtype]))
        size = _ITEMSIZE[dtype]
        nbytes = mv.nbytes
        if nbytes % size:
            raise ValueError('%s: %d bytes is not a whole number of %s values' % (what, nbytes, _DTYPE_NAMES[dtype]))
        self.dtype = dtype
        self.count = nbytes // size
        self.shape = mv.shape
        if nbytes == 0:
            self.address, self.keep = None, (obj, mv)
        elif mv.readonly:
            if isinstance(obj, bytes):
                keep = ctypes.c_char_p(obj)      # bytes are immutable: point at them, no copy
                self.address = ctypes.cast(keep, ctypes.c_void_p).value
            else:
                keep = (ctypes.c_char * nbytes).from_buffer_copy(mv)
                self.address = ctypes.addressof(keep)
            self.keep = (obj, mv, keep)
        else:
            keep = (ctypes.c_char * nbytes).from_buffer(mv.cast('B'))
            self.address = ctypes.addressof(keep)
            self.keep = (obj, mv, keep)


def _has_buffer(obj):
    try:
        memoryview(obj)
        return True
    except TypeError:
        return False


def _dtype_code(dtype, what):
    if dtype is None:
        return None
    if isinstance(dtype, int) and dtype in _ITEMSIZE:
        return dtype
    try:
        return _DTYPES[str(dtype)]
    except KeyError:
        raise ValueError("%s: dtype must be 'f32', 'f16' or 'bf16', not %r" % (what, dtype)) from None


# Conversions, for building inputs and reading outputs without numpy. Both round to nearest
# even from an f32 value, as the library does; NaN stays a quiet NaN.
def f32_to_f16(value):
    """The f16 bit pattern of value (rounded to f32 first, as an f32 result would be)."""
    f = struct.unpack('<f', struct.pack('<f', value))[0]
    try:
        return struct.unpack('<H', struct.pack('<e', f))[0]
    except OverflowError:
        return 0xfc00 if f < 0 else 0x7c00


def f16_to_f32(bits):
    return struct.unpack('<e', struct.pack('<H', bits & 0xffff))[0]


def f32_to_bf16(value):
    """The bf16 bit pattern of value (rounded to f32 first)."""
    b = struct.unpack('<I', struct.pack('<f', value))[0]
    if (b & 0x7fffffff) > 0x7f800000:
        return (b >> 16) | 0x0040
    return ((b + 0x7fff + ((b >> 16) & 1)) >> 16) & 0xffff


def bf16_to_f32(bits):
    return struct.unpack('<f', struct.pack('<I', (bits & 0xffff) << 16))[0]


def _pack(values, dtype):
    if dtype == F32:
        return array.array('f', values)
    conv = f32_to_f16 if dtype == F16 else f32_to_bf16
    return array.array('H', (conv(v) for v in values))


def _new_output(like, count, dtype, shape):
    np = _numpy()
    if np is not None and isinstance(like, np.ndarray):
        return np.empty(shape, dtype={F32: np.float32, F16: np.float16, BF16: np.uint16}[dtype])
    return array.array('f' if dtype == F32 else 'H', bytes(count * _ITEMSIZE[dtype]))


class Library:
    """One loaded libnorm.so; the module-level functions use the one load() returns."""

    def __init__(self, path=None):
        if path is None:
            path = os.environ.get('NORM_LIBRARY') or ctypes.util.find_library('norm')
        if not path:
            raise OSError('libnorm not found: set NORM_LIBRARY to the path of libnorm.so, pass it '
                          'to libnorm.load(), or put its directory in LD_LIBRARY_PATH')
        self.path = path
        lib = ctypes.CDLL(path)
        self._lib = lib
        P = ctypes.POINTER(norm_params)
        for name, res, args in [
                ('norm_params_init', None, [ctypes.c_void_p, ctypes.c_int]),
                ('norm_run', ctypes.c_int, [P]),
                ('norm_moments_run', ctypes.c_int, [P, ctypes.POINTER(norm_moments)]),
                ('norm_moments_combine', ctypes.c_int,
                 [ctypes.POINTER(norm_moments), ctypes.POINTER(norm_moments), ctypes.c_size_t]),
                ('norm_status_string', ctypes.c_char_p, [ctypes.c_int]),
                ('norm_version_string', ctypes.c_char_p, []),
                ('norm_active_isa_name', ctypes.c_char_p, []),
                ('norm_set_max_isa', ctypes.c_int, [ctypes.c_int])]:
            try:
                fn = getattr(lib, name)
            except AttributeError:
                raise OSError('%s: no %s (libnorm 0.2.0 or later is needed)' % (path, name)) from None
            fn.restype = res
            fn.argtypes = args
        # Newer than 0.2.0's first builds: used where present.
        self._detail = getattr(lib, 'norm_last_error_detail', None)
        if self._detail is not None:
            self._detail.restype = ctypes.c_char_p
            self._detail.argtypes = []

    # -- the C functions -------------------------------------------------------------
    def params(self, kind=RMSNORM):
        """A norm_params with the library's defaults for kind (norm_params_init); the struct
        lives in room for any later version's larger struct."""
        room = _ParamsRoom()
        self._lib.norm_params_init(ctypes.byref(room), kind)
        return room.p      # keeps room alive (ctypes' _b_base_)

    def status_string(self, status):
        s = self._lib.norm_status_string(status)
        return s.decode() if s is not None else 'unknown status %d' % status

    def check(self, status, function='norm_run'):
        if status != 0:
            # The detail is per thread: read on the thread that made the call, right after it.
            detail = self._detail().decode() if self._detail is not None else ''
            raise NormError(status, self.status_string(status), function, detail)

    def run(self, params):
        """norm_run(params); raises NormError on an error status."""
        self._check_known_fields(params)
        self.check(self._lib.norm_run(ctypes.byref(params)), 'norm_run')

    def moments_run(self, params, out):
        """norm_moments_run(params, out); out is a norm_moments array of params.rows."""
        self._check_known_fields(params)
        self.check(self._lib.norm_moments_run(ctypes.byref(params), out), 'norm_moments_run')

    def moments_combine(self, acc, part, rows):
        self.check(self._lib.norm_moments_combine(acc, part, rows), 'norm_moments_combine')

    def version(self):
        return self._lib.norm_version_string().decode()

    def active_isa(self):
        return self._lib.norm_active_isa_name().decode()

    def _check_known_fields(self, params):
        # An older library than this module reads its struct only up to its struct_size:
        # a field set past it would be ignored without a word, so it is refused here.
        size = params.struct_size
        if size >= ctypes.sizeof(norm_params):
            return
        for name, ctype in norm_params._fields_:
            field = getattr(norm_params, name)
            if field.offset + field.size > size and getattr(params, name):
                raise NormError(8, '%s is not known to the libnorm at %s (version %s)'
                                % (name, self.path, self.version()))

    # -- the norms -------------------------------------------------------------------
    def norm(self, kind, x, gamma=None, beta=None, eps=None, out=None, *, n=None, dtype=None,
             out_dtype=None, param_dtype=None, residual=None, residual_out=None, bias=None,
             flags=0, mean=None, rstd=None):
        """kind is RMSNORM or LAYERNORM; see rmsnorm() for the arguments."""
        xb = _Buffer(x, _dtype_code(dtype, 'x'), False, 'x')
        p_dtype = _dtype_code(param_dtype, 'param_dtype')
        params = {}
        for what, obj in (('gamma', gamma), ('beta', beta), ('bias', bias)):
            if obj is None:
                continue
            if p_dtype is None and _has_buffer(obj):
                fmt = memoryview(obj).format.lstrip('@=<')
                if fmt not in ('f', 'e') and xb.dtype != F32:
                    p_dtype = xb.dtype        # 16-bit patterns of x's type
            b = _Buffer(obj, p_dtype if p_dtype is not None else (None if _has_buffer(obj) else F32),
                        False, what)
            if p_dtype is None:
                p_dtype = b.dtype
            elif b.dtype != p_dtype:
                raise TypeError('%s is %s, the other parameters %s'
                                % (what, _DTYPE_NAMES[b.dtype], _DTYPE_NAMES[p_dtype]))
            params[what] = b
        if p_dtype is None:
            p_dtype = F32

        # The row length: from a buffer of 2 or more dimensions, n=, or the parameters; else
        # one row.
        if n is None:
            if len(xb.shape) >= 2:
                n = xb.shape[-1]
            elif params:
                n = min(b.count for b in params.values())
            else:
                n = xb.count
        n_arg = n
        if n <= 0:
            rows = 0                          # the library says what is wrong with n
        else:
            if xb.count % n:
                raise ValueError('x holds %d values, not a whole number of rows of %d' % (xb.count, n))
            rows = xb.count // n
        for what, b in params.items():
            if b.count < n:
                raise ValueError('%s holds %d values; the rows have %d' % (what, b.count, n))

        y_dtype = _dtype_code(out_dtype, 'out_dtype')
        if out is None:
            out = _new_output(x, xb.count, y_dtype if y_dtype is not None else xb.dtype,
                              xb.shape if len(xb.shape) >= 1 else (xb.count,))
            if y_dtype is None:
                y_dtype = xb.dtype
        if y_dtype is None and _has_buffer(out):
            fmt = memoryview(out).format.lstrip('@=<')
            if fmt not in ('f', 'e'):
                y_dtype = xb.dtype if xb.dtype != F32 else None
        yb = _Buffer(out, y_dtype, True, 'out')
        if yb.count < rows * n_arg:
            raise ValueError('out holds %d values; the result has %d' % (yb.count, rows * n_arg))

        p = self.params(kind)
        p.flags = flags
        p.rows = rows
        p.n = n_arg
        if eps is not None:
            p.eps = eps
        p.x, p.x_type = xb.address, xb.dtype
        p.y, p.y_type = yb.address, yb.dtype
        p.param_type = p_dtype
        if 'gamma' in params:
            p.gamma = params['gamma'].address
        if 'beta' in params:
            p.beta = params['beta'].address
        if 'bias' in params:
            p.bias = params['bias'].address

        keep = [xb, yb] + list(params.values())
        if residual is not None or residual_out is not None:
            if residual is None or residual_out is None:
                raise TypeError('the residual add needs residual= and residual_out= (which may be residual itself)')
            rb = _Buffer(residual, xb.dtype, False, 'residual')
            rob = _Buffer(residual_out, xb.dtype, True, 'residual_out')   # may be the same memory
            for what, b in (('residual', rb), ('residual_out', rob)):
                if b.count < rows * n_arg:
                    raise ValueError('%s holds %d values; x has %d' % (what, b.count, rows * n_arg))
            p.residual, p.residual_out = rb.address, rob.address
            keep += [rb, rob]
        for what, obj in (('mean', mean), ('rstd', rstd)):
            if obj is None:
                continue
            b = _Buffer(obj, F32, True, what)
            if b.count < rows:
                raise ValueError('%s holds %d values, fewer than the %d rows' % (what, b.count, rows))
            setattr(p, what, b.address)
            keep.append(b)
        self.run(p)
        return out

    def rmsnorm(self, x, gamma=None, beta=None, eps=1e-6, out=None, **kwargs):
        return self.norm(RMSNORM, x, gamma, beta, eps, out, **kwargs)

    def layernorm(self, x, gamma=None, beta=None, eps=1e-5, out=None, **kwargs):
        return self.norm(LAYERNORM, x, gamma, beta, eps, out, **kwargs)


_default = None
_default_lock = threading.Lock()


def load(path=None):
    """Loads libnorm (path, else NORM_LIBRARY, else find_library('norm')) for the module's
    functions, and returns it."""
    global _default
    with _default_lock:
        _default = Library(path)
        return _default


def library():
    """The Library the module's functions use, loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Library()
        return _default


def norm(kind, x, gamma=None, beta=None, eps=None, out=None, **kwargs):
    return library().norm(kind, x, gamma, beta, eps, out, **kwargs)


def rmsnorm(x, gamma=None, beta=None, eps=1e-6, out=None, **kwargs):
    """y = x / sqrt(mean(x^2) + eps) * gamma + beta, row by row.

    x        rows of n values (see the module's docstring for buffers and dtypes)
    gamma    n scales, or None for 1;  beta: n shifts, or None for 0
    eps      >= 0 and finite
    out      where y goes (may be x), or None for a new buffer, which is returned
    n        the row length, for a flat x (default: len(gamma or beta), else all of x)
    dtype, out_dtype, param_dtype   'f32', 'f16' or 'bf16' for x (and the residual), y,
             gamma/beta/bias, where the buffer's format does not say
    residual, residual_out   the fused residual add: h = x + residual (+ bias) is written to
             residual_out (which may be residual itself) and normalised
    bias     n values added with the residual
    flags    EPS_OUTSIDE_SQRT, UNIT_OFFSET (scale by 1 + gamma)
    mean, rstd   writable f32 buffers of one value per row for the statistics, or None
    """
    return library().rmsnorm(x, gamma, beta, eps, out, **kwargs)


def layernorm(x, gamma=None, beta=None, eps=1e-5, out=None, **kwargs):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta, row by row (biased variance).
    The arguments are rmsnorm()'s."""
    return library().layernorm(x, gamma, beta, eps, out, **kwargs)


def active_isa():
    """The kernel tier in use: 'scalar', 'sse2', 'avx2', 'avx512' or 'neon'."""
    return library().active_isa()


def version():
    return library().version()
