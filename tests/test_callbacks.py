"""One callback contract for every iterative estimator (issue 14).

``callback(components, n_iter)``: the current ``L`` in the units of
``components_`` (shape ``(n_components, n_features)``), ``n_iter`` from 1;
returning True stops the fit early, keeps the result so far and raises no
``ConvergenceWarning``.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from shallowml import ITML, LMNN, NCA, ITML_Supervised, LinearSiamese, LinearSiamese_Supervised
from shallowml.constraints import positive_negative_pairs

X, Y = load_iris(return_X_y=True)
X = X * np.array([1.0, 10.0, 0.1, 1.0])  # unequal scales: components_ units matter


def _pairs():
    ind = np.vstack(positive_negative_pairs(Y, 40, 40, random_state=0))
    return X[ind], np.r_[np.ones(40), -np.ones(40)]


MAKERS = {
    "LMNN": lambda **kw: LMNN(n_components=3, **kw),
    "NCA": lambda **kw: NCA(n_components=3, **kw),
    "NCA-minibatch": lambda **kw: NCA(n_components=3, batch_size=50, random_state=0, **kw),
    "ITML": lambda **kw: ITML(tol=1e-12, **kw),
    "ITML_Supervised": lambda **kw: ITML_Supervised(tol=1e-12, random_state=0, **kw),
    "LinearSiamese": lambda **kw: LinearSiamese(n_components=3, random_state=0, **kw),
    "LinearSiamese_Supervised-koch": lambda **kw: LinearSiamese_Supervised(
        n_components=3, loss="koch", random_state=0, **kw),
    "LinearSiamese_Supervised-triplet": lambda **kw: LinearSiamese_Supervised(
        n_components=3, loss="triplet", random_state=0, **kw),
}


def _data(est):
    return _pairs() if isinstance(est, ITML | LinearSiamese) else (X, Y)


@pytest.mark.parametrize("case", list(MAKERS))
def test_callback_sees_components_and_can_stop_the_fit(case):
    seen = []

    def callback(components, n_iter):
        seen.append((n_iter, components))
        return n_iter == 2

    est = MAKERS[case](callback=callback, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a requested stop is not a failure
        est.fit(*_data(est))
    assert [n for n, _ in seen] == [1, 2]
    assert est.n_iter_ == 2
    first, second = seen[0][1], seen[1][1]
    assert isinstance(second, np.ndarray) and second.shape == est.components_.shape
    # the result so far is kept, in the units of components_ (same metric)
    np.testing.assert_allclose(second.T @ second, est.get_mahalanobis_matrix(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(first, second)  # a copy per call, not a view of the live parameters


@pytest.mark.parametrize("case", ["LMNN", "NCA", "ITML_Supervised", "LinearSiamese_Supervised-koch"])
def test_a_callback_returning_none_does_not_stop(case):
    calls = []
    est = MAKERS[case](callback=lambda L, n: calls.append(n), max_iter=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(*_data(est))
    assert calls == list(range(1, est.n_iter_ + 1)) and est.n_iter_ >= 1
    if est.n_iter_ == 3:  # ran to the cap: reported
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
