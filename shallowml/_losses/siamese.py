"""Losses of the linear Siamese network: two towers ``x -> L x`` sharing ``L``.

Every loss is a pure function of the flattened parameters returning
``(loss, grad)``, averaged over the pairs or triplets of a batch:

- :func:`contrastive_loss_grad`: contrastive loss (Hadsell, Chopra & LeCun,
  "Dimensionality reduction by learning an invariant mapping", CVPR 2006).
- :func:`koch_loss_grad`: weighted L1 distance of the embeddings, sigmoid and
  binary cross-entropy (Koch, Zemel & Salakhutdinov, "Siamese neural networks
  for one-shot image recognition", ICML deep learning workshop 2015).
- :func:`triplet_loss_grad`: triplet loss with a margin on squared distances
  (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015) with batch-hard,
  semi-hard or all-triplets mining inside the batch (Hermans, Beyer & Leibe,
  "In defense of the triplet loss for person re-identification", 2017);
  ``margin=None`` gives their soft-margin variant ``softplus(d_ap^2 - d_an^2)``.
- :func:`npair_loss_grad`: multi-class N-pair loss (Sohn, "Improved deep
  metric learning with multi-class N-pair loss objective", NeurIPS 2016) on
  negative squared distances.
- :func:`multi_similarity_loss_grad`: multi-similarity loss with its pair
  mining (Wang, Han, Huang, Dong & Scott, "Multi-similarity loss with general
  pair weighting for deep metric learning", CVPR 2019), similarity = negative
  squared distance.
- :func:`proxy_nca_loss_grad`: Proxy-NCA (Movshovitz-Attias, Toshev, Leung,
  Ioffe & Singh, "No fuss distance metric learning using proxies", ICCV 2017),
  one learned proxy per class.

The batch losses are functions of the batch's squared distances: a numba
kernel (:mod:`shallowml._kernels.siamese`) returns the loss and its
derivatives ``C`` with respect to them, and the gradient with respect to
``L`` is ``2 L X^T (Deg - C - C^T) X`` (one pass, no per-triplet products).
"""

import numpy as np
from scipy.special import expit

MINING_OPTIONS = ("batch_hard", "semi_hard", "all")


def _split_L(params, n_components, n_features):
    return params[: n_components * n_features].reshape(n_components, n_features)


def contrastive_loss_grad(L_flat, X1, X2, y, *, n_components, margin=1.0):
    """Contrastive loss of pairs and its gradient with respect to ``L``.

    With ``d = ||L x1 - L x2||``, a similar pair (``y = +1``) costs ``d^2 / 2``
    and a dissimilar pair (``y = -1``) costs ``max(0, margin - d)^2 / 2``
    (Hadsell et al., 2006). The loss is the mean over the pairs. For a
    dissimilar pair with ``d = 0`` the gradient is taken as 0.

    Parameters
    ----------
    L_flat : ndarray of shape (n_components * n_features,)
    X1, X2 : ndarray of shape (n_pairs, n_features)
        First and second points of each pair.
    y : ndarray of shape (n_pairs,)
        +1 (similar) or -1 (dissimilar).
    n_components : int
    margin : float, default=1.0

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_components * n_features,)
    """
    D = X1 - X2
    n = max(D.shape[0], 1)
    L = _split_L(L_flat, n_components, D.shape[1])
    Z = D @ L.T
    sq = np.einsum("ij,ij->i", Z, Z)
    pos = y > 0
    dist = np.sqrt(sq)
    hinge = np.where(pos, 0.0, np.maximum(margin - dist, 0.0))
    loss = 0.5 * (np.sum(sq[pos]) + np.sum(hinge**2)) / n
    safe = np.where(dist > 0, dist, 1.0)
    coef = np.where(pos, 1.0, np.where(dist > 0, -hinge / safe, 0.0))
    grad = (Z * coef[:, None]).T @ D / n
    return float(loss), grad.ravel()


def koch_loss_grad(params, X1, X2, y, *, n_components):
    """Koch et al. (2015) loss: sigmoid of a weighted L1 distance, cross-entropy.

    ``params`` holds ``L`` (flattened), the head weights ``alpha`` (one per
    component) and the bias ``b``. The probability that a pair is similar is
    ``p = sigmoid(alpha . |L x1 - L x2| + b)``; the loss is the mean binary
    cross-entropy against ``t = (y + 1) / 2``, computed stably as
    ``softplus(-y s)`` (no cancellation for confidently classified pairs).

    Parameters
    ----------
    params : ndarray of shape (n_components * n_features + n_components + 1,)
    X1, X2 : ndarray of shape (n_pairs, n_features)
    y : ndarray of shape (n_pairs,)
        +1 (similar) or -1 (dissimilar).
    n_components : int

    Returns
    -------
    loss : float
    grad : ndarray, same shape as ``params``
    """
    D = X1 - X2
    n = max(D.shape[0], 1)
    k, d = n_components, D.shape[1]
    L = _split_L(params, k, d)
    alpha = params[k * d : k * d + k]
    b = params[k * d + k]
    Z = D @ L.T
    U = np.abs(Z)
    s = U @ alpha + b
    sign = np.where(y > 0, 1.0, -1.0)
    # softplus(s) - t s == softplus(-sign s): no cancellation when the pair is well classified
    loss = np.sum(np.logaddexp(0.0, -sign * s)) / n
    g = -sign * expit(-sign * s) / n
    grad_L = (np.sign(Z) * (g[:, None] * alpha[None, :])).T @ D
    return float(loss), np.concatenate((grad_L.ravel(), U.T @ g, [np.sum(g)]))


def koch_similarity(params, X1, X2, *, n_components):
    """Probability ``sigmoid(alpha . |L x1 - L x2| + b)`` that each pair is similar."""
    D = X1 - X2
    k, d = n_components, D.shape[1]
    L = _split_L(params, k, d)
    return expit(np.abs(D @ L.T) @ params[k * d : k * d + k] + params[k * d + k])


def _sq_distances(Z):
    """Exact pairwise squared distances of a batch (difference form, no cancellation)."""
    from .._kernels.siamese import batch_sq_distances

    return batch_sq_distances(np.ascontiguousarray(Z, dtype=np.float64))


def mine_triplets(Z, labels, *, mining="batch_hard"):
    """Select triplets ``(anchor, positive, negative)`` inside a batch.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_components)
        Embedded batch.
    labels : ndarray of shape (n_samples,)
        Class codes.
    mining : {'batch_hard', 'semi_hard'}
        'batch_hard' (Hermans et al., 2017): for each anchor, its farthest
        positive and its closest negative. 'semi_hard' (Schroff et al., 2015):
        for every positive pair ``(a, p)``, the closest negative farther from
        ``a`` than ``p``; when there is none, the farthest negative closer
        than ``p``. Ties go to the lowest index.

    Returns
    -------
    triplets : ndarray of int64, shape (n_triplets, 3)
        Empty when the batch has no anchor with both a positive and a negative.
    """
    labels = np.asarray(labels)
    sq = _sq_distances(Z)
    codes = np.unique(labels, return_inverse=True)[1].astype(np.int64).ravel()
    if mining == "semi_hard":
        from .._kernels.siamese import semi_hard_negatives

        return semi_hard_negatives(sq, codes)
    if mining == "batch_hard":
        same = codes[:, None] == codes[None, :]
        diff = ~same
        np.fill_diagonal(same, False)
        has = same.any(axis=1) & diff.any(axis=1)
        pos = np.argmax(np.where(same, sq, -np.inf), axis=1)
        neg = np.argmin(np.where(diff, sq, np.inf), axis=1)
        a = np.flatnonzero(has)
        return np.stack((a, pos[a], neg[a]), axis=1).astype(np.int64)
    raise ValueError(f"mining must be 'batch_hard' or 'semi_hard' to select triplets, got {mining!r}.")


def _laplacian_grad(L, X, C, scale):
    """``scale * sum_ij C_ij (z_i - z_j)(x_i - x_j)^T`` with ``z = L x``, as ``L X^T (Deg - S) X``."""
    S = C + C.T
    G = np.diag(S.sum(axis=1)) - S
    return scale * (L @ (X.T @ (G @ X)))


def triplet_loss_grad(L_flat, X, labels, *, n_components, margin=1.0, mining="batch_hard",
                      triplets=None):
    """Triplet loss on a batch and its gradient with respect to ``L``.

    Each triplet ``(a, p, n)`` costs ``max(0, margin + ||L(x_a - x_p)||^2 -
    ||L(x_a - x_n)||^2)`` (Schroff et al., 2015), or with ``margin=None``
    the soft margin ``softplus(||L(x_a - x_p)||^2 - ||L(x_a - x_n)||^2)``
    (Hermans et al., 2017); the loss is the mean over
    the triplets. With ``triplets=None`` the triplets are mined in the batch
    at the current ``L`` (see :func:`mine_triplets`); ``mining='all'`` uses
    every valid triplet of the batch. The returned gradient treats the
    selection as fixed (it is the exact gradient wherever the selection does
    not change).

    Parameters
    ----------
    L_flat : ndarray of shape (n_components * n_features,)
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    n_components : int
    margin : float or None, default=1.0
        None: soft margin.
    mining : {'batch_hard', 'semi_hard', 'all'}, default='batch_hard'
    triplets : ndarray of int, shape (n_triplets, 3), default=None
        Fixed selection; overrides ``mining``.

    Returns
    -------
    loss : float
        0 when the batch holds no valid triplet.
    grad : ndarray of shape (n_components * n_features,)
    """
    n, d = X.shape
    L = _split_L(L_flat, n_components, d)
    Z = X @ L.T
    labels = np.asarray(labels)
    if triplets is None and mining == "all":
        from .._kernels.siamese import all_triplets_coefficients

        codes = np.unique(labels, return_inverse=True)[1].astype(np.int64).ravel()
        if margin is None:
            from .._kernels.siamese import all_triplets_soft_coefficients

            C, total, count = all_triplets_soft_coefficients(_sq_distances(Z), codes)
        else:
            C, total, count = all_triplets_coefficients(_sq_distances(Z), codes, float(margin))
        if count == 0:
            return 0.0, np.zeros_like(L_flat)
        return float(total / count), _laplacian_grad(L, X, C, 2.0 / count).ravel()
    if triplets is None:
        triplets = mine_triplets(Z, labels, mining=mining)
    triplets = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)
    m = triplets.shape[0]
    if m == 0:
        return 0.0, np.zeros_like(L_flat)
    a, p, q = triplets.T
    d_ap = np.sum((Z[a] - Z[p]) ** 2, axis=1)
    d_an = np.sum((Z[a] - Z[q]) ** 2, axis=1)
    if margin is None:
        v = d_ap - d_an
        total = float(np.sum(np.logaddexp(0.0, v)))
        active = expit(v)
    else:
        h = margin + d_ap - d_an
        active = (h > 0).astype(np.float64)
        total = float(np.sum(h * active))
    C = (np.bincount(a * n + p, weights=active, minlength=n * n)
         - np.bincount(a * n + q, weights=active, minlength=n * n)).reshape(n, n)
    return total / m, _laplacian_grad(L, X, C, 2.0 / m).ravel()


def _codes(labels):
    return np.unique(np.asarray(labels), return_inverse=True)[1].astype(np.int64).ravel()


def _from_coefficients(L_flat, X, n_components, C, total, count):
    """``(total / count, gradient)`` from the derivatives ``C`` of the summed loss w.r.t. ``sq``."""
    if count == 0:
        return 0.0, np.zeros_like(L_flat)
    L = _split_L(L_flat, n_components, X.shape[1])
    return float(total / count), _laplacian_grad(L, X, C, 2.0 / count).ravel()


def npair_loss_grad(L_flat, X, labels, *, n_components):
    """Multi-class N-pair loss of a batch (Sohn, 2016) and its gradient.

    Sohn's loss is a softmax cross-entropy that picks an anchor's positive
    among the negatives of the batch, ``log(1 + sum_n exp(s_an - s_ap))``.
    Here the similarity is the negative squared learned distance, ``s =
    -||L x - L x'||^2`` (a metric, unlike the inner product of the paper,
    which also needs its embedding-norm penalty), and every positive pair
    ``(a, p)`` of the batch is a term, against every negative of ``a``:
    ``log(1 + sum_n exp(d_ap^2 - d_an^2))``. The loss is the mean of the
    terms; there is no margin.

    Parameters
    ----------
    L_flat : ndarray of shape (n_components * n_features,)
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    n_components : int

    Returns
    -------
    loss : float
        0 when the batch holds no anchor with a positive and a negative.
    grad : ndarray of shape (n_components * n_features,)
    """
    from .._kernels.siamese import npair_coefficients

    L = _split_L(L_flat, n_components, X.shape[1])
    C, total, count = npair_coefficients(_sq_distances(X @ L.T), _codes(labels))
    return _from_coefficients(L_flat, X, n_components, C, total, count)


def multi_similarity_loss_grad(L_flat, X, labels, *, n_components, margin=1.0, alpha=2.0, beta=50.0,
                               epsilon=0.1):
    """Multi-similarity loss of a batch (Wang et al., 2019) and its gradient.

    With the similarity ``s = -d^2`` (negative squared learned distance) and
    the threshold ``lambda = margin`` on ``d^2``, each anchor ``a`` costs
    ``log(1 + sum_p exp(alpha (d_ap^2 - margin))) / alpha + log(1 + sum_n
    exp(beta (margin - d_an^2))) / beta`` over the pairs its mining keeps: a
    negative when ``d_an^2 < max_p d_ap^2 + epsilon``, a positive when
    ``d_ap^2 > min_n d_an^2 - epsilon``. The loss is the mean over the
    anchors having both a positive and a negative. ``alpha``, ``beta`` and
    ``epsilon`` are the paper's values (there on cosine similarities; here
    the rescaled data have mean squared distance 1, the same order).
    The returned gradient treats the mined pairs as fixed.

    Parameters
    ----------
    L_flat : ndarray of shape (n_components * n_features,)
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    n_components : int
    margin, alpha, beta, epsilon : float

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_components * n_features,)
    """
    from .._kernels.siamese import multi_similarity_coefficients

    L = _split_L(L_flat, n_components, X.shape[1])
    C, total, count = multi_similarity_coefficients(
        _sq_distances(X @ L.T), _codes(labels), float(alpha), float(beta), float(margin), float(epsilon)
    )
    return _from_coefficients(L_flat, X, n_components, C, total, count)


def proxy_nca_loss_grad(params, X, codes, *, n_components, n_classes):
    """Proxy-NCA loss (Movshovitz-Attias et al., 2017) and its gradient.

    ``params`` holds ``L`` (flattened) and one proxy per class in the
    embedding space, ``P`` of shape ``(n_classes, n_components)``. Each
    sample costs ``-log softmax_y(-||L x - p_c||^2)``: the cross-entropy of
    its class against every proxy. Unlike the paper, the denominator includes
    the sample's own proxy (as in Proxy-NCA++, Teh et al., 2020): embeddings
    and proxies are not normalised here, and the paper's form is unbounded
    below for a linear map. The loss is the mean over the samples.

    Parameters
    ----------
    params : ndarray of shape (n_components * n_features + n_classes * n_components,)
    X : ndarray of shape (n_samples, n_features)
    codes : ndarray of int, shape (n_samples,)
        Class indices in ``[0, n_classes)`` (the proxies' rows).
    n_components, n_classes : int

    Returns
    -------
    loss : float
    grad : ndarray, same shape as ``params``
    """
    n, d = X.shape
    k = n_components
    L = _split_L(params, k, d)
    P = params[k * d :].reshape(n_classes, k)
    if n == 0:
        return 0.0, np.zeros_like(params)
    Z = X @ L.T
    diff = Z[:, None, :] - P[None, :, :]  # (n, classes, k)
    D2 = np.einsum("ick,ick->ic", diff, diff)
    logits = -D2
    mx = logits.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(axis=1))
    codes = np.asarray(codes, dtype=np.int64)
    rows = np.arange(n)
    loss = float(np.sum(lse - logits[rows, codes]) / n)
    W = np.exp(logits - lse[:, None])  # softmax
    W[rows, codes] -= 1.0  # d loss / d logits
    G = -W / n  # d loss / d D2
    GZ = 2.0 * np.einsum("ic,ick->ik", G, diff)
    GP = -2.0 * np.einsum("ic,ick->ck", G, diff)
    return loss, np.concatenate(((GZ.T @ X).ravel(), GP.ravel()))
