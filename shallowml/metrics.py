"""Retrieval metrics of an embedding (P@1, R-precision, MAP@R, Recall@k, MAP) and scorers.

Every metric takes data already mapped into the learned space (``Z =
estimator.transform(X)``) and the class labels ``y``. Each sample is a
query; the *references* it ranks are

* leave-one-out (the default): every other sample of ``Z``, as in "A Metric
  Learning Reality Check" (Musgrave, Belongie & Lim, ECCV 2020);
* or a separate reference set ``Z_ref, y_ref`` (e.g. a gallery or the
  training part): every row of ``Z_ref``.

A reference is *relevant* to a query when it has the query's label; ``R`` is
the number of relevant references. References are ranked by Euclidean
distance to the query in ``Z``, **ties broken by the smaller reference
index** (row of ``Z`` or ``Z_ref``), so every result is deterministic.
Queries with ``R = 0`` (the only sample of their class, or a label absent
from ``y_ref``) are skipped, with an
:class:`~sklearn.exceptions.UndefinedMetricWarning` that counts them; the
metric averages the other queries.

The ranking runs in numba kernels over blocks of queries (about 4 million
distances, 32 MB, per block): memory grows as ``block x n_ref``, never
``n x n``. Only the ranks a metric needs are ordered (``R`` for MAP@R, ``k``
for Recall@k); :func:`mean_average_precision` sorts every reference.

:func:`retrieval_scorer` turns a metric into a scorer for
:class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_validate`; :func:`verification_scorer`
scores pair learners (and any metric learner) on labelled pairs.
"""

import numbers
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils import check_array, column_or_1d

from ._kernels.distances import iter_sq_distance_blocks
from ._kernels.retrieval import rank_statistics

__all__ = [
    "equal_error_rate", "map_at_r", "mean_average_precision", "precision_at_1", "r_precision",
    "recall_at_k", "retrieval_scorer", "retrieval_scores", "verification_scorer",
]

# distances per block of queries (float64): 32 MB
_BLOCK_ELEMENTS = 1 << 22


# ---------------------------------------------------------------- validation
def _check_embedding(Z, y, Z_ref, y_ref, name):
    """Validated ``(Z, y, Z_ref, y_ref, leave_one_out)``; ``Z_ref is Z`` for leave-one-out."""
    Z = check_array(Z, dtype=[np.float64, np.float32], input_name="Z")
    y = column_or_1d(y, warn=False)
    if y.shape[0] != Z.shape[0]:
        raise ValueError(f"{name}: y has {y.shape[0]} labels but Z has {Z.shape[0]} rows; give one label per row.")
    if (Z_ref is None) != (y_ref is None):
        given, missing = ("Z_ref", "y_ref") if y_ref is None else ("y_ref", "Z_ref")
        raise ValueError(f"{name}: {given} was given without {missing}; pass both for a separate reference set, "
                         "or neither for leave-one-out within Z.")
    if Z_ref is None:
        if Z.shape[0] < 2:
            raise ValueError(f"{name}: leave-one-out needs at least 2 samples in Z, got {Z.shape[0]}.")
        return Z, y, Z, y, True
    Z_ref = check_array(Z_ref, dtype=[np.float64, np.float32], input_name="Z_ref")
    y_ref = column_or_1d(y_ref, warn=False)
    if y_ref.shape[0] != Z_ref.shape[0]:
        raise ValueError(f"{name}: y_ref has {y_ref.shape[0]} labels but Z_ref has {Z_ref.shape[0]} rows; "
                         "give one label per row.")
    if Z_ref.shape[1] != Z.shape[1]:
        raise ValueError(f"{name}: Z_ref has {Z_ref.shape[1]} columns but Z has {Z.shape[1]}; "
                         "embed queries and references with the same transform.")
    return Z, y, Z_ref, y_ref, False


def _check_k(k, name="k"):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}.")
    return int(k)


# ------------------------------------------------------------------- ranking
def _ranking(Z, y, Z_ref, y_ref, *, name, k_max=1, need_r=True, full=False):
    """Per-query ranking statistics of the valid queries (``R > 0``).

    Returns a dict of arrays over the valid queries: ``R``, ``first_hit``,
    ``hits_at_r``, ``sum_at_r``, ``sum_all`` (meaningful for the ranks
    ordered: ``k_max``, ``R`` when ``need_r``, all when ``full``), plus
    ``n_queries`` and ``n_skipped``.
    """
    Zq, yq, Zr, yr, loo = _check_embedding(Z, y, Z_ref, y_ref, name)
    n_q, n_ref = Zq.shape[0], Zr.shape[0]
    n_ranked = n_ref - 1 if loo else n_ref
    if k_max > n_ranked:
        raise ValueError(f"{name}: k={k_max} is larger than the number of references each query ranks "
                         f"({n_ranked}); use k <= {n_ranked}.")
    if loo:
        classes, q_codes = np.unique(yq, return_inverse=True)
        r_codes = q_codes
    else:
        try:
            classes, codes = np.unique(np.concatenate([yq, yr]), return_inverse=True)
        except TypeError as exc:
            raise ValueError(f"{name}: the labels of y and y_ref cannot be compared ({exc}); "
                             "use labels of one type.") from None
        q_codes, r_codes = codes[:n_q], codes[n_q:]
    q_codes = np.ascontiguousarray(q_codes, dtype=np.int64)
    r_codes = np.ascontiguousarray(r_codes, dtype=np.int64)
    R = np.bincount(r_codes, minlength=classes.size)[q_codes] - (1 if loo else 0)
    R = R.astype(np.int64)
    if full:
        depth = np.full(n_q, n_ranked, dtype=np.int64)
    elif need_r:
        depth = np.minimum(np.maximum(R, k_max), n_ranked).astype(np.int64)
    else:
        depth = np.full(n_q, k_max, dtype=np.int64)
    exclude = np.arange(n_q, dtype=np.int64) if loo else np.full(n_q, -1, dtype=np.int64)
    first = np.zeros(n_q, dtype=np.int64)
    hits = np.zeros(n_q, dtype=np.int64)
    sum_r = np.zeros(n_q)
    sum_all = np.zeros(n_q)
    block = max(1, min(n_q, _BLOCK_ELEMENTS // max(n_ref, 1)))
    for start, D in iter_sq_distance_blocks(Zq, None if loo else Zr, block_rows=block):
        s = slice(start, start + D.shape[0])
        rank_statistics(D, q_codes[s], r_codes, exclude[s], R[s], depth[s], first[s], hits[s], sum_r[s], sum_all[s])
    valid = R > 0
    n_skipped = int(n_q - valid.sum())
    if n_skipped == n_q:
        where = "no other sample of its class in Z" if loo else "no sample of its class in y_ref"
        raise ValueError(f"{name} is undefined: every query has {where}. Retrieval needs classes with "
                         "at least two samples (leave-one-out) or present in the reference set.")
    if n_skipped:
        lonely = classes[np.unique(q_codes[~valid])]
        shown = ", ".join(str(c) for c in lonely[:10].tolist()) + (", ..." if lonely.size > 10 else "")
        where = "no other sample of their class in Z" if loo else "no sample of their class in y_ref"
        warnings.warn(f"{name}: {n_skipped} of {n_q} queries skipped: {where} (classes: {shown}); "
                      f"the score averages the other {n_q - n_skipped}.", UndefinedMetricWarning, stacklevel=3)
    return {"R": R[valid], "first_hit": first[valid], "hits_at_r": hits[valid], "sum_at_r": sum_r[valid],
            "sum_all": sum_all[valid], "n_queries": n_q, "n_skipped": n_skipped}


# ------------------------------------------------------------------- metrics
def precision_at_1(Z, y, *, Z_ref=None, y_ref=None):
    """Precision at 1: the fraction of queries whose nearest reference has their label.

    The same as the leave-one-out 1-NN accuracy within ``Z`` (or the 1-NN
    accuracy against ``Z_ref``), with distance ties broken by the smaller
    reference index.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Embedded queries, e.g. ``estimator.transform(X)``.
    y : array-like of shape (n_samples,)
        Their class labels.
    Z_ref : array-like of shape (n_references, n_components), default=None
        Embedded reference set; ``None``: leave-one-out within ``Z`` (each
        sample queries all the others).
    y_ref : array-like of shape (n_references,), default=None
        Labels of ``Z_ref``; given exactly when ``Z_ref`` is.

    Returns
    -------
    score : float
        In [0, 1], averaged over the queries with ``R > 0`` (see
        :mod:`shallowml.metrics`).

    See Also
    --------
    r_precision, map_at_r, recall_at_k, retrieval_scores

    References
    ----------
    K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning Reality
    Check", ECCV 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.metrics import precision_at_1
    >>> Z = np.array([[0.0], [1.0], [5.0], [6.0], [2.6]])
    >>> y = np.array([0, 0, 1, 1, 1])
    >>> precision_at_1(Z, y)  # the sample at 2.6 is nearest to the one at 1.0
    0.8
    """
    st = _ranking(Z, y, Z_ref, y_ref, name="precision_at_1", k_max=1, need_r=False)
    return float(np.mean(st["first_hit"] == 1))


def recall_at_k(Z, y, k, *, Z_ref=None, y_ref=None):
    """Recall at k: the fraction of queries with a reference of their label among the k nearest.

    The deep metric learning definition (Jégou et al. 2011; Song et al.
    2016), not the fraction of relevant references retrieved: a query counts
    as a success when at least one of its ``k`` nearest references is
    relevant. ``recall_at_k(Z, y, 1)`` equals :func:`precision_at_1`.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Embedded queries.
    y : array-like of shape (n_samples,)
        Their class labels.
    k : int
        Number of nearest references looked at, at most the number each
        query ranks (``n_samples - 1`` in leave-one-out, ``n_references``
        otherwise).
    Z_ref : array-like of shape (n_references, n_components), default=None
        Embedded reference set; ``None``: leave-one-out within ``Z``.
    y_ref : array-like of shape (n_references,), default=None
        Labels of ``Z_ref``.

    Returns
    -------
    score : float
        In [0, 1], non-decreasing in ``k``.

    See Also
    --------
    precision_at_1, retrieval_scores

    References
    ----------
    H. Jégou, M. Douze and C. Schmid, "Product quantization for nearest
    neighbor search", IEEE TPAMI 33(1), 2011. H. O. Song, Y. Xiang,
    S. Jegelka and S. Savarese, "Deep metric learning via lifted structured
    feature embedding", CVPR 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.metrics import recall_at_k
    >>> Z = np.array([[0.0], [1.0], [5.0], [6.0], [2.6]])
    >>> y = np.array([0, 0, 1, 1, 1])
    >>> recall_at_k(Z, y, 1), recall_at_k(Z, y, 2)
    (0.8, 1.0)
    """
    k = _check_k(k)
    st = _ranking(Z, y, Z_ref, y_ref, name="recall_at_k", k_max=k, need_r=False)
    return float(np.mean(st["first_hit"] <= k))


def r_precision(Z, y, *, Z_ref=None, y_ref=None):
    """R-precision: the fraction of relevant references among each query's R nearest.

    ``R`` is the number of references with the query's label (in
    leave-one-out, the other samples of its class).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Embedded queries.
    y : array-like of shape (n_samples,)
        Their class labels.
    Z_ref : array-like of shape (n_references, n_components), default=None
        Embedded reference set; ``None``: leave-one-out within ``Z``.
    y_ref : array-like of shape (n_references,), default=None
        Labels of ``Z_ref``.

    Returns
    -------
    score : float
        In [0, 1], averaged over the queries with ``R > 0``.

    See Also
    --------
    map_at_r, precision_at_1

    References
    ----------
    K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning Reality
    Check", ECCV 2020, section 3.2.

    Examples
    --------
    Musgrave et al.'s worked example: the 4 nearest references of a query
    with ``R = 4`` are relevant, not, relevant, relevant.

    >>> import numpy as np
    >>> from shallowml.metrics import r_precision
    >>> Z_ref = np.array([[1.0], [2.0], [3.0], [4.0], [9.0]])
    >>> y_ref = np.array([0, 1, 0, 0, 0])
    >>> r_precision(np.zeros((1, 1)), [0], Z_ref=Z_ref, y_ref=y_ref)
    0.75
    """
    st = _ranking(Z, y, Z_ref, y_ref, name="r_precision", need_r=True)
    return float(np.mean(st["hits_at_r"] / st["R"]))


def map_at_r(Z, y, *, Z_ref=None, y_ref=None):
    """MAP@R: mean average precision over each query's R nearest references.

    For a query with ``R`` relevant references,
    ``MAP@R = (1/R) * sum_{i=1..R} P(i) * rel(i)``, where ``rel(i)`` is 1
    when the i-th nearest reference is relevant and ``P(i)`` the precision
    among the first ``i``. Unlike precision at 1 it rewards ranking all of a
    class's samples near the query, which is what separates metric learners
    that classify equally well (Musgrave et al. 2020).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Embedded queries.
    y : array-like of shape (n_samples,)
        Their class labels.
    Z_ref : array-like of shape (n_references, n_components), default=None
        Embedded reference set; ``None``: leave-one-out within ``Z``.
    y_ref : array-like of shape (n_references,), default=None
        Labels of ``Z_ref``.

    Returns
    -------
    score : float
        In [0, 1], averaged over the queries with ``R > 0``.

    See Also
    --------
    r_precision, mean_average_precision, retrieval_scorer

    References
    ----------
    K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning Reality
    Check", ECCV 2020, section 3.2.

    Examples
    --------
    The worked example of Musgrave et al.: ranking correctness
    ``[1, 0, 1, 1]`` with ``R = 4`` gives ``(1 + 2/3 + 3/4) / 4``.

    >>> import numpy as np
    >>> from shallowml.metrics import map_at_r
    >>> Z_ref = np.array([[1.0], [2.0], [3.0], [4.0], [9.0]])
    >>> y_ref = np.array([0, 1, 0, 0, 0])
    >>> round(map_at_r(np.zeros((1, 1)), [0], Z_ref=Z_ref, y_ref=y_ref), 3)
    0.604
    """
    st = _ranking(Z, y, Z_ref, y_ref, name="map_at_r", need_r=True)
    return float(np.mean(st["sum_at_r"] / st["R"]))


def mean_average_precision(Z, y, *, Z_ref=None, y_ref=None):
    """Mean average precision over the whole ranking of every query.

    ``AP = (1/R) * sum over the relevant references of P(rank)``: like
    :func:`map_at_r` but without the cut at rank ``R``, so every reference
    is sorted (O(n_ref log n_ref) per query).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Embedded queries.
    y : array-like of shape (n_samples,)
        Their class labels.
    Z_ref : array-like of shape (n_references, n_components), default=None
        Embedded reference set; ``None``: leave-one-out within ``Z``.
    y_ref : array-like of shape (n_references,), default=None
        Labels of ``Z_ref``.

    Returns
    -------
    score : float
        In (0, 1], averaged over the queries with ``R > 0``.

    See Also
    --------
    map_at_r

    References
    ----------
    C. D. Manning, P. Raghavan and H. Schütze, "Introduction to Information
    Retrieval", Cambridge University Press, 2008, section 8.4.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.metrics import mean_average_precision
    >>> Z_ref = np.array([[1.0], [2.0], [3.0], [4.0], [9.0]])
    >>> y_ref = np.array([0, 1, 0, 0, 0])
    >>> round(mean_average_precision(np.zeros((1, 1)), [0], Z_ref=Z_ref, y_ref=y_ref), 4)  # + 4/5 at rank 5
    0.8042
    """
    st = _ranking(Z, y, Z_ref, y_ref, name="mean_average_precision", full=True)
    return float(np.mean(st["sum_all"] / st["R"]))


def retrieval_scores(Z, y, *, Z_ref=None, y_ref=None, k=(1, 2, 4, 8), average_precision=True):
    """Every retrieval metric of an embedding from one ranking pass.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Embedded queries.
    y : array-like of shape (n_samples,)
        Their class labels.
    Z_ref : array-like of shape (n_references, n_components), default=None
        Embedded reference set; ``None``: leave-one-out within ``Z``.
    y_ref : array-like of shape (n_references,), default=None
        Labels of ``Z_ref``.
    k : sequence of int, default=(1, 2, 4, 8)
        The ``k`` of the ``recall_at_k`` entries.
    average_precision : bool, default=True
        Also compute ``mean_average_precision``, which sorts every
        reference of every query; ``False`` orders only
        ``max(R, max(k))`` ranks per query.

    Returns
    -------
    scores : dict
        ``precision_at_1``, ``r_precision``, ``map_at_r``, ``recall_at_<k>``
        for each ``k``, ``mean_average_precision`` (when asked), each equal
        to the function of that name; ``n_queries`` and ``n_skipped``
        (queries with ``R = 0``, not averaged).

    See Also
    --------
    precision_at_1, r_precision, map_at_r, recall_at_k, mean_average_precision

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.metrics import retrieval_scores
    >>> Z = np.array([[0.0], [1.0], [5.0], [6.0], [2.6]])
    >>> s = retrieval_scores(Z, [0, 0, 1, 1, 1], k=(1, 2))
    >>> s["precision_at_1"], s["recall_at_2"], s["n_skipped"]
    (0.8, 1.0, 0)
    """
    ks = [_check_k(v, "each k") for v in np.atleast_1d(np.asarray(k, dtype=object)).tolist()]
    st = _ranking(Z, y, Z_ref, y_ref, name="retrieval_scores", k_max=max(ks, default=1), need_r=True,
                  full=bool(average_precision))
    out = {
        "precision_at_1": float(np.mean(st["first_hit"] == 1)),
        "r_precision": float(np.mean(st["hits_at_r"] / st["R"])),
        "map_at_r": float(np.mean(st["sum_at_r"] / st["R"])),
    }
    for v in ks:
        out[f"recall_at_{v}"] = float(np.mean(st["first_hit"] <= v))
    if average_precision:
        out["mean_average_precision"] = float(np.mean(st["sum_all"] / st["R"]))
    out["n_queries"], out["n_skipped"] = st["n_queries"], st["n_skipped"]
    return out


# ------------------------------------------------------------------- scorers
_RETRIEVAL = {
    "precision_at_1": precision_at_1,
    "r_precision": r_precision,
    "map_at_r": map_at_r,
    "recall_at_k": recall_at_k,
    "mean_average_precision": mean_average_precision,
}


class _RetrievalScorer:
    """``scorer(estimator, X, y)``: a retrieval metric of ``estimator.transform(X)`` (leave-one-out)."""

    def __init__(self, name, kwargs):
        self.name = name
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        if not hasattr(estimator, "transform"):
            last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
            raise ValueError(
                f"retrieval_scorer({self.name!r}) scores the embedding estimator.transform(X), but "
                f"{type(last).__name__} has no transform; use a metric learner, or a Pipeline whose last "
                "step is a transformer (drop the classifier step)."
            )
        Z = estimator.transform(X)
        return _RETRIEVAL[self.name](Z, y, **self.kwargs)

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"retrieval_scorer({self.name!r}{extra})"


def retrieval_scorer(name, **kwargs):
    """A scorer ``scorer(estimator, X, y)`` for a retrieval metric of the learned space.

    The scorer embeds ``X`` with ``estimator.transform`` (a fitted metric
    learner, or a :class:`~sklearn.pipeline.Pipeline` whose last step is a
    transformer, e.g. scaling then a metric learner) and scores retrieval
    within that set, leave-one-out: in cross-validation, the test fold
    queries itself. Higher is better, as scikit-learn expects.

    Parameters
    ----------
    name : {'precision_at_1', 'r_precision', 'map_at_r', 'recall_at_k', \
'mean_average_precision'}
        The metric (the function of that name in :mod:`shallowml.metrics`).
    **kwargs
        Its parameters: ``k`` (required) for ``'recall_at_k'``; the others
        take none.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, picklable (usable with
        ``n_jobs``).

    See Also
    --------
    map_at_r, verification_scorer

    Examples
    --------
    Choosing the dimension of LDA on standardised digits by MAP@R:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from shallowml import LDA
    >>> from shallowml.metrics import retrieval_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> search = GridSearchCV(make_pipeline(StandardScaler(), LDA()),
    ...                       {"lda__n_components": [2, 9]}, scoring=retrieval_scorer("map_at_r"))
    >>> search.fit(X, y).best_params_
    {'lda__n_components': 9}
    """
    if name not in _RETRIEVAL:
        raise ValueError(f"name must be one of {sorted(_RETRIEVAL)}, got {name!r}.")
    if name == "recall_at_k":
        if set(kwargs) != {"k"}:
            raise ValueError(f"retrieval_scorer('recall_at_k') takes exactly one keyword argument, k; "
                             f"got {sorted(kwargs) or 'none'}.")
        kwargs = {"k": _check_k(kwargs["k"])}
    elif kwargs:
        raise ValueError(f"retrieval_scorer({name!r}) takes no keyword arguments, got {sorted(kwargs)}; "
                         "only 'recall_at_k' takes k.")
    return _RetrievalScorer(name, kwargs)


def equal_error_rate(y_true, y_score):
    """Equal error rate: where the false acceptance and false rejection rates meet.

    The ROC curve of ``y_score`` (higher means "same class") is followed
    until the false negative rate ``1 - TPR`` falls to the false positive
    rate; the EER is their common value on the straight segment where they
    cross (the curve interpolated as for the ROC AUC).

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 (or +1) for similar pairs, 0 or -1 for dissimilar ones; both
        kinds must occur.
    y_score : array-like of shape (n_pairs,)
        Similarity scores, e.g. ``estimator.pair_score(pairs)`` (the
        negative learned distance).

    Returns
    -------
    eer : float
        In [0, 1]; 0 when a threshold separates the two kinds, 0.5 for
        uninformative scores.

    See Also
    --------
    verification_scorer, sklearn.metrics.roc_curve

    References
    ----------
    G. Koch, R. Zemel and R. Salakhutdinov, "Siamese neural networks for
    one-shot image recognition", ICML Deep Learning Workshop, 2015 (pair
    verification).

    Examples
    --------
    >>> from shallowml.metrics import equal_error_rate
    >>> equal_error_rate([1, 1, -1, -1], [0.9, 0.4, 0.6, 0.1])
    0.5
    >>> equal_error_rate([1, 1, -1, -1], [0.9, 0.8, 0.6, 0.1])
    0.0
    """
    y_true = column_or_1d(y_true, warn=False)
    y_score = column_or_1d(np.asarray(y_score, dtype=np.float64), warn=False)
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score contains NaN or infinite values; learned distances overflow, rescale the data.")
    if y_true.shape[0] != y_score.shape[0]:
        raise ValueError(f"y_true has {y_true.shape[0]} entries but y_score has {y_score.shape[0]}; "
                         "give one score per pair.")
    values = set(np.unique(y_true).tolist())
    if not values <= {-1, 0, 1} or len(values & {1}) == 0 or len(values - {1}) == 0:
        raise ValueError(f"y_true must hold both similar (1) and dissimilar (0 or -1) pairs, got values "
                         f"{sorted(values)}.")
    fpr, tpr, _ = roc_curve(y_true == 1, y_score, drop_intermediate=False)
    fnr = 1.0 - tpr
    i = int(np.argmax(fnr <= fpr))  # fnr falls from 1 to 0, fpr rises from 0 to 1: a crossing exists
    if i == 0:
        return float(fpr[0])
    a, b = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]  # a > 0 >= b
    t = a / (a - b)
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


class _VerificationScorer:
    """``scorer(estimator, pairs, y)``: ROC AUC or minus the EER of ``estimator.pair_score(pairs)``."""

    def __init__(self, name):
        self.name = name

    def __call__(self, estimator, pairs, y):
        if hasattr(estimator, "pair_score"):
            scores = estimator.pair_score(pairs)
        elif hasattr(estimator, "decision_function"):
            scores = estimator.decision_function(pairs)
        else:
            raise ValueError(f"verification_scorer({self.name!r}) needs an estimator with pair_score or "
                             f"decision_function on pairs; {type(estimator).__name__} has neither.")
        y = column_or_1d(y, warn=False)
        if self.name == "roc_auc":
            return float(roc_auc_score(y == 1, scores))
        return 0.0 - equal_error_rate(y, scores)  # 0.0, not -0.0, for a perfect separation

    def __repr__(self):
        return f"verification_scorer({self.name!r})"


def verification_scorer(name="roc_auc"):
    """A scorer ``scorer(estimator, pairs, y)`` for pair verification with the learned distance.

    Scores ``estimator.pair_score(pairs)`` (the negative learned distance;
    any shallowml metric learner, whether fitted on pairs or on labelled
    samples) against the pair labels ``y`` (+1 similar, -1 dissimilar). Pair
    learners' own ``score`` is already the ROC AUC (the default scoring of
    :class:`~sklearn.model_selection.GridSearchCV` for them); this scorer
    adds the equal error rate, and scores learners fitted on samples on
    pairs.

    Parameters
    ----------
    name : {'roc_auc', 'neg_equal_error_rate'}, default='roc_auc'
        ROC AUC, or minus the :func:`equal_error_rate` (scikit-learn's
        ``neg_`` convention: higher is better).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, pairs, y) -> float``, picklable.

    See Also
    --------
    equal_error_rate, retrieval_scorer

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import LDA
    >>> from shallowml.metrics import verification_scorer
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 1.0]])
    >>> lda = LDA().fit(X, [0, 0, 1, 1])
    >>> pairs = np.stack([X[[0, 2, 0, 1]], X[[1, 3, 2, 3]]], axis=1)
    >>> verification_scorer("neg_equal_error_rate")(lda, pairs, [1, 1, -1, -1])
    0.0
    """
    names = ("roc_auc", "neg_equal_error_rate")
    if name not in names:
        raise ValueError(f"name must be one of {list(names)}, got {name!r}.")
    return _VerificationScorer(name)
