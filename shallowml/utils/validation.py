"""Input checks shared by estimators (data-dependent, run at the top of ``fit``)."""

import warnings

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array


# ``_parameter_constraints`` entry of the learners on tuples (see check_tuple_indices)
PREPROCESSOR_CONSTRAINT = ["array-like", callable, None]


def check_tuples(tuples, tuple_length, *, n_features=None, dtype=np.float64, name="pairs"):
    """Validate an array of tuples of shape ``(n_tuples, tuple_length, n_features)``.

    Parameters
    ----------
    tuples : array-like of shape (n_tuples, tuple_length, n_features)
    tuple_length : int
        2 for pairs, 3 for triplets, 4 for quadruplets.
    n_features : int, default=None
        Expected number of features (checked when given).
    dtype : dtype, default=np.float64
    name : str, default='pairs'
        The argument's name in messages ('pairs', 'triplets', 'quadruplets').

    Returns
    -------
    tuples : ndarray of shape (n_tuples, tuple_length, n_features), finite, C-contiguous.

    Raises
    ------
    ValueError
        On a wrong shape, no tuples, NaN/inf, or a feature-count mismatch.
    """
    tuples = check_array(
        tuples, dtype=dtype, ensure_2d=False, allow_nd=True, ensure_all_finite=True,
        ensure_min_samples=1, input_name=name,
    )
    if tuples.ndim != 3 or tuples.shape[1] != tuple_length:
        raise ValueError(
            f"{name} must be a 3-D array of shape (n_{name}, {tuple_length}, n_features), "
            f"got shape {tuples.shape}."
        )
    if tuples.shape[2] == 0:
        raise ValueError(f"{name} have 0 features; at least 1 is required.")
    if n_features is not None and tuples.shape[2] != n_features:
        raise ValueError(
            f"{name} have {tuples.shape[2]} features, but the estimator was fitted "
            f"with {n_features} features."
        )
    return np.ascontiguousarray(tuples)


def check_tuple_indices(tuples, tuple_length, preprocessor=None, *, n_features=None, name="pairs"):
    """Validate tuples and return them in indexed form ``(points, indices, counts)``.

    The one data path of the learners on tuples: ``points[indices[i, j]]`` is
    point ``j`` of tuple ``i``. Learners compute differences with
    :func:`tuple_differences`, so that with a preprocessor no array of shape
    ``(n_tuples, tuple_length, n_features)`` is ever built.

    Parameters
    ----------
    tuples : array-like of shape (n_tuples, tuple_length, n_features) or (n_tuples, tuple_length)
        Formed tuples, or (with a preprocessor) integer indices into it.
    tuple_length : int
        2 for pairs, 3 for triplets, 4 for quadruplets.
    preprocessor : array-like of shape (n_samples, n_features), callable or None, default=None
        The points the indices refer to, or a callable mapping a 1-D integer
        array of indices to the 2-D array of those points. Formed tuples are
        used as given even when it is set (as metric-learn does).
    n_features : int, default=None
        Expected number of features (checked when given).
    name : str, default='pairs'
        The argument's name in messages.

    Returns
    -------
    points : ndarray of shape (n_points, n_features), float64, finite
        Formed tuples: the tuples' points in order (a reshaped view).
        Indices: the distinct indexed points, in increasing index order.
    indices : ndarray of int64 of shape (n_tuples, tuple_length)
        Rows of ``points``; ``arange`` for formed tuples.
    counts : ndarray of int64 of shape (n_points,) or None
        How often each point occurs in the tuples; None for formed tuples
        (every row occurs once).

    Raises
    ------
    ValueError
        As :func:`check_tuples` for formed tuples; for indices given without
        a preprocessor; for indices that are not integers, negative or out of
        range; for a preprocessor (or its output) that is not a finite 2-D
        array with one row per index; and for a feature-count mismatch.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.validation import check_tuple_indices
    >>> X = np.array([[0.0], [1.0], [5.0]])
    >>> points, indices, counts = check_tuple_indices([[0, 2], [2, 0]], 2, X)
    >>> points.ravel().tolist(), indices.tolist(), counts.tolist()
    ([0.0, 5.0], [[0, 1], [1, 0]], [2, 2])
    """
    if preprocessor is None or np.ndim(tuples) != 2:
        if preprocessor is None and np.ndim(tuples) == 2:
            raise ValueError(
                f"{name} must be a 3-D array of shape (n_{name}, {tuple_length}, n_features), got shape "
                f"{np.shape(tuples)}. To give {name} as integer indices into an array of points, set "
                "the estimator's preprocessor parameter to that array."
            )
        T = check_tuples(tuples, tuple_length, n_features=n_features, name=name)
        n, k, d = T.shape
        return T.reshape(n * k, d), np.arange(n * k, dtype=np.int64).reshape(n, k), None
    indices = _check_indices(tuples, tuple_length, name)
    used, inverse = np.unique(indices, return_inverse=True)
    counts = np.bincount(inverse.ravel(), minlength=used.size)
    if callable(preprocessor):
        points = _check_points(preprocessor(used), f"preprocessor's output for {used.size} indices")
        if points.shape[0] != used.size:
            raise ValueError(
                f"preprocessor returned {points.shape[0]} rows for {used.size} indices; a callable "
                "preprocessor must map a 1-D array of n indices to an array of shape (n, n_features)."
            )
    else:
        # only the indexed rows are converted and checked: a large (e.g. memory-mapped)
        # array is never copied whole
        X = preprocessor if isinstance(preprocessor, np.ndarray) else np.asarray(preprocessor)
        _check_ndim(X, "preprocessor array")
        if used[-1] >= X.shape[0]:
            raise ValueError(
                f"{name} contain index {used[-1]}, out of range for the preprocessor's {X.shape[0]} "
                f"points; indices must be in [0, {X.shape[0] - 1}]."
            )
        points = _check_points(X[used], "preprocessor array")
    if n_features is not None and points.shape[1] != n_features:
        raise ValueError(
            f"preprocessor gives points with {points.shape[1]} features, but the estimator was "
            f"fitted with {n_features} features."
        )
    return points, inverse.reshape(indices.shape).astype(np.int64, copy=False), counts


def _check_indices(tuples, tuple_length, name):
    """A 2-D array of non-negative integer indices of shape ``(n_tuples, tuple_length)``."""
    indices = np.asarray(tuples)
    if indices.dtype.kind not in "iu":
        raise ValueError(
            f"{name} given as a 2-D array are indices into the preprocessor and must be integers, got "
            f"dtype {indices.dtype}; pass an integer array (e.g. .astype(np.intp)) or formed {name} "
            f"of shape (n_{name}, {tuple_length}, n_features)."
        )
    if indices.shape[0] == 0 or indices.shape[1] != tuple_length:
        raise ValueError(
            f"{name} given as indices must have shape (n_{name}, {tuple_length}) with n_{name} >= 1, "
            f"got shape {indices.shape}."
        )
    if indices.min() < 0:
        raise ValueError(
            f"{name} contain the negative index {indices.min()}; indices into the preprocessor must "
            "be in [0, n_samples - 1] (negative indices are not counted from the end)."
        )
    return indices


def _check_ndim(points, what):
    if np.ndim(points) != 2:
        raise ValueError(
            f"The {what} must be a 2-D array of shape (n_samples, n_features), got shape "
            f"{np.shape(points)}."
        )


def _check_points(points, what):
    """A finite 2-D float64 array of points with at least one feature."""
    _check_ndim(points, what)
    return check_array(points, dtype=np.float64, ensure_all_finite=True, input_name="preprocessor")


def row_block(n_features, budget=2**18):
    """Rows per block so that a ``(block, n_features)`` float64 temporary holds ``budget``
    values (2 MiB by default), at least 64 rows."""
    return max(64, budget // max(int(n_features), 1))


def tuple_differences(points, indices, first, second, *, block=None):
    """``points[indices[:, first]] - points[indices[:, second]]``, a row block at a time.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    indices : ndarray of int of shape (n_tuples, tuple_length)
    first, second : int
        Positions inside the tuples.
    block : int, default=None
        Tuples gathered at once (the only temporaries beyond the result);
        None: :func:`row_block`.

    Returns
    -------
    diff : ndarray of shape (n_tuples, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.validation import tuple_differences
    >>> tuple_differences(np.array([[0.0], [1.0], [5.0]]), np.array([[2, 1]]), 0, 1).tolist()
    [[4.0]]
    """
    n = indices.shape[0]
    block = row_block(points.shape[1]) if block is None else block
    out = np.empty((n, points.shape[1]), dtype=np.float64)
    for start in range(0, n, block):
        rows = indices[start:start + block]
        np.subtract(points[rows[:, first]], points[rows[:, second]], out=out[start:start + block])
    return out


def check_pairs(pairs, *, n_features=None, dtype=np.float64):
    """Validate pairs, shape ``(n_pairs, 2, n_features)``: :func:`check_tuples` with 2."""
    return check_tuples(pairs, 2, n_features=n_features, dtype=dtype, name="pairs")


def check_pair_labels(y, n_pairs):
    """Validate pair labels: a 1-D array of -1 / +1 of length ``n_pairs``.

    Returns the labels as a float64 array. Raises ``ValueError`` otherwise.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_pairs:
        raise ValueError(
            f"y must be a 1-D array with one label per pair ({n_pairs}), got shape {y.shape}."
        )
    values = set(np.unique(y).tolist())
    if not values <= {-1, 1}:
        raise ValueError(f"Pair labels must be -1 (dissimilar) or +1 (similar), got {sorted(values)}.")
    return y.astype(np.float64)


def check_class_sizes(y_codes, n_neighbors, *, estimator_name="estimator"):
    """Check that classes are large enough for ``n_neighbors`` target neighbours.

    Parameters
    ----------
    y_codes : ndarray of int, shape (n_samples,)
        Class indices 0..n_classes-1.
    n_neighbors : int

    Returns
    -------
    counts : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        If there is a single class, or every class has a single sample.
    """
    counts = np.bincount(y_codes)
    if counts.size < 2:
        raise ValueError(f"{estimator_name} needs samples of at least 2 classes; got 1 class.")
    if counts.max() < 2:
        raise ValueError(
            f"{estimator_name} needs at least one class with 2 or more samples; "
            "every class has a single sample."
        )
    return counts


def encode_class_labels(y, *, estimator_name="estimator", n_neighbors=1, allow_trivial=False):
    """Check classification targets and encode them as ``0..n_classes-1``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels (any hashable values scikit-learn accepts as classes).
    estimator_name : str
        Used in error messages.
    n_neighbors : int, default=1
        Passed to :func:`check_class_sizes`.
    allow_trivial : bool, default=False
        Accept a single class or only single-sample classes (the caller
        handles them) instead of raising.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    y_codes : ndarray of int64 of shape (n_samples,)
    counts : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        For continuous targets, a single class, or only single-sample classes
        (the last two unless ``allow_trivial``).
    """
    check_classification_targets(y)
    classes, y_codes = np.unique(y, return_inverse=True)
    y_codes = y_codes.astype(np.int64).ravel()
    if allow_trivial:
        return classes, y_codes, np.bincount(y_codes)
    counts = check_class_sizes(y_codes, n_neighbors, estimator_name=estimator_name)
    return classes, y_codes, counts


def encode_chunk_labels(y):
    """Encode chunk labels: equal labels share a chunk; negative ones mean "in no chunk".

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Chunk ids (e.g. from :func:`shallowml.constraints.chunks_from_labels`,
        -1 for samples in no chunk), or any class labels.

    Returns
    -------
    y_codes : ndarray of int64 of shape (n_samples,)
        ``0..n_labels-1``, as :func:`encode_class_labels` would give.
    in_chunk : ndarray of bool of shape (n_samples,)
        Samples with a non-negative label shared by at least one other sample.
    """
    with warnings.catch_warnings():
        # chunk ids are many small groups by design; not a regression target
        warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
        _, y_codes, counts = encode_class_labels(y, allow_trivial=True)
    unchunked = y < 0 if np.asarray(y).dtype.kind in "iuf" else np.zeros(y.shape[0], dtype=bool)
    return y_codes, (counts[y_codes] >= 2) & ~unchunked


def column_means(X):
    """Column means of X, exact on constant columns (``X - mean`` is then exactly 0 there).

    A float mean of identical values can be off by round-off (the mean of ten
    copies of 0.001 is not 0.001); centring with it would leave a constant
    non-zero column.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.validation import column_means
    >>> X = np.full((10, 1), 0.001)
    >>> bool(np.all(X - column_means(X) == 0.0))
    True
    """
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
    if X.shape[0]:
        constant = np.all(X == X[0], axis=0)
        mean[constant] = X[0, constant]
    return mean


def data_spread(X):
    """Column means and the spread ``m = max |X - mean|`` of a training set, checked.

    Every estimator rescales its data by ``m`` (or a multiple of it) before
    learning, so the spread must be a usable float64 scale.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    m : float

    Raises
    ------
    ValueError
        When centring overflows (values near 1e308), when all samples are
        identical, or when the spread is below the smallest normal float64
        (about 2.2e-308): the learned map, about ``1 / m``, would overflow.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.validation import data_spread
    >>> data_spread(np.array([[0.0, 1.0], [2.0, 1.0]]))[1]
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] == 0 or np.all(X == X[0]):
        raise ValueError("X has zero variance in every feature (all samples identical); no metric can be learned.")
    with np.errstate(over="ignore", invalid="ignore"):
        mean = column_means(X)
        m = float(np.abs(X - mean).max(initial=0.0))
    if not np.isfinite(m):
        raise ValueError(
            "X is too large: centring it overflows float64 (values near 1e308); "
            "rescale X, e.g. with StandardScaler."
        )
    tiny = np.finfo(np.float64).tiny
    if m < tiny:
        raise ValueError(
            f"X is too small: its values differ by at most {m:.3g}, below the smallest normal float64 "
            f"({tiny:.3g}), so the learned map (about 1 / {m:.3g}) cannot be represented; "
            "rescale X, e.g. with StandardScaler."
        )
    return mean, m


def warn_unused_parameters(estimator, unused):
    """Warn about each parameter set to a value that this fit does not use.

    A parameter that only one mode uses (``margin`` of a margin loss,
    ``learning_rate`` of the stochastic solver, ...) defaults to None, meaning
    "the mode's default". A value given where the chosen mode ignores it is
    accepted, so that grids over the mode still run, but with a
    ``UserWarning`` (as scikit-learn's ``LogisticRegression`` does for
    ``l1_ratio`` without ``penalty='elasticnet'``): never silently.

    Parameters
    ----------
    estimator : estimator instance
    unused : dict of str to str
        Parameter name -> the condition under which it is unused and what uses
        it, e.g. ``"with loss='koch' (only the contrastive and triplet losses
        have a margin)"``.
    """
    for name, why in unused.items():
        value = getattr(estimator, name)
        if value is not None:
            warnings.warn(
                f"{type(estimator).__name__}: {name}={value!r} has no effect {why}; "
                f"leave {name}=None.",
                UserWarning,
                stacklevel=4,
            )
