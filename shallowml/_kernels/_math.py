"""Scalar maths that LLVM can vectorise: ``exp`` of non-positive arguments.

numba calls libm's ``exp`` one value at a time (no SVML here), and LLVM
speculates such calls out of branches, so a softmax row pays about 5 ns per
entry. :func:`exp_nonpositive` is written with operations LLVM vectorises
(multiplies, adds, integer shifts and bit casts; no table lookup, no
float-to-int64 conversion, which AVX2 lacks), accurate to 1 ulp of
``np.exp`` on ``[-708, 0]`` (checked in ``tests/test_kernels.py``).

Method (Cody & Waite range reduction): ``t = m ln2 + r`` with ``m`` the
nearest integer to ``t / ln2`` and ``|r| <= ln2 / 2``; ``ln2`` is split into
a high part with trailing zero bits (so ``m * ln2_hi`` is exact) and a low
part; ``exp(r)`` is its Taylor polynomial of degree 13 (truncation error
below ``4e-18``), evaluated by Horner's rule; ``2**m`` is built from its
IEEE-754 bits. ``m`` is read off the bits of ``t / ln2 + 1.5 * 2**52``,
whose last mantissa bits hold the rounded value.

References
----------
W. J. Cody, W. Waite, "Software Manual for the Elementary Functions",
Prentice-Hall, 1980 (argument reduction with a split constant).
"""

import numpy as np
from numba import types
from numba.extending import intrinsic

from ._options import njit_inline

_LOG2E = 1.4426950408889634
# ln 2 split as in fdlibm's e_exp.c: _LN2_HI has 32 trailing zero bits
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# 1.5 * 2**52: adding it rounds a value of magnitude < 2**51 to an integer,
# which the low bits of the sum then hold in two's complement
_ROUND = 6755399441055744.0
_ROUND_BITS = int(np.float64(_ROUND).view(np.int64))
# below this, 2**m would be subnormal: the result is 0 (exp(-708) ~ 3e-308)
EXP_MIN_ARG = -708.0


@intrinsic
def _bits_of(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a bit cast, no conversion)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _float_of(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits`` (a bit cast)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@njit_inline
def exp_nonpositive(t):
    """``exp(t)`` for ``EXP_MIN_ARG <= t <= 0`` (1 ulp), vectorisable.

    Outside that range the result is meaningless: callers clamp or skip
    (``t`` below ``EXP_MIN_ARG`` underflows anyway). NaN propagates.
    """
    shifted = t * _LOG2E + _ROUND
    m = shifted - _ROUND  # round(t / ln2), exactly
    r = (t - m * _LN2_HI) - m * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # 2**m from its bits: biased exponent m + 1023 in bits 52..62
    return p * _float_of((_bits_of(shifted) - _ROUND_BITS + 1023) << 52)
