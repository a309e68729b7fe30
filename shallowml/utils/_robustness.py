"""Bad-input matrix: every estimator against every degenerate or invalid input.

Used by ``tests/test_reliability.py`` (one test per cell) and
``benchmarks/reliability_report.py`` (a table with counts). Like scikit-learn's
``estimator_checks`` it lives in the package so both can import it; it is not
public API.

Each case builds fit arguments from a small, fixed dataset; the expected
outcome per ``(estimator, case)`` is declarative: either a ``ValueError``
whose message matches a regular expression, or a fit that gives finite
``components_`` (and finite transformed data / pair distances). Nothing else
passes: other exception types, a wrong message, NaN, or a silent success
where an error was expected.
"""

import re
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .discovery import all_estimators, input_kind

N_FEATURES = 4
# accepted wording when the data has no spread at all
_NO_SPREAD = "zero variance|identical"
# the one message of utils.init.resolve_n_components, for every estimator
_TOO_MANY_COMPONENTS = rf"n_components={N_FEATURES + 1} is larger than .* use at most \d+, or None"


@dataclass(frozen=True)
class Expect:
    """Expected outcome: ``kind`` is 'raises' (with regex ``match``) or 'finite'."""

    kind: str
    match: str = ""

    def __str__(self):
        return f"raises /{self.match}/" if self.kind == "raises" else "finite components_"


FINITE = Expect("finite")


def raises(match):
    return Expect("raises", match)


@dataclass
class Outcome:
    estimator: str
    case: str
    expected: Expect
    passed: bool
    detail: str
    seconds: float
    convergence_warning: bool = False


def _base_data():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 12)
    centers = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 1.0, 0.0], [0.0, 3.0, 0.0, -1.0]])
    X = rng.standard_normal((y.size, N_FEATURES)) + centers[y]
    return X, y


def _base_pairs():
    X, y = _base_data()
    rng = np.random.RandomState(1)
    a, b = rng.randint(0, X.shape[0], size=(2, 60))
    b = np.where(a == b, (b + 1) % X.shape[0], b)
    pairs = np.stack([X[a], X[b]], axis=1)
    labels = np.where(y[a] == y[b], 1, -1)
    return pairs, labels


# ---------------------------------------------------------------- sample cases
def _samples_cases():
    """name -> (X, y, extra_params, default expectation for labelled estimators)."""
    X, y = _base_data()
    cases = {}

    def add(name, Xc, yc, expect, params=None):
        cases[name] = (Xc, yc, params or {}, expect)

    Xn = X.copy()
    Xn[3, 1] = np.nan
    add("nan", Xn, y, raises("contains NaN"))
    Xi = X.copy()
    Xi[3, 1] = np.inf
    add("inf", Xi, y, raises("contains infinity"))
    add("empty_X", X[:0], y[:0], raises(r"0 sample\(s\)"))
    add("1d_X", X[:, 0], y, raises("Expected 2D array"))
    add("0_features", X[:, :0], y, raises(r"0 feature\(s\)"))
    add("mismatched_lengths", X, y[:-1], raises("inconsistent numbers of samples"))
    yn = y.astype(np.float64)
    yn[2] = np.nan
    add("nan_y", X, yn, raises("y contains NaN"))
    add("continuous_y", X, np.linspace(0.0, 1.0, y.size), raises("Unknown label type"))
    add("single_class", X, np.zeros_like(y), raises("at least 2 classes"))
    y1 = y.copy()
    y1[0] = 7
    add("one_sample_class", X, y1, FINITE)
    add("all_singletons", X, np.arange(y.size), raises("2 or more samples"))
    add("classes_smaller_than_n_neighbors", X, np.repeat(np.arange(y.size // 2), 2), FINITE)
    Xc = X.copy()
    Xc[:, 2] = 5.0
    add("constant_feature", Xc, y, FINITE)
    add("duplicate_feature", np.hstack([X[:, :2], X[:, :2]]), y, FINITE)
    add("duplicate_rows", np.vstack([X, X]), np.concatenate([y, y]), FINITE)
    add("identical_rows", np.ones_like(X), y, raises(_NO_SPREAD))
    add("huge_scale_1e150", X * 1e150, y, FINITE)
    add("huge_scale_1e200", X * 1e200, y, FINITE)
    add("tiny_scale_1e-150", X * 1e-150, y, FINITE)
    # values below the smallest normal float64 (2.2e-308): a map rescaling them would overflow
    add("subnormal_X", X * 1e-310, y, raises("X is too small"))
    Xz = X.copy()
    Xz[np.abs(Xz) < 0.3] = -0.0
    add("negative_zeros", Xz, y, FINITE)
    add("float32", X.astype(np.float32), y, FINITE)
    add("int", np.round(2 * X).astype(np.int64), y, FINITE)
    add("string_labels", X, np.array(["setosa", "versicolor", "virginica"])[y], FINITE)
    add("noncontiguous_labels", X, np.array([-5, 3, 70])[y], FINITE)
    add("strided_X", np.hstack([X, X])[:, ::2], y, FINITE)
    add("one_feature", X[:, :1], y, FINITE)
    add("n_components_too_large", X, y, raises(_TOO_MANY_COMPONENTS), {"n_components": N_FEATURES + 1})
    add("single_sample", X[:1], y[:1], raises(r"at least 2 classes|minimum of 2 is required"))
    add("wide_X", np.random.RandomState(2).standard_normal((y.size, 50)) + X[:, :1], y, FINITE)
    add("rank_one_X", np.outer(X[:, 0], [1.0, -2.0, 0.5, 3.0]), y, FINITE)
    add("collinear_features", np.hstack([X[:, :3], X[:, :1] + X[:, 1:2]]), y, FINITE)
    add("near_duplicate_rows", np.vstack([X, X + 1e-13]), np.concatenate([y, y]), FINITE)
    Xo = X.copy()
    Xo[0] *= 1e12
    add("one_huge_outlier", Xo, y, FINITE)
    add("huge_scale_1e300", X * 1e300, y, FINITE)
    add("mixed_sign_extremes", X * np.array([1e150, 1e-150, 1.0, -1e100]), y, FINITE)
    add("complex_X", X.astype(np.complex128), y, raises("Complex data not supported"))
    add("non_numeric_X", np.where(X > 0, "a", "b"), y, raises("could not convert string to float"))
    add("bool_X", X > 0, y, FINITE)
    add("float16", X.astype(np.float16), y, FINITE)
    add("fortran_X", np.asfortranarray(X), y, FINITE)
    Xr = X.copy()
    Xr.flags.writeable = False  # as joblib's memory-mapped inputs inside GridSearchCV
    add("readonly_X", Xr, y, FINITE)
    add("list_input", X.tolist(), y.tolist(), FINITE)
    add("y_column_vector", X, y[:, None], FINITE)
    add("y_two_columns", X, np.c_[y, y], raises(r"1d array|y should be a 1d array"))
    add("bool_labels", X, y > 0, FINITE)
    return cases


_LABEL_CASES = {"mismatched_lengths", "nan_y", "continuous_y", "single_class", "all_singletons",
                "y_two_columns"}


# ------------------------------------------------------ regression-only cases
def _regression_cases():
    """Extra sample cases for learners on real targets (input_kind 'regression')."""
    X, y = _base_data()
    yr = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * y
    cases = {}

    def add(name, Xc, yc, expect, params=None):
        cases[name] = (Xc, yc, params or {}, expect)

    yi = yr.copy()
    yi[4] = -np.inf
    add("inf_y", X, yi, raises("y contains infinity"))
    add("real_targets", X, yr, FINITE)
    add("huge_y_1e300", X, yr * 1e300, FINITE)
    add("tiny_y_1e-300", X, yr * 1e-300, FINITE)
    add("subnormal_y", X, yr * 1e-310, FINITE)
    add("offset_y_1e15", X, yr + 1e15, FINITE)
    add("constant_y", X, np.full(y.size, 3.5), FINITE)
    add("object_y", X, yr.astype(object), FINITE)
    add("numeric_strings_y", X, yr.astype(str), raises("real-valued targets"))
    return cases


# Real targets: any finite real y is valid, so the label problems of class learners
# are not errors for them (continuous y, one value per sample, labels of any
# encoding); a constant y (single_class) leaves nothing to learn, so MLKR keeps
# the initial map with a UserWarning; strings are not real targets.
_REGRESSION_EXPECT = {
    "continuous_y": FINITE,
    "single_class": FINITE,
    "all_singletons": FINITE,
    "string_labels": raises("real-valued targets"),
}


def _cases_for(kind):
    if kind == "pairs":
        return _pairs_cases()
    if kind in ("triplets", "quadruplets"):
        return _tuple_cases(kind)
    if kind == "regression":
        return {**_samples_cases(), **_regression_cases()}
    return _samples_cases()


# ------------------------------------------------------------------ pair cases
def _pairs_cases():
    P, yp = _base_pairs()
    cases = {}

    def add(name, Pc, yc, expect, params=None):
        cases[name] = (Pc, yc, params or {}, expect)

    shape_msg = r"3-D array of shape \(n_pairs, 2, n_features\)"
    Pn = P.copy()
    Pn[2, 1, 0] = np.nan
    add("nan_pairs", Pn, yp, raises("contains NaN"))
    Pi = P.copy()
    Pi[2, 1, 0] = -np.inf
    add("inf_pairs", Pi, yp, raises("contains infinity"))
    add("empty_pairs", P[:0], yp[:0], raises(r"0 sample\(s\)"))
    add("pairs_2d", P[:, 0, :], yp, raises(shape_msg))
    add("pairs_1d", P[:, 0, 0], yp, raises(shape_msg))
    add("pairs_3_per_row", np.concatenate([P, P[:, :1]], axis=1), yp, raises(shape_msg))
    add("pairs_4d", P[:, :, :, None], yp, raises(shape_msg))
    add("pairs_0_features", P[:, :, :0], yp, raises("0 feature"))
    add("labels_0_1", P, (yp > 0).astype(int), raises(r"-1 \(dissimilar\) or \+1"))
    add("labels_nan", P, np.where(np.arange(yp.size) == 0, np.nan, yp), raises(r"-1 \(dissimilar\) or \+1"))
    add("mismatched_lengths", P, yp[:-1], raises("one label per pair"))
    add("only_similar_pairs", P, np.ones_like(yp), FINITE)
    Pz = P.copy()
    Pz[:5, 1] = Pz[:5, 0]
    add("some_identical_point_pairs", Pz, yp, FINITE)
    add("all_identical_point_pairs", np.stack([P[:, 0], P[:, 0]], axis=1), yp, raises(_NO_SPREAD))
    add("duplicate_pairs", np.concatenate([P, P]), np.concatenate([yp, yp]), FINITE)
    Pc = P.copy()
    Pc[:, :, 2] = 5.0
    add("constant_feature", Pc, yp, FINITE)
    add("identical_points", np.ones_like(P), yp, raises(_NO_SPREAD))
    add("huge_scale_1e150", P * 1e150, yp, FINITE)
    add("tiny_scale_1e-150", P * 1e-150, yp, FINITE)
    add("float32", P.astype(np.float32), yp, FINITE)
    add("int", np.round(2 * P).astype(np.int64), yp, FINITE)
    add("n_components_too_large", P, yp, raises(_TOO_MANY_COMPONENTS), {"n_components": N_FEATURES + 1})
    add("huge_scale_1e300", P * 1e300, yp, FINITE)
    Pr = P.copy()
    Pr.flags.writeable = False
    add("readonly_pairs", Pr, yp, FINITE)
    add("list_pairs", P.tolist(), yp.tolist(), FINITE)
    add("complex_pairs", P.astype(np.complex128), yp, raises("Complex data not supported"))
    add("labels_strings", P, np.where(yp > 0, "same", "different"), raises(r"-1 \(dissimilar\) or \+1"))
    return cases



# --------------------------------------------------------- triplet and quadruplet cases
def _base_tuples(kind):
    """Triplets ``(a, p, n)`` (p of a's class, n of another) or quadruplets ``(a, b, c, d)``
    (a, b of one class, c, d of two classes) drawn from the base data."""
    X, y = _base_data()
    rng = np.random.RandomState(2)
    n = X.shape[0]
    a = np.repeat(np.arange(n), 2)
    same = np.array([rng.choice(np.flatnonzero((y == y[i]) & (np.arange(n) != i))) for i in a])
    other = np.array([rng.choice(np.flatnonzero(y != y[i])) for i in a])
    if kind == "triplets":
        return np.stack([X[a], X[same], X[other]], axis=1)
    c = rng.permutation(a)
    return np.stack([X[a], X[same], X[c], X[np.array([rng.choice(np.flatnonzero(y != y[i])) for i in c])]],
                    axis=1)


def _tuple_cases(kind):
    """Cases for learners on triplets or quadruplets (``fit(tuples)``, no labels)."""
    T = _base_tuples(kind)
    size = T.shape[1]
    cases = {}

    def add(name, Tc, expect, params=None, y=None):
        cases[name] = (Tc, y, params or {}, expect)

    shape_msg = rf"3-D array of shape \(n_{kind}, {size}, n_features\)"
    Tn = T.copy()
    Tn[2, 1, 0] = np.nan
    add(f"nan_{kind}", Tn, raises("contains NaN"))
    Ti = T.copy()
    Ti[2, 1, 0] = np.inf
    add(f"inf_{kind}", Ti, raises("contains infinity"))
    add(f"empty_{kind}", T[:0], raises(r"0 sample\(s\)"))
    add(f"{kind}_2d", T[:, 0, :], raises(shape_msg))
    add(f"{kind}_1d", T[:, 0, 0], raises(shape_msg))
    add(f"{kind}_wrong_length", np.concatenate([T, T[:, :1]], axis=1), raises(shape_msg))
    add(f"{kind}_4d", T[:, :, :, None], raises(shape_msg))
    add(f"{kind}_0_features", T[:, :, :0], raises("0 feature"))
    add("labels_given", T, raises("y must be None"), y=np.ones(T.shape[0]))
    Tz = T.copy()
    Tz[:5, 1] = Tz[:5, 0]
    add("some_identical_points", Tz, FINITE)
    add("duplicate_tuples", np.concatenate([T, T]), FINITE)
    Tc = T.copy()
    Tc[:, :, 2] = 5.0
    add("constant_feature", Tc, FINITE)
    add("identical_points", np.ones_like(T), raises(_NO_SPREAD))
    add("single_tuple", T[:1], FINITE)
    add("huge_scale_1e150", T * 1e150, FINITE)
    add("huge_scale_1e300", T * 1e300, FINITE)
    add("tiny_scale_1e-150", T * 1e-150, FINITE)
    add("subnormal", T * 1e-310, raises("X is too small"))
    add("float32", T.astype(np.float32), FINITE)
    add("int", np.round(2 * T).astype(np.int64), FINITE)
    Tr = T.copy()
    Tr.flags.writeable = False
    add(f"readonly_{kind}", Tr, FINITE)
    add(f"list_{kind}", T.tolist(), FINITE)
    add(f"complex_{kind}", T.astype(np.complex128), raises("Complex data not supported"))
    add("one_feature", T[:, :, :1], FINITE)
    return cases


# Documented deviations from the defaults above, per (estimator, case).
# Covariance ignores y (so label problems do not concern it); RCA treats each
# label as one chunklet, so a single chunk is valid input (and RCA_Supervised
# draws its chunklets from one class); NCA's objective is
# constant for one class or only single-sample classes, so it keeps the initial
# map with a warning, as scikit-learn's and metric-learn's NCA do; NCA and ITML
# do not rescale X, so subnormal data give finite (tiny-data) metrics; LinearSiamese
# needs both kinds of pairs for its contrastive loss, ITML does not. ITML on pairs
# keeps the data units (its bounds are in squared data units), so pairs near
# 1e300 whose squared distances overflow get a ValueError saying to rescale.
# MMC needs both kinds of pairs (its objective spreads dissimilar pairs under a
# bound on similar ones) and, like ITML, keeps the data units on pairs near 1e300.
OVERRIDES = {
    ("MMC", "only_similar_pairs"): raises("both similar"),
    ("MMC", "huge_scale_1e300"): raises("overflow; rescale the data"),
    ("RCA", "single_class"): FINITE,
    ("RCA_Supervised", "single_class"): FINITE,
    ("NCA", "single_class"): FINITE,
    ("NCA", "subnormal_X"): FINITE,
    ("ITML_Supervised", "subnormal_X"): FINITE,
    ("NCA", "all_singletons"): FINITE,
    ("LinearSiamese", "only_similar_pairs"): raises("both similar"),
    ("ITML", "huge_scale_1e300"): raises("overflow; rescale the data"),
    # SCML's hinge has a unit margin in squared units of X and its solver works in those
    # units: data whose weighted squared distances could overflow are refused (and
    # 'triplet_diffs' bases need at least n_features triplets)
    ("SCML", "huge_scale_1e150"): raises("X is too large"),
    ("SCML", "huge_scale_1e300"): raises("X is too large"),
    ("SCML", "single_tuple"): raises("at least as many triplets as features"),
    ("SCML_Supervised", "huge_scale_1e150"): raises("X is too large"),
    ("SCML_Supervised", "huge_scale_1e200"): raises("X is too large"),
    ("SCML_Supervised", "huge_scale_1e300"): raises("X is too large"),
    ("SCML_Supervised", "mixed_sign_extremes"): raises("X is too large"),
}


def case_names(kind):
    """Names of the cases for an input kind: 'pairs', 'triplets', 'quadruplets', 'classes', 'regression', ...."""
    return list(_cases_for(kind))


def expected(name, cls, case):
    """The expected outcome of ``cls`` on ``case`` (None: not applicable)."""
    kind = input_kind(cls)
    cases = _cases_for(kind)
    _, _, params, expect = cases[case]
    if params and not set(params) <= set(cls().get_params()):
        return None
    if kind == "unsupervised" and case in _LABEL_CASES:
        expect = FINITE
    if kind == "regression":
        expect = _REGRESSION_EXPECT.get(case, expect)
    return OVERRIDES.get((name, case), expect)


def _fast_params(est):
    """Fixed seeds, and fewer iterations so the matrix stays quick."""
    params = est.get_params()
    fast = {}
    if "random_state" in params:
        fast["random_state"] = 0
    if "max_iter" in params and isinstance(params["max_iter"], int):
        fast["max_iter"] = min(params["max_iter"], 50)
    if params.get("verbose"):
        fast["verbose"] = False
    return fast


def run_case(name, cls, case):
    """Fit ``cls`` on ``case`` and compare with the expected outcome."""
    expect = expected(name, cls, case)
    kind = input_kind(cls)
    cases = _cases_for(kind)
    data, y, params, _ = cases[case]
    est = cls()
    est.set_params(**_fast_params(est), **params)
    t0 = time.perf_counter()
    conv = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(data, y)
        conv = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    except Exception as exc:  # noqa: BLE001 - classifying any failure is the point
        seconds = time.perf_counter() - t0
        msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if expect.kind == "raises" and isinstance(exc, ValueError) and re.search(expect.match, str(exc)):
            return Outcome(name, case, expect, True, msg, seconds)
        return Outcome(name, case, expect, False, msg, seconds)
    seconds = time.perf_counter() - t0
    if expect.kind == "raises":
        return Outcome(name, case, expect, False, "fit succeeded (no error)", seconds, conv)
    L = getattr(est, "components_", None)
    if L is None or not np.all(np.isfinite(L)):
        return Outcome(name, case, expect, False, "components_ missing or not finite", seconds, conv)
    n_features = np.shape(data)[-1]
    if L.ndim != 2 or L.shape[1] != n_features:
        return Outcome(name, case, expect, False, f"components_ has shape {L.shape}", seconds, conv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind == "pairs":
                out = est.pair_distance(np.asarray(data, dtype=np.float64))
            elif kind in ("triplets", "quadruplets"):
                out = est.decision_function(np.asarray(data, dtype=np.float64))
            else:
                out = est.transform(data)
        except Exception as exc:  # noqa: BLE001
            return Outcome(name, case, expect, False, f"after fit: {type(exc).__name__}: {exc}", seconds, conv)
    if not np.all(np.isfinite(out)):
        what = {"pairs": "pair_distance", "triplets": "decision_function",
                "quadruplets": "decision_function"}.get(kind, "transform")
        return Outcome(name, case, expect, False, f"{what} of the training data is not finite", seconds, conv)
    return Outcome(name, case, expect, True, f"finite, components_ {L.shape}", seconds, conv)


def matrix_cells():
    """All applicable ``(name, cls, case)`` cells, in a stable order."""
    cells = []
    for name, cls in all_estimators():
        for case in case_names(input_kind(cls)):
            if expected(name, cls, case) is not None:
                cells.append((name, cls, case))
    return cells
