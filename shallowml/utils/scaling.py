"""How every learner rescales its data before fitting: one module, two statistics.

Each learner fits on ``X' = (X - offset) / s`` for one global scale ``s`` and
returns ``components_ = L' / s``, so the learned distances on ``X`` are those
of ``L'`` on ``X'``. This makes data at 1e-150 or 1e150 scale as easy as
unit-scaled data, and fixes the units of objectives that have them. ``s`` is
one of two statistics, both computed here, on ``X / m`` with ``m`` the spread
of :func:`~shallowml.utils.validation.data_spread` (so that neither huge nor
subnormal values over- or underflow):

* :func:`rms_distance`, the root mean squared distance between paired rows
  (between all pairs of rows: ``sqrt(2 * total variance)``), where the
  objective has a margin or a scale-dependent loss, so that its constants are
  relative to how far apart the data are:
  :class:`~shallowml.LinearSiamese` (``s`` = RMS distance of its pairs, or of
  all pairs of samples) and :class:`~shallowml.LMNN` (``s`` = RMS distance /
  ``sqrt(2 n_features)``, the RMS feature standard deviation, so that on
  standardised data its unit margin is the classic one);
* a power of two, where the solution does not depend on the scale: the one
  nearest ``max |V|`` (:func:`power_of_two_scale`) for ITML, MMC and SDML on
  pair differences and for the whitening learners on centred samples; the
  one just above ``max |y - mean(y)|`` (:func:`downscale_exponent`) for
  MLKR's targets, whose loss is reported in the original units. Dividing by
  a power of two is exact.

NCA's softmax has no margin: it divides ``X`` by a power of two only above
``2**64`` (:func:`downscale_exponent`), to keep the products finite.
"""

import math

import numpy as np

from .validation import data_spread, row_block

__all__ = ["downscale_exponent", "power_of_two_scale", "rms_distance"]


def rms_distance(A, I=None, J=None, *, spread=None):
    """Root mean squared distance ``||A_i - A_j||`` over index pairs, overflow-safe.

    Parameters
    ----------
    A : ndarray of shape (n_points, n_features)
    I, J : ndarray of int, shape (n_pairs,), default=None
        The pairs. None: all ordered pairs of rows (including ``i = j``),
        whose mean squared distance is twice the total variance.
    spread : float, default=None
        ``data_spread(A)[1]`` when the caller has computed it already (the
        data are then not checked again).

    Returns
    -------
    float
        Positive (raises ValueError when it is 0: no metric can be learned).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.scaling import rms_distance
    >>> A = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> rms_distance(A, np.array([0]), np.array([1]))
    5.0
    >>> round(rms_distance(A) ** 2, 12)  # 2 * (2.25 + 4)
    12.5
    """
    m = data_spread(A)[1] if spread is None else spread
    if I is None:
        value = m * float(np.sqrt(2.0 * np.sum(np.var(A / m, axis=0))))
    else:
        sq = np.empty(I.size)
        block = row_block(A.shape[1])
        for start in range(0, I.size, block):  # row blocks: no (n_pairs, n_features) temporaries
            stop = start + block
            diff = A[I[start:stop]] / m - A[J[start:stop]] / m
            sq[start:stop] = np.einsum("ij,ij->i", diff, diff)
        value = m * float(np.sqrt(np.mean(sq)))
    if value == 0.0:
        raise ValueError("Every pair consists of two identical points; no metric can be learned.")
    return value


def power_of_two_scale(V):
    """Power of two nearest ``max |V|`` (division by it is exact), or 0.0 when V is all zero.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.scaling import power_of_two_scale
    >>> power_of_two_scale(np.array([[3.0, -100.0]])), power_of_two_scale(np.zeros(2))
    (128.0, 0.0)
    """
    V = np.asarray(V)
    top = max(float(V.max(initial=0.0)), -float(V.min(initial=0.0)))  # max |V|, no |V| temporary
    if top == 0.0:
        return 0.0
    return float(2.0 ** np.round(np.log2(top)))


def downscale_exponent(X, above=2.0**64):
    """``e`` with ``max |X| / 2**e`` in [0.5, 1) when ``max |X| > above``, else 0.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.scaling import downscale_exponent
    >>> downscale_exponent(np.array([1e30])), downscale_exponent(np.array([1e3]))
    (100, 0)
    """
    top = float(np.abs(X).max(initial=0.0))
    return math.frexp(top)[1] if top > above else 0
