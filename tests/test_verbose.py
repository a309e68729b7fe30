"""One verbose format for every iterative estimator (scikit-learn's NCA table)."""

import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from shallowml import ITML, LMNN, NCA, ITML_Supervised, LinearSiamese, LinearSiamese_Supervised
from shallowml.constraints import positive_negative_pairs

X, Y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)


def _pairs():
    ind = np.vstack(positive_negative_pairs(Y, 40, 40, random_state=0))
    return X[ind], np.r_[np.ones(40), -np.ones(40)]


CASES = {
    "LMNN": (lambda: LMNN(max_iter=4), ["Iteration", "Objective Value", "Active Triplets", "Step"]),
    "NCA": (lambda: NCA(max_iter=3), ["Iteration", "Objective Value"]),
    "NCA-minibatch": (lambda: NCA(max_iter=3, batch_size=50, random_state=0),
                      ["Epoch", "Training Loss"]),
    "ITML": (lambda: ITML(max_iter=3), ["Sweep", "Dual Change", "Projections", "Visited"]),
    "ITML_Supervised": (lambda: ITML_Supervised(max_iter=3, random_state=0),
                        ["Sweep", "Dual Change", "Projections", "Visited"]),
    "LinearSiamese": (lambda: LinearSiamese(max_iter=3, random_state=0), ["Epoch", "Training Loss"]),
    "LinearSiamese_Supervised-early": (
        lambda: LinearSiamese_Supervised(max_iter=3, early_stopping=True, random_state=0),
        ["Epoch", "Training Loss", "Validation Loss"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_iterative_estimator_prints_the_same_table(case, capsys):
    make, titles = CASES[case]
    est = make().set_params(verbose=1)
    data = _pairs() if isinstance(est, ITML | LinearSiamese) else (X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(*data)
    name = type(est).__name__
    out = capsys.readouterr().out.splitlines()
    # long phases outside the iterations (e.g. LMNN's impostor searches) have their own lines
    phases = [line for line in out if re.fullmatch(rf"\[{name}\] .*\.\.\. done in +\d+\.\d\ds", line)]
    if isinstance(est, LMNN):
        assert phases[:2] == [p for p in phases[:2] if "Finding" in p] and len(phases) >= 3
    lines = [line for line in out if line not in phases]
    start = lines.index(f"[{name}]")
    header, rule, *rows, last = lines[start + 1:]
    # the header: right-aligned titles, then the time column, all prefixed
    assert re.fullmatch(rf"\[{name}\] +" + " +".join(map(re.escape, titles + ["Time(s)"])), header)
    assert rule == f"[{name}] " + "-" * (len(header) - len(name) - 3)
    assert rows, "no iteration rows"
    for row in rows:  # one number per column, right-aligned under its title
        assert len(row) == len(header), row
        cells = row[len(name) + 3:].split()
        assert len(cells) == len(titles) + 1
        [float(c) for c in cells]
    assert re.fullmatch(rf"\[{name}\] Training took +\d+\.\d\ds\.", last)


def test_progress_phase_and_disabled_table(capsys):
    from shallowml._solvers.progress import ProgressTable

    table = ProgressTable("X", [("Iteration", 10, "d")], enabled=False)
    table.start()
    table.row(1)
    with table.phase("searching"):
        pass
    table.finish()
    assert capsys.readouterr().out == ""
    table = ProgressTable("X", [("Iteration", 10, "d"), ("Value", 8, ".2f")])
    table.start()
    table.row(3, None)
    with table.phase("searching"):
        pass
    out = capsys.readouterr().out.splitlines()
    assert out[3].split() == ["[X]", "3", "-", out[3].split()[-1]]
    assert re.fullmatch(r"\[X\] searching\.\.\. done in +\d+\.\d\ds", out[4])


# parameters that only some modes use default to None and warn when set but unused
UNUSED = [
    (lambda: NCA(learning_rate=0.1, max_iter=2, random_state=0), "learning_rate=0.1 has no effect without batch_size"),
    (lambda: NCA(learning_rate_schedule="constant", max_iter=2, random_state=0),
     "learning_rate_schedule='constant' has no effect without batch_size"),
    (lambda: LinearSiamese_Supervised(loss="contrastive", mining="all", max_iter=2, random_state=0),
     "mining='all' has no effect with loss='contrastive'"),
    (lambda: LinearSiamese_Supervised(loss="npair", mining="all", max_iter=2, random_state=0),
     "mining='all' has no effect with loss='npair'"),
    (lambda: LinearSiamese_Supervised(loss="npair", margin=0.5, max_iter=2, random_state=0),
     "margin=0.5 has no effect with loss='npair'"),
    (lambda: LinearSiamese_Supervised(loss="soft_triplet", margin=0.5, max_iter=2, random_state=0),
     "margin=0.5 has no effect with loss='soft_triplet'"),
    (lambda: LinearSiamese_Supervised(loss="proxy_nca", margin=0.5, max_iter=2, random_state=0),
     "margin=0.5 has no effect with loss='proxy_nca'"),
    (lambda: LinearSiamese_Supervised(loss="multi_similarity", mining="semi_hard", max_iter=2, random_state=0),
     "mining='semi_hard' has no effect with loss='multi_similarity'"),
    (lambda: LinearSiamese_Supervised(loss="proxy_nca", n_pairs=100, max_iter=2, random_state=0),
     "n_pairs=100 has no effect with loss='proxy_nca'"),
    (lambda: LinearSiamese_Supervised(loss="koch", samples_per_class=3, max_iter=2, random_state=0),
     "samples_per_class=3 has no effect with loss='koch'"),
    (lambda: LinearSiamese_Supervised(loss="koch", margin=2.0, max_iter=2, random_state=0),
     "margin=2.0 has no effect with loss='koch'"),
    (lambda: LinearSiamese_Supervised(loss="triplet", n_pairs=100, max_iter=2, random_state=0),
     "n_pairs=100 has no effect with loss='triplet'"),
    (lambda: LinearSiamese(loss="koch", margin=0.5, max_iter=2, random_state=0), "margin=0.5 has no effect with loss='koch'"),
]


@pytest.mark.parametrize("make, message", UNUSED, ids=[m for _, m in UNUSED])
def test_a_parameter_the_mode_ignores_warns(make, message):
    est = make()
    data = _pairs() if isinstance(est, LinearSiamese) else (X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match=re.escape(message)):
            est.fit(*data)


USED = [
    lambda: NCA(learning_rate=0.1, batch_size=50, max_iter=2, random_state=0),
    lambda: NCA(learning_rate_schedule="constant", batch_size=50, max_iter=2, random_state=0),
    lambda: LinearSiamese_Supervised(loss="triplet", mining="all", margin=0.5, max_iter=2, random_state=0),
    lambda: LinearSiamese_Supervised(loss="contrastive", margin=2.0, n_pairs=100, max_iter=2, random_state=0),
    lambda: LinearSiamese_Supervised(loss="koch", n_pairs=100, max_iter=2, random_state=0),
    lambda: LinearSiamese_Supervised(loss="soft_triplet", mining="semi_hard", samples_per_class=2, max_iter=2,
                                     random_state=0),
    lambda: LinearSiamese_Supervised(loss="multi_similarity", margin=0.5, samples_per_class=8, max_iter=2,
                                     random_state=0),
    lambda: LinearSiamese_Supervised(loss="npair", samples_per_class=2, max_iter=2, random_state=0),
    lambda: LinearSiamese_Supervised(loss="proxy_nca", samples_per_class=2, max_iter=2, random_state=0),
    lambda: LinearSiamese(loss="contrastive", margin=0.5, max_iter=2, random_state=0),
]


@pytest.mark.parametrize("make", USED)
def test_used_parameters_do_not_warn_and_change_the_result(make):
    est = make()
    data = _pairs() if isinstance(est, LinearSiamese) else (X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # the later filter wins
        est.fit(*data)
    # each parameter set here changes the fit (it is not ignored either)
    defaults = type(est)().get_params()
    params = {k: v for k, v in est.get_params().items()
              if k in ("learning_rate", "learning_rate_schedule", "mining", "margin", "n_pairs",
                       "samples_per_class") and defaults[k] is None
              and v is not None}
    assert params
    for name in params:  # each one alone changes the fit
        default = clone(est).set_params(**{name: None})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            default.fit(*data)
        assert not np.allclose(est.components_, default.components_), name
