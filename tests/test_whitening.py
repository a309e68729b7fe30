"""Correctness of the closed-form metrics: Covariance, LDA, RCA, LFDA."""

import re

import numpy as np
import pytest
from scipy.linalg import eigh, subspace_angles
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


def _naive_lfda(X, y, k, reg):
    """LFDA written out densely from Sugiyama (2007), for comparison with the library.

    M. Sugiyama, "Dimensionality reduction of multimodal labeled data by local Fisher
    discriminant analysis", JMLR 8:1027-1061, 2007: affinity with local scaling
    (Zelnik-Manor & Perona, 2005) A_ij = exp(-||x_i - x_j||^2 / (sigma_i sigma_j)),
    weights (eqs. 11-12)
        W^(lw)_ij = A_ij / n_c                 if y_i = y_j = c, else 0
        W^(lb)_ij = A_ij (1 / n - 1 / n_c)     if y_i = y_j = c, else 1 / n
    and S = 1/2 sum_ij W_ij (x_i - x_j)(x_i - x_j)^T, by explicit double loops on the raw
    features (no Laplacian, no principal subspace, no rescaling).

    Choices of shallowml, mirrored here:
    - sigma_i is the distance to the k-th nearest neighbour *within x_i's class*, x_i itself
      excluded, with k reduced to n_c - 1 in classes of n_c <= k samples
      (``same_class_neighbors``); only same-class A_ij enter the weights. (The library also
      floors sigma at 1e-12 for duplicates; the data below has none.)
    - the generalised eigenproblem is S_lb v = lambda (S_lw + reg (S_lw + S_lb)) v
      (``fisher_directions``: a fraction of the local mixture scatter, not a ridge reg * I;
      it adds eps * mean eigenvalue * I on top, 1e-16 relative, ignored here), with
      scipy's normalisation v^T (S_lw + reg (S_lw + S_lb)) v = 1.

    Returns eigenvalues (descending) and eigenvectors (columns) in feature space.
    """
    n, d = X.shape
    _, yc = np.unique(y, return_inverse=True)
    n_c = np.bincount(yc)
    sigma = np.empty(n)
    for i in range(n):
        others = [np.linalg.norm(X[i] - X[j]) for j in range(n) if yc[j] == yc[i] and j != i]
        sigma[i] = sorted(others)[min(k, n_c[yc[i]] - 1) - 1]
    S_lw = np.zeros((d, d))
    S_lb = np.zeros((d, d))
    for i in range(n):
        for j in range(n):
            diff = X[i] - X[j]
            outer = np.outer(diff, diff)
            if yc[i] == yc[j]:
                A_ij = np.exp(-(diff @ diff) / (sigma[i] * sigma[j]))
                S_lw += 0.5 * A_ij / n_c[yc[i]] * outer
                S_lb += 0.5 * A_ij * (1.0 / n - 1.0 / n_c[yc[i]]) * outer
            else:
                S_lb += 0.5 / n * outer
    w, V = eigh(S_lb, S_lw + reg * (S_lw + S_lb))
    order = np.argsort(w)[::-1]
    return w[order], V[:, order]


@pytest.fixture(scope="module")
def three_class_multimodal():
    """46 samples, 5 features on different scales, 3 classes: class 0 bimodal, class 2 has
    6 samples (fewer than the default k = 7 neighbours, so k is capped at n_c - 1 = 5)."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.standard_normal((12, 5)) + [0, 0, 0, 0, 0],
                   rng.standard_normal((12, 5)) + [6, 1, 0, 0, 0],
                   rng.standard_normal((16, 5)) + [3, 2, 1, 0, 0],
                   rng.standard_normal((6, 5)) + [1, -2, 0, 1, 0]]) * [1, 2, 0.5, 1, 3]
    y = np.repeat([0, 0, 1, 2], [12, 12, 16, 6])
    return X, y


@pytest.mark.parametrize("embedding_type", ["weighted", "plain", "orthonormalized"])
@pytest.mark.parametrize("k, reg, n_components", [(7, 1e-6, None), (3, 0.0, 2), (1, 0.5, 3)])
def test_lfda_matches_naive_sugiyama(three_class_multimodal, embedding_type, k, reg, n_components):
    X, y = three_class_multimodal
    w, V = _naive_lfda(X, y, k, reg)
    r = n_components or X.shape[1]
    # well posed: the compared eigenvalues are positive and distinct, so each eigenvector is
    # defined up to sign and the rows below up to sign only
    assert w[r - 1] > 0.1 and np.all(-np.diff(w[: r + 1]) > 1e-2 * w[0])
    if embedding_type == "plain":  # raw generalised eigenvectors
        ref = V[:, :r].T
    elif embedding_type == "weighted":  # eigenvectors times sqrt(eigenvalue)
        ref = (V[:, :r] * np.sqrt(w[:r])).T
    else:  # Gram-Schmidt of the eigenvectors, in order: orthonormal rows spanning the top r
        ref = np.linalg.qr(V[:, :r])[0].T
    L = LFDA(n_components, k=k, embedding_type=embedding_type, reg=reg).fit(X, y).components_
    assert L.shape == (r, X.shape[1])
    # sign-free comparison row by row (l_i l_i^T), which also fixes the order and the scale
    # of each row; M = L^T L is their sum
    outer = lambda R: np.einsum("ri,rj->rij", R, R)
    scale = np.abs(outer(ref)).max()
    np.testing.assert_allclose(outer(L), outer(ref), rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(L.T @ L, ref.T @ ref, rtol=0, atol=1e-9 * scale)


def _group_separation(Z, groups):
    """Distance between the means of each pair of groups, in units of the pooled RMS radius
    of the groups (the root mean squared distance of a sample to its group mean). Invariant
    to the scale of Z, defined in any dimension."""
    labels = np.unique(groups)
    means = np.array([Z[groups == g].mean(axis=0) for g in labels])
    radius = np.sqrt(np.mean([np.sum((Z[groups == g] - m) ** 2, axis=1).mean() for g, m in zip(labels, means)]))
    return {(a, b): np.linalg.norm(means[a] - means[b]) / radius
            for a in range(labels.size) for b in range(a + 1, labels.size)}


def test_lfda_1d_keeps_modes_apart_where_lda_merges_them():
    """Feature 0 is the only direction that separates everything: class 0 has modes at -6
    and +6, class 1 sits at 0 (sd 1 each). Class means differ only along feature 1 (by 1.5
    sd), so LDA picks feature 1 and collapses the two modes of class 0; features 2-4 are
    noise (sd 4). LFDA's local within-class scatter gives cross-mode pairs a near-zero
    affinity, so its 1-D embedding is close to feature 0."""
    rng = np.random.RandomState(0)
    n = 40
    X = np.vstack([np.c_[rng.normal(-6, 1, n), rng.normal(0, 1, n)],
                   np.c_[rng.normal(6, 1, n), rng.normal(0, 1, n)],
                   np.c_[rng.normal(0, 1, 2 * n), rng.normal(1.5, 1, 2 * n)]])
    X = np.c_[X, rng.normal(0, 4, (4 * n, 3))]
    y = np.repeat([0, 0, 1, 1], n)
    group = np.repeat([0, 1, 2, 2], n)  # mode a of class 0, mode b of class 0, class 1
    train = np.arange(4 * n) % 2 == 0
    test = ~train
    min_sep = 4.0  # group means >= 4 pooled RMS radii apart, on held-out samples

    Z = LFDA(n_components=1).fit(X[train], y[train]).transform(X[test])
    sep = _group_separation(Z, group[test])
    assert min(sep.values()) >= min_sep, sep  # measured 4.9 (class 1 vs mode a), 10.1 between the modes

    # the threshold discriminates (measured on this data):
    # LDA's 1-D map merges the modes (0.16 radii apart)
    Z_lda = LDA(n_components=1).fit(X[train], y[train]).transform(X[test])
    assert _group_separation(Z_lda, group[test])[0, 1] < 1.0
    # Euclidean (the identity, 5-D): min 0.90; random 1-D projections: median 0.73, max 2.8
    # over the 20 draws below (0.4 % of 1000 other draws reach 4: those nearly along feature 0)
    assert min(_group_separation(X[test], group[test]).values()) < min_sep
    proj = np.random.RandomState(1).standard_normal((20, 5, 1))
    assert np.median([min(_group_separation(X[test] @ P, group[test]).values()) for P in proj]) < 1.0


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
# 3-NN test error on scikit-learn's digits (raw pixels 0..16), stratified 70/30 split
# (random_state=0, 540 test images), measured against the Euclidean 3-NN error on the same
# split, computed in the test: 8/540 = 0.0148 (standardising the pixels first makes
# Euclidean worse, 11/540, so raw pixels are the baseline to beat). No published figure
# for these learners on this split is used: the bands come from the measurements below.
# Measured errors (this split): LFDA 8/540, RCA 14, LDA 19, Covariance 27. Over five other
# splits (random_state 1-5) LFDA was -2..+4 test images from Euclidean (7-13 vs 7-11), and
# RCA, LDA and Covariance were always worse, by 1.7-1.9x, 1.7-2.7x and 3.2-4.3x.
# - LFDA (64-D weighted embedding) is expected to be about as good as Euclidean, not better:
#   its band is the Euclidean error plus 3 test images (about one binomial standard error,
#   sqrt(8) ~ 3).
# - Covariance, LDA and RCA are WORSE than Euclidean on digits, and this is expected, not a
#   bug: Covariance (unsupervised) whitening gives the low-variance directions (noise around
#   the strokes) as much weight as the stroke shapes; LDA keeps only n_classes - 1 = 9 of
#   the 64 directions (scikit-learn's LinearDiscriminantAnalysis + 3-NN makes the same 19
#   errors, so this is LDA, not this implementation); RCA whitens the pooled
#   within-class covariance, which can also boost directions with little within-class but
#   also little between-class spread. Their bands are ceilings relative to Euclidean (measured
#   ratio plus at least 2 test images), regression guards, not claims of improvement; the
#   strict xfail below states that they do not reach Euclidean.
DIGITS_MARGIN = 3  # test images, LFDA
DIGITS_RATIO = {"Covariance": 4.0, "LDA": 3.0, "RCA": 2.0}  # measured 3.4x, 2.4x, 1.75x
NOT_BETTER_THAN_EUCLIDEAN = ("Covariance", "LDA", "RCA")


@pytest.fixture(scope="module")
def digits_3nn_errors():
    """Number of misclassified test images: Euclidean 3-NN and 3-NN after each metric."""
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    errors = {"Euclidean": int(np.sum(KNeighborsClassifier(3).fit(Xtr, ytr).predict(Xte) != yte))}
    components = {}
    for cls in WHITENING:
        pipe = make_pipeline(cls(), KNeighborsClassifier(3)).fit(Xtr, ytr)
        errors[cls.__name__] = int(np.sum(pipe.predict(Xte) != yte))
        components[cls.__name__] = pipe[0].components_
    return errors, components, yte.size


@pytest.mark.slow
def test_digits_constant_pixels_finite_and_within_band_of_euclidean(digits_3nn_errors):
    errors, components, n_test = digits_3nn_errors
    assert (load_digits().data.std(axis=0) == 0).sum() > 0  # constant pixels present
    base = errors["Euclidean"]
    assert 0 < base <= 0.03 * n_test, f"Euclidean 3-NN makes {base} errors"  # the split is as documented
    for name, L in components.items():
        assert np.isrealobj(L) and np.all(np.isfinite(L)), name
    assert errors["LFDA"] <= base + DIGITS_MARGIN, errors
    for name, ratio in DIGITS_RATIO.items():
        assert errors[name] <= ratio * base, f"{name}: {errors[name]} errors vs Euclidean {base}: {errors}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.xfail(
        strict=True, reason="known: worse than Euclidean 3-NN on raw digits (see DIGITS_RATIO)"))
     if name in NOT_BETTER_THAN_EUCLIDEAN else name for name in ("Covariance", "LDA", "LFDA", "RCA")],
)
def test_digits_at_least_as_good_as_euclidean(digits_3nn_errors, name):
    errors, _, _ = digits_3nn_errors
    assert errors[name] <= errors["Euclidean"] + DIGITS_MARGIN, errors


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
