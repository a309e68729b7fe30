"""Retrieval metrics against a brute-force numpy ranking, the Reality Check's worked example, scorers."""

import doctest
import pickle
import re
import tracemalloc
import warnings

import numba
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import shallowml.metrics as M
from shallowml import LDA, ITML
from shallowml._kernels import _options
from shallowml._kernels.retrieval import rank_statistics
from shallowml.metrics import (
    equal_error_rate, map_at_r, mean_average_precision, precision_at_1, r_precision, recall_at_k,
    retrieval_scorer, retrieval_scores, verification_scorer,
)
from shallowml.utils.threads import numba_threads

MAX_THREADS = min(2, numba.config.NUMBA_NUM_THREADS)
KS = (1, 2, 3, 7)


# ------------------------------------------------------------------ reference
def _reference(Z, y, Z_ref=None, y_ref=None, ks=KS):
    """Every metric from an explicit full ranking: n x n distances, lexsort by (distance, index)."""
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y)
    loo = Z_ref is None
    Zr, yr = (Z, y) if loo else (np.asarray(Z_ref, dtype=np.float64), np.asarray(y_ref))
    D = ((Z[:, None, :] - Zr[None, :, :]) ** 2).sum(-1)
    rows = []
    for i in range(Z.shape[0]):
        cand = np.arange(Zr.shape[0])
        if loo:
            cand = cand[cand != i]
        ranked = cand[np.lexsort((cand, D[i, cand]))]
        rel = (yr[ranked] == y[i]).astype(float)
        R = int(rel.sum())
        if R == 0:
            continue
        prec = np.cumsum(rel) / np.arange(1, rel.size + 1)
        row = {
            "precision_at_1": rel[0],
            "r_precision": rel[:R].sum() / R,
            "map_at_r": (prec[:R] * rel[:R]).sum() / R,
            "mean_average_precision": (prec * rel).sum() / R,
        }
        for k in ks:
            row[f"recall_at_{k}"] = float(rel[:k].any())
        rows.append(row)
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}, Z.shape[0] - len(rows)


def _data(kind, rng, n=60, d=3, n_classes=4):
    y = rng.randint(0, n_classes, size=n)
    if kind == "continuous":
        Z = rng.standard_normal((n, d)) + y[:, None] * 0.7
    elif kind == "ties":  # integer grid: many equal distances and duplicate points
        Z = rng.randint(0, 3, size=(n, d)).astype(np.float64)
    else:  # singleton classes, one feature
        Z = rng.standard_normal((n, 1))
        y = y.copy()
        y[:3] = [10, 11, 12]
    return Z, y


@pytest.fixture
def rng():
    return np.random.RandomState(0)


# ------------------------------------------------------ the paper's worked example
def test_reality_check_worked_example():
    # one query, R = 4, ranking correctness [1, 0, 1, 1] then the 4th relevant reference
    Z_ref = np.array([[1.0], [2.0], [3.0], [4.0], [9.0]])
    y_ref = np.array([0, 1, 0, 0, 0])
    kw = dict(Z_ref=Z_ref, y_ref=y_ref)
    Z, y = np.zeros((1, 1)), [0]
    assert precision_at_1(Z, y, **kw) == 1.0
    assert r_precision(Z, y, **kw) == 0.75
    assert map_at_r(Z, y, **kw) == (1 + 2 / 3 + 3 / 4) / 4
    assert round(map_at_r(Z, y, **kw), 3) == 0.604
    assert mean_average_precision(Z, y, **kw) == (1 + 2 / 3 + 3 / 4 + 4 / 5) / 4


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_reality_check_example_leave_one_out():
    # the same ranking for the query at 0 when it is one of the samples
    Z = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [9.0]])
    y = np.array([0, 0, 1, 0, 0, 0])
    s = retrieval_scores(Z, y, k=())
    ref, _ = _reference(Z, y, ks=())
    assert s == {**ref, "n_queries": 6, "n_skipped": 1}  # the only sample of class 1 is skipped
    # the first query alone: as in the paper
    st = M._ranking(Z, y, None, None, name="t", need_r=True)
    assert st["sum_at_r"][0] / st["R"][0] == (1 + 2 / 3 + 3 / 4) / 4


# ---------------------------------------------------------- brute-force reference
@pytest.mark.parametrize("kind", ["continuous", "ties", "singletons"])
@pytest.mark.parametrize("with_ref", [False, True])
def test_metrics_match_bruteforce(rng, kind, with_ref):
    Z, y = _data(kind, rng)
    kw = {}
    if with_ref:
        Zr, yr = _data(kind, rng, n=45)
        yr[yr == 2] = 3  # class 2 absent from the references: its queries are skipped
        kw = dict(Z_ref=Zr, y_ref=yr)
    ref, n_skipped = _reference(Z, y, kw.get("Z_ref"), kw.get("y_ref"))
    assert n_skipped > 0 or kind != "singletons"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        got = retrieval_scores(Z, y, k=KS, **kw)
        partial = retrieval_scores(Z, y, k=KS, average_precision=False, **kw)
        single = {
            "precision_at_1": precision_at_1(Z, y, **kw), "r_precision": r_precision(Z, y, **kw),
            "map_at_r": map_at_r(Z, y, **kw), "mean_average_precision": mean_average_precision(Z, y, **kw),
            **{f"recall_at_{k}": recall_at_k(Z, y, k, **kw) for k in KS},
        }
    assert got["n_skipped"] == n_skipped and got["n_queries"] == Z.shape[0]
    for key, value in ref.items():
        np.testing.assert_allclose(got[key], value, rtol=0, atol=1e-12, err_msg=key)
        np.testing.assert_allclose(single[key], value, rtol=0, atol=1e-12, err_msg=key)
        if key != "mean_average_precision":  # the partial ranking gives the same numbers
            assert partial[key] == got[key], key
    assert "mean_average_precision" not in partial


def test_ties_go_to_the_smaller_reference_index():
    # the query at 0 has two references at distance 1: index 0 (other class) ranks first
    Z_ref = np.array([[-1.0], [1.0], [5.0]])
    assert precision_at_1([[0.0]], [1], Z_ref=Z_ref, y_ref=[0, 1, 1]) == 0.0
    assert precision_at_1([[0.0]], [1], Z_ref=Z_ref[[1, 0, 2]], y_ref=[1, 0, 1]) == 1.0
    # duplicates of the query: distance 0 ties, the smaller index first (the query itself excluded)
    # (query 1 is alone in its class and skipped; R = 2 for the others)
    Z = np.zeros((4, 2))
    with pytest.warns(UndefinedMetricWarning):
        assert map_at_r(Z, [0, 1, 0, 0]) == np.mean([(1 / 2) / 2, 1 / 2, 1 / 2])


def test_blocks_give_the_same_result(rng, monkeypatch):
    Z, y = _data("ties", rng, n=50)
    whole = retrieval_scores(Z, y, k=KS)
    monkeypatch.setattr(M, "_BLOCK_ELEMENTS", 3 * 50)  # blocks of 3 queries, the last one shorter
    assert retrieval_scores(Z, y, k=KS) == whole
    Zr, yr = _data("ties", rng, n=7)
    ref, _ = _reference(Z, y, Zr, yr, ks=(1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        got = retrieval_scores(Z, y, Z_ref=Zr, y_ref=yr, k=(1, 2))
    for key, value in ref.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_memory_stays_blocked(monkeypatch):
    """No n x n array: peak traced memory far below the 3000 x 3000 float64 matrix (72 MB)."""
    rng = np.random.RandomState(0)
    Z = rng.standard_normal((3000, 4))
    y = rng.randint(0, 10, size=3000)
    monkeypatch.setattr(M, "_BLOCK_ELEMENTS", 1 << 18)  # 2 MB of distances per block
    map_at_r(Z[:50], y[:50])  # compile (or load) both variants outside the traced window
    with _options.parallel_variants_everywhere():
        map_at_r(Z[:50], y[:50])
    tracemalloc.start()
    try:
        map_at_r(Z, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3000 * 3000 * 8 / 8, peak


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
def test_parallel_variant_equals_serial(rng):
    Z, y = _data("ties", rng, n=300, d=4, n_classes=6)
    with numba_threads(1):
        a = retrieval_scores(Z, y, k=KS)
    with numba_threads(MAX_THREADS), _options.parallel_variants_everywhere():
        assert rank_statistics.pick(np.zeros((1, 1))) is rank_statistics.parallel
        b = retrieval_scores(Z, y, k=KS)
    assert a == b


def test_large_values_and_float32(rng):
    Z, y = _data("continuous", rng)
    base = retrieval_scores(Z, y)
    assert retrieval_scores(Z * 2.0**500, y) == base  # exact scalings: the same ranking
    assert retrieval_scores(Z * 2.0**-400, y) == base
    assert retrieval_scores(Z.astype(np.float32), y)["map_at_r"] == pytest.approx(base["map_at_r"], abs=0.02)
    huge = retrieval_scores(Z * 1e200, y)  # every distance overflows to inf: all ties, ranked by index
    Zi = np.zeros_like(Z)
    assert huge == retrieval_scores(Zi, y)


# --------------------------------------------------------------- skip and errors
def test_skipped_queries_warn_with_their_count():
    Z = np.array([[0.0], [1.0], [5.0], [6.0], [20.0]])
    y = np.array([0, 0, 1, 1, 7])
    with pytest.warns(UndefinedMetricWarning, match=re.escape("map_at_r: 1 of 5 queries skipped: no other "
                                                              "sample of their class in Z (classes: 7); the score "
                                                              "averages the other 4.")):
        assert map_at_r(Z, y) == 1.0
    with pytest.warns(UndefinedMetricWarning, match="2 of 2 queries skipped|1 of 2 queries skipped"):
        precision_at_1([[0.0], [5.0]], [0, 3], Z_ref=Z, y_ref=y)
    with pytest.raises(ValueError, match=re.escape("r_precision is undefined: every query has no other sample "
                                                   "of its class in Z")):
        r_precision(Z[:3], [0, 1, 2])


@pytest.mark.parametrize("call, message", [
    (lambda: map_at_r(np.zeros((3, 2)), [0, 1]), "map_at_r: y has 2 labels but Z has 3 rows"),
    (lambda: map_at_r(np.zeros((3, 2)), [0, 0, 1], Z_ref=np.zeros((2, 2))), "Z_ref was given without y_ref"),
    (lambda: map_at_r(np.zeros((3, 2)), [0, 0, 1], y_ref=[0]), "y_ref was given without Z_ref"),
    (lambda: map_at_r(np.zeros((3, 2)), [0, 0, 1], Z_ref=np.zeros((2, 3)), y_ref=[0, 1]),
     "Z_ref has 3 columns but Z has 2"),
    (lambda: map_at_r(np.zeros((1, 2)), [0]), "leave-one-out needs at least 2 samples in Z, got 1"),
    (lambda: recall_at_k(np.zeros((3, 2)), [0, 0, 1], 0), "k must be a positive integer, got 0"),
    (lambda: recall_at_k(np.zeros((3, 2)), [0, 0, 1], 2.0), "k must be a positive integer, got 2.0"),
    (lambda: recall_at_k(np.zeros((3, 2)), [0, 0, 1], 3),
     "recall_at_k: k=3 is larger than the number of references each query ranks (2); use k <= 2"),
    (lambda: map_at_r([[0.0], [np.nan]], [0, 0]), "Input Z contains NaN"),
    (lambda: map_at_r([[0.0], [1.0]], [0, 0], Z_ref=[[0.0]], y_ref=np.array(["a"], dtype=object)),
     "map_at_r: the labels of y and y_ref cannot be compared"),
])
def test_clear_errors(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_recall_is_monotone_and_starts_at_precision_at_1(rng):
    Z, y = _data("continuous", rng, n=80)
    values = [recall_at_k(Z, y, k) for k in [*range(1, 20), 79]]
    assert values[0] == precision_at_1(Z, y)
    assert all(a <= b for a, b in zip(values, values[1:]))
    assert values[-2] < 1.0 and values[-1] == 1.0  # every relevant reference is among all 79


def test_docstring_examples_run():
    assert doctest.testmod(M, raise_on_error=False).failed == 0


# ------------------------------------------------------------------- scorers
def test_grid_search_by_map_at_r_picks_nine_lda_components():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), LDA()), {"lda__n_components": [2, 9]},
                          scoring=retrieval_scorer("map_at_r"), cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(X, y)
    assert search.best_params_ == {"lda__n_components": 9}
    two, nine = search.cv_results_["mean_test_score"]
    assert 0.3 < two < nine < 1.0


def test_scorer_scores_the_transformed_test_fold(rng):
    X, y = _data("continuous", rng, n=90)
    pipe = make_pipeline(StandardScaler(), LDA(n_components=2)).fit(X, y)
    for name, kw, fn in [("map_at_r", {}, map_at_r), ("precision_at_1", {}, precision_at_1),
                         ("r_precision", {}, r_precision), ("mean_average_precision", {}, mean_average_precision),
                         ("recall_at_k", {"k": 4}, lambda Z, y: recall_at_k(Z, y, 4))]:
        scorer = retrieval_scorer(name, **kw)
        assert scorer(pipe, X[:40], y[:40]) == fn(pipe.transform(X[:40]), y[:40])
        assert pickle.loads(pickle.dumps(scorer))(pipe, X, y) == scorer(pipe, X, y)
    assert repr(retrieval_scorer("recall_at_k", k=4)) == "retrieval_scorer('recall_at_k', k=4)"
    res = cross_validate(LDA(), X, y, cv=3, scoring={"p1": retrieval_scorer("precision_at_1"),
                                                     "mapr": retrieval_scorer("map_at_r")})
    assert res["test_p1"].shape == (3,) and np.all(res["test_mapr"] <= res["test_p1"] + 1e-12)


def test_scorer_errors():
    with pytest.raises(ValueError, match=re.escape("name must be one of ['map_at_r', 'mean_average_precision', "
                                                   "'precision_at_1', 'r_precision', 'recall_at_k'], got 'map@r'")):
        retrieval_scorer("map@r")
    with pytest.raises(ValueError, match=re.escape("retrieval_scorer('recall_at_k') takes exactly one keyword "
                                                   "argument, k; got none")):
        retrieval_scorer("recall_at_k")
    with pytest.raises(ValueError, match=re.escape("retrieval_scorer('map_at_r') takes no keyword arguments, "
                                                   "got ['k']")):
        retrieval_scorer("map_at_r", k=3)
    with pytest.raises(ValueError, match="k must be a positive integer, got -1"):
        retrieval_scorer("recall_at_k", k=-1)
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(LDA(), KNeighborsClassifier()).fit(X[:200], y[:200])
    with pytest.raises(ValueError, match=re.escape("KNeighborsClassifier has no transform; use a metric learner, "
                                                   "or a Pipeline whose last step is a transformer")):
        retrieval_scorer("map_at_r")(pipe, X[:50], y[:50])


# ------------------------------------------------------------ verification / EER
def _eer_bruteforce(y, s):
    """EER on the ROC polyline: scan every threshold, interpolate where FNR - FPR changes sign."""
    thresholds = np.concatenate(([np.inf], np.unique(s)[::-1]))
    pos, neg = (y == 1).sum(), (y != 1).sum()
    fpr = np.array([((s >= t) & (y != 1)).sum() / neg for t in thresholds])
    fnr = np.array([1 - ((s >= t) & (y == 1)).sum() / pos for t in thresholds])
    for i in range(1, fpr.size):
        a, b = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
        if a > 0 >= b:
            return fpr[i - 1] + a / (a - b) * (fpr[i] - fpr[i - 1])
    raise AssertionError


def test_equal_error_rate(rng):
    assert equal_error_rate([1, 1, -1, -1], [0.9, 0.4, 0.6, 0.1]) == 0.5
    assert equal_error_rate([1, 1, 0, 0], [0.9, 0.8, 0.6, 0.1]) == 0.0
    assert equal_error_rate([1, 1, 0, 0], [0.1, 0.2, 0.6, 0.9]) == 1.0
    assert equal_error_rate([1, 0, 1, 0], [3.0, 3.0, 3.0, 3.0]) == 0.5
    # (FPR, FNR) from (0, 1): (0, 1/2), (1/3, 1/2), (1/3, 0): they meet at 1/3 on the vertical segment
    assert equal_error_rate([1, 0, 1, 0, 0], [5, 4, 3, 2, 1]) == pytest.approx(1 / 3, abs=1e-15)
    for _ in range(20):
        y = rng.choice([-1, 1], size=40)
        y[:2] = [-1, 1]
        s = np.round(rng.standard_normal(40) + 0.8 * y, 1)  # ties
        assert equal_error_rate(y, s) == pytest.approx(_eer_bruteforce(y, s), abs=1e-12)
    with pytest.raises(ValueError, match=re.escape("y_true must hold both similar (1) and dissimilar (0 or -1) "
                                                   "pairs, got values [1]")):
        equal_error_rate([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="y_true has 2 entries but y_score has 3"):
        equal_error_rate([1, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="y_score contains NaN or infinite values"):
        equal_error_rate([1, 0], [0.1, np.nan])


def test_verification_scorer_on_pair_and_sample_learners(make_iris_pairs):
    pairs, py = make_iris_pairs(40)
    itml = ITML(random_state=0).fit(pairs[:60], py[:60])
    auc = verification_scorer("roc_auc")
    assert auc(itml, pairs[60:], py[60:]) == pytest.approx(itml.score(pairs[60:], py[60:]), abs=1e-15)
    eer = verification_scorer("neg_equal_error_rate")
    assert eer(itml, pairs[60:], py[60:]) == -equal_error_rate(py[60:], itml.pair_score(pairs[60:]))
    search = GridSearchCV(ITML(random_state=0), {"gamma": [0.01, 1.0]}, scoring=eer, cv=3).fit(pairs, py)
    assert np.all(search.cv_results_["mean_test_score"] <= 0)
    X, y = load_iris(return_X_y=True)
    lda = LDA().fit(StandardScaler().fit_transform(X), y)  # a learner fitted on samples, scored on pairs
    assert auc(lda, pairs, py) > 0.9
    with pytest.raises(ValueError, match=re.escape("name must be one of ['roc_auc', 'neg_equal_error_rate'], "
                                                   "got 'eer'")):
        verification_scorer("eer")
    with pytest.raises(ValueError, match="needs an estimator with pair_score or decision_function"):
        auc(StandardScaler(), pairs, py)
