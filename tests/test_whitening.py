"""Correctness of the closed-form metrics: Covariance, LDA, RCA, LFDA."""

import re

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from scipy.spatial.distance import mahalanobis
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from shallowml import LDA, LFDA, RCA, Covariance
from shallowml.utils.init import class_scatters

WHITENING = [Covariance, LDA, LFDA, RCA]


@pytest.fixture
def wine():
    # features on very different scales (proline ~ 1e3, hue ~ 1): a test of scale handling
    return load_wine(return_X_y=True)


# ------------------------------------------------------------------- Covariance
def test_covariance_equals_scipy_mahalanobis(wine):
    X, _ = wine
    est = Covariance().fit(X)
    VI = np.linalg.inv(np.cov(X, rowvar=False, bias=True))
    pairs = np.stack([X[:40], X[40:80]], axis=1)
    ref = np.array([mahalanobis(u, v, VI) for u, v in pairs])
    np.testing.assert_allclose(est.pair_distance(pairs), ref, rtol=1e-8)
    np.testing.assert_allclose(est.get_mahalanobis_matrix(), VI, rtol=1e-6, atol=1e-12 * np.abs(VI).max())
    # the ZCA map is symmetric and whitens the data
    L = est.components_
    np.testing.assert_allclose(L, L.T, rtol=1e-8, atol=1e-12 * np.abs(L).max())
    np.testing.assert_allclose(np.cov(est.transform(X), rowvar=False, bias=True), np.eye(13), atol=1e-8)


def test_covariance_normalisation_is_documented_one_over_n(wine):
    # 1/n, not np.cov's default 1/(n-1): M = inv(np.cov(X, bias=True)) = n/(n-1) inv(np.cov(X))
    X, _ = wine
    n = X.shape[0]
    M = Covariance().fit(X).get_mahalanobis_matrix()
    np.testing.assert_allclose(M, n / (n - 1) * np.linalg.inv(np.cov(X, rowvar=False)), rtol=1e-6)
    assert "1 / n" in Covariance.__doc__


def test_covariance_rank_deficient_is_pseudo_inverse():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 5))  # rank 3 in 5-D
    M = Covariance().fit(X).get_mahalanobis_matrix()
    C = np.cov(X, rowvar=False, bias=True)
    np.testing.assert_allclose(M, np.linalg.pinv(C, rcond=1e-10), rtol=1e-6, atol=1e-8 * np.abs(M).max())


# -------------------------------------------------------------------------- LDA
@pytest.mark.parametrize("loader", [load_iris, load_wine], ids=["iris", "wine"])
def test_lda_matches_sklearn_subspace_and_whitens(loader):
    X, y = loader(return_X_y=True)
    est = LDA().fit(X, y)
    L = est.components_
    assert L.shape == (2, X.shape[1])
    ref = LinearDiscriminantAnalysis(solver="eigen").fit(X, y).scalings_[:, :2]
    assert np.degrees(subspace_angles(L.T, ref)).max() < 1e-4
    S_w, _ = class_scatters(X, y)
    np.testing.assert_allclose(L @ S_w @ L.T, np.eye(2), atol=1e-4)
    # same transform up to sign/rotation as sklearn's: kNN predictions agree
    sk = LinearDiscriminantAnalysis(solver="eigen").fit(X, y)
    Z, Zs = est.transform(X), sk.transform(X)
    np.testing.assert_allclose(np.abs(np.corrcoef(Z.T, Zs.T)[:2, 2:]).max(axis=1), 1.0, atol=1e-6)


def test_lda_n_components_and_classes_():
    X, y = load_iris(return_X_y=True)
    est = LDA(n_components=1).fit(X, np.array(["a", "b", "c"])[y])
    assert est.components_.shape == (1, 4)
    np.testing.assert_array_equal(est.classes_, ["a", "b", "c"])


# -------------------------------------------------------------------------- RCA
def test_rca_whitens_within_chunk_covariance(wine):
    X, y = wine
    L = RCA().fit(X, y).components_
    S_w, _ = class_scatters(X, y)  # pooled within-chunk covariance (every chunk has >= 2 samples)
    np.testing.assert_allclose(L @ S_w @ L.T, np.eye(13), atol=1e-4)


def test_rca_singleton_chunks_ignored_for_within_covariance():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3))
    y = np.arange(40) // 2  # 20 chunks of 2
    y2 = np.concatenate([y[:30], 100 + np.arange(10)])  # last 10 samples become singletons
    L = RCA().fit(X, y2).components_
    D = np.vstack([X[i : i + 2] - X[i : i + 2].mean(0) for i in range(0, 30, 2)])
    C = D.T @ D / D.shape[0]
    np.testing.assert_allclose(L @ C @ L.T, np.eye(3), atol=1e-4)


def test_rca_negative_labels_are_in_no_chunk():
    # chunks_from_labels marks samples in no chunk with -1: RCA must ignore them for the
    # within-chunk covariance (Bar-Hillel et al. 2005, eq. 1: C = 1/n sum_chunks sum (x - m)(x - m)^T
    # over the chunked points only), not pool them into one more chunk
    from shallowml.constraints import chunks_from_labels

    X, y = load_iris(return_X_y=True)
    chunks = chunks_from_labels(y, 30, 2, random_state=0)
    assert (chunks == -1).sum() == 90
    M = RCA(reg=0.0).fit(X, chunks).get_mahalanobis_matrix()
    D = np.vstack([X[chunks == c] - X[chunks == c].mean(0) for c in range(30)])
    C = D.T @ D / D.shape[0]
    np.testing.assert_allclose(M, np.linalg.inv(C), rtol=1e-6)
    # any negative label means the same, and string labels have no such convention
    chunks2 = np.where(chunks < 0, -7, chunks)
    np.testing.assert_allclose(RCA(reg=0.0).fit(X, chunks2).components_, RCA(reg=0.0).fit(X, chunks).components_)


def test_rca_supervised_is_rca_on_sampled_chunks():
    from shallowml import RCA_Supervised
    from shallowml.constraints import chunks_from_labels

    X, y = load_iris(return_X_y=True)
    est = RCA_Supervised(n_chunks=30, chunk_size=3, random_state=1).fit(X, y)
    chunks = chunks_from_labels(y, 30, 3, random_state=1)
    np.testing.assert_array_equal(est.chunks_, chunks)
    np.testing.assert_allclose(est.components_, RCA().fit(X, chunks).components_)
    # 'auto': 100 chunks where the classes can host them, else as many as they can
    assert (RCA_Supervised(random_state=0).fit(X, y).chunks_ >= 0).sum() == 150
    big = np.repeat(np.arange(3), 100)
    Xb = np.random.RandomState(0).standard_normal((300, 4))
    assert np.unique(RCA_Supervised(random_state=0).fit(Xb, big).chunks_[big >= 0]).size == 101  # 100 ids and -1
    with pytest.raises(ValueError, match=re.escape("Cannot form 80 disjoint chunks of 2 samples")):
        RCA_Supervised(n_chunks=80).fit(X, y)


def test_rca_needs_a_real_chunk():
    X = np.random.RandomState(0).standard_normal((6, 2))
    with pytest.raises(ValueError, match=re.escape("negative labels mark samples in no chunk")):
        RCA().fit(X, [-1, -1, -1, 0, 1, 2])


def test_rca_n_components_uses_principal_directions():
    X, y = load_iris(return_X_y=True)
    L = RCA(n_components=2).fit(X, y).components_
    assert L.shape == (2, 4) and np.all(np.isfinite(L))
    pc = np.linalg.svd(X - X.mean(0), full_matrices=False)[2][:2]
    assert np.degrees(subspace_angles(L.T, pc.T)).max() < 1e-6


# ------------------------------------------------------------------------- LFDA
@pytest.fixture
def bimodal():
    """Class 0 has two separated modes; LFDA should not merge them."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.standard_normal((30, 3)) + [0, 0, 0], rng.standard_normal((30, 3)) + [8, 0, 0],
                   rng.standard_normal((30, 3)) + [4, 3, 0]])
    y = np.repeat([0, 0, 1], 30)
    return X, y


def test_lfda_embedding_types(bimodal):
    X, y = bimodal
    plain = LFDA(embedding_type="plain").fit(X, y).components_
    weighted = LFDA(embedding_type="weighted").fit(X, y).components_
    ortho = LFDA(embedding_type="orthonormalized").fit(X, y).components_
    for L in (plain, weighted, ortho):
        assert L.shape == (3, 3) and np.all(np.isfinite(L))
    # orthonormalized: orthonormal rows in feature space, same span as plain
    np.testing.assert_allclose(ortho @ ortho.T, np.eye(3), atol=1e-10)
    assert np.degrees(subspace_angles(ortho[:2].T, plain[:2].T)).max() < 1e-6
    # weighted: plain rows scaled by sqrt(eigenvalue), eigenvalues descending
    ratio = np.linalg.norm(weighted, axis=1) / np.linalg.norm(plain, axis=1)
    assert np.all(np.diff(ratio) <= 1e-12)
    cos = np.abs(np.sum(weighted * plain, axis=1)) / (
        np.linalg.norm(weighted, axis=1) * np.linalg.norm(plain, axis=1)
    )
    np.testing.assert_allclose(cos[ratio > 1e-8], 1.0, atol=1e-10)


def test_lfda_keeps_modes_apart(bimodal):
    """Local Fisher: 1-NN after LFDA stays accurate on a multimodal class."""
    X, y = bimodal
    Z = LFDA(n_components=2).fit(X, y).transform(X)
    knn = KNeighborsClassifier(1).fit(Z[::2], y[::2])
    assert knn.score(Z[1::2], y[1::2]) > 0.9


def test_lfda_scale_invariant_metric_in_subspace(wine):
    X, y = wine
    A = LFDA(n_components=3).fit(X, y).transform(X)
    B = LFDA(n_components=3).fit(X * 1e3, y).transform(X * 1e3)
    np.testing.assert_allclose(np.abs(A), np.abs(B), rtol=1e-6, atol=1e-8 * np.abs(A).max())


# --------------------------------------------------------- n_components errors
@pytest.mark.parametrize(
    "est, msg",
    [
        (LDA(n_components=3), "n_components=3 is larger than min(n_features, n_classes - 1) (2); use at most 2, or None."),
        (RCA(n_components=5), "n_components=5 is larger than the number of features (4); use at most 4, or None."),
        (LFDA(n_components=5), "n_components=5 is larger than the number of features (4); use at most 4, or None."),
    ],
)
def test_n_components_too_large(est, msg):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=re.escape(msg)):
        est.fit(X, y)


@pytest.mark.parametrize("cls", [LDA, RCA, LFDA])
@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_n_components_invalid_type(cls, bad):
    X, y = load_iris(return_X_y=True)
    msg = f"The 'n_components' parameter of {cls.__name__} must be"
    with pytest.raises(ValueError, match=re.escape(msg)):
        cls(n_components=bad).fit(X, y)


def test_other_invalid_params():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=re.escape("The 'embedding_type' parameter of LFDA must be")):
        LFDA(embedding_type="bogus").fit(X, y)
    with pytest.raises(ValueError, match=re.escape("The 'k' parameter of LFDA must be")):
        LFDA(k=0).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("The 'reg' parameter of LDA must be")):
        LDA(reg=-1.0).fit(X, y)


def test_n_components_capped_by_rank_pads_zero_rows():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 2)) @ rng.standard_normal((2, 4))  # rank 2 in 4-D
    y = np.arange(30) % 3
    L = LFDA(n_components=4).fit(X, y).components_
    assert L.shape == (4, 4) and np.all(np.isfinite(L))
    np.testing.assert_array_equal(L[2:], 0.0)


# ------------------------------------------------------------- real data bands
# 3-NN test error on digits, stratified 70/30 split (random_state=0); Euclidean
# 3-NN gives 0.015. Covariance whitening amplifies the noise of near-constant
# border pixels, hence its wider band.
DIGITS_BANDS = {"Covariance": 0.06, "LDA": 0.05, "LFDA": 0.03, "RCA": 0.04}


@pytest.mark.slow
def test_digits_constant_pixels_finite_and_accurate():
    X, y = load_digits(return_X_y=True)
    assert (X.std(axis=0) == 0).sum() > 0  # constant pixels present
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    for cls in WHITENING:
        pipe = make_pipeline(cls(), KNeighborsClassifier(3)).fit(Xtr, ytr)
        L = pipe[0].components_
        assert np.isrealobj(L) and np.all(np.isfinite(L)), cls.__name__
        err = 1.0 - pipe.score(Xte, yte)
        assert err < DIGITS_BANDS[cls.__name__], f"{cls.__name__}: 3-NN error {err:.3f}"


def test_wine_knn_improves_over_euclidean(wine):
    X, y = wine
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    base = KNeighborsClassifier(3).fit(Xtr, ytr).score(Xte, yte)
    for cls in WHITENING:
        acc = make_pipeline(cls(), KNeighborsClassifier(3)).fit(Xtr, ytr).score(Xte, yte)
        assert acc > base + 0.1, f"{cls.__name__}: {acc:.3f} vs Euclidean {base:.3f}"
    # and supervised ones are at least as good as standardisation
    std = make_pipeline(StandardScaler(), KNeighborsClassifier(3)).fit(Xtr, ytr).score(Xte, yte)
    for cls in (LDA, LFDA):
        assert make_pipeline(cls(), KNeighborsClassifier(3)).fit(Xtr, ytr).score(Xte, yte) >= std - 0.02


def test_grid_search_pipeline():
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("m", Covariance()), ("knn", KNeighborsClassifier())])
    grid = GridSearchCV(pipe, {"knn__n_neighbors": [1, 5]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.85
    pipe = Pipeline([("m", LFDA()), ("knn", KNeighborsClassifier())])
    grid = GridSearchCV(pipe, {"m__n_components": [1, 2], "m__k": [3, 7]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.9
    assert grid.best_estimator_.named_steps["m"].components_.shape[0] == grid.best_params_["m__n_components"]
