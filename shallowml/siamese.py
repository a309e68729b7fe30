"""Linear Siamese networks: two towers ``x -> L x`` that share one matrix ``L``.

The learned metric is ``d(x, y) = ||L x - L y||`` like every shallowml
estimator. ``L`` is trained by mini-batch Adam
(:func:`~shallowml._solvers.adam.minimize_adam`) on one of the losses of
:mod:`shallowml._losses.siamese`: contrastive (Hadsell et al., 2006), Koch et
al. (2015) weighted-L1 + cross-entropy, or triplet with in-batch mining
(Schroff et al., 2015; Hermans et al., 2017).

Inputs are divided internally by one global scale ``s`` (the root mean
squared difference of the training pairs, or of random sample pairs for the
supervised variant), so ``learning_rate``, ``margin`` and ``tol`` are
unit-free; ``components_`` is expressed for the original inputs.
"""

import copy
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._losses.siamese import (
    MINING_OPTIONS,
    contrastive_loss_grad,
    koch_loss_grad,
    multi_similarity_loss_grad,
    npair_loss_grad,
    proxy_nca_loss_grad,
    triplet_loss_grad,
)
from ._solvers.adam import AdamState, minimize_adam
from ._solvers.progress import user_callback
from ._solvers.result import SolverResult
from .base import MahalanobisMixin
from .constraints import class_balanced_batches, count_pairs, positive_negative_pairs
from .pairs import PairsClassifierMixin
from .supervision import ClassesMixin
from .utils._compat import Interval, StrOptions, _fit_context, validate_data
from .utils.init import INIT_OPTIONS, initial_components, resolve_n_components
from .utils.scaling import rms_distance
from .utils.validation import (
    PREPROCESSOR_CONSTRAINT,
    check_pair_labels,
    check_tuple_indices,
    encode_class_labels,
    tuple_differences,
    warn_unused_parameters,
)

_PAIR_LOSSES = ("contrastive", "koch")
# losses on batches of labelled samples (LinearSiamese_Supervised only)
_BATCH_LOSSES = ("triplet", "soft_triplet", "npair", "multi_similarity", "proxy_nca")
_MARGIN_LOSSES = ("contrastive", "triplet", "multi_similarity")
_MINING_LOSSES = ("triplet", "soft_triplet")

_COMMON_CONSTRAINTS = {
    "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "margin": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "init": [StrOptions(set(INIT_OPTIONS)), np.ndarray],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "callback": [callable, None],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}


def _pair_objective(loss, A, I, J, yp, n_components, margin):
    """``fun(x, idx)`` on the pairs ``(A[I[idx]], A[J[idx]])`` with labels ``yp[idx]``."""
    if loss == "contrastive":
        def fun(x, idx):
            return contrastive_loss_grad(
                x, A[I[idx]], A[J[idx]], yp[idx], n_components=n_components, margin=margin
            )
    else:
        def fun(x, idx):
            return koch_loss_grad(x, A[I[idx]], A[J[idx]], yp[idx], n_components=n_components)
    return fun


def _with_weight_decay(fun, anchor, weight_decay):
    """``fun`` plus ``weight_decay / 2 * ||L - L0||^2`` on the first ``anchor.size`` parameters."""
    if weight_decay == 0.0:
        return fun
    m = anchor.size

    def penalised(x, idx):
        loss, grad = fun(x, idx)
        r = x[:m] - anchor
        grad = np.array(grad, dtype=np.float64, copy=True)
        grad[:m] += weight_decay * r
        return loss + 0.5 * weight_decay * float(r @ r), grad

    return penalised


def _split(n_items, fraction, rng, what):
    """Random train / validation split of ``n_items`` indices for early stopping."""
    n_val = max(1, int(round(fraction * n_items)))
    if n_items - n_val < 1:
        raise ValueError(
            f"early_stopping needs at least 2 {what} (got {n_items}); "
            "disable early_stopping or provide more data."
        )
    order = rng.permutation(n_items)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class _LinearSiameseBase(MahalanobisMixin, BaseEstimator):
    """Shared training machinery (not public)."""

    def _unused_parameters(self):
        """Parameters the chosen ``loss`` ignores -> why (see ``warn_unused_parameters``)."""
        if self.loss == "koch":
            return {"margin": "with loss='koch' (only the contrastive and triplet losses have a margin)"}
        return {}

    def _margin(self):
        """The margin used: ``margin``, or 1.0 when None; warns about ignored parameters."""
        warn_unused_parameters(self, self._unused_parameters())
        return 1.0 if self.margin is None else float(self.margin)

    def _initial_params(self, A, y_codes, I, J, n_components, rng, scale):
        """Starting parameter vector on the points ``A`` rescaled by ``1 / scale``.

        An ``init`` array is in the units of the original inputs (it becomes
        the starting ``components_``), hence the factor ``scale``.
        """
        L0 = initial_components(self.init, A, y_codes, n_components, random_state=rng)
        if not isinstance(self.init, str):
            L0 = L0 * scale
        self._anchor = L0.ravel().copy()
        if self.loss == "proxy_nca":
            # one proxy per class, started at the class mean of the initial embedding
            Z0 = A @ L0.T
            n_classes = int(np.max(y_codes)) + 1
            P0 = np.zeros((n_classes, n_components))
            np.add.at(P0, y_codes, Z0)
            P0 /= np.maximum(np.bincount(y_codes, minlength=n_classes), 1)[:, None]
            return np.concatenate((L0.ravel(), P0.ravel()))
        if self.loss != "koch":
            return L0.ravel()
        # head alpha = -1 (far means dissimilar), bias so the mean pair sits at p = 0.5
        if I.size:
            b0 = float(np.mean(np.abs((A[I] - A[J]) @ L0.T).sum(axis=1)))
        else:
            b0 = 0.0
        return np.concatenate((L0.ravel(), -np.ones(n_components), [b0]))

    def _components(self, x, n_components, n_features, scale):
        """``components_`` (in the units of the inputs) from the raw parameters."""
        k, d = n_components, n_features
        L = x[: k * d].reshape(k, d)
        if self.loss == "koch":
            L = np.abs(x[k * d : k * d + k])[:, None] * L
        return L / scale

    def _store(self, x, n_components, n_features, scale):
        """Set ``components_`` (and the Koch head) from the raw parameters."""
        k, d = n_components, n_features
        if self.loss == "koch":
            self.head_coef_ = np.sign(x[k * d : k * d + k])
            self.head_intercept_ = float(x[k * d + k])
        if self.loss == "proxy_nca":
            # in the units of transform's output, like the embedded samples
            self.proxies_ = x[k * d :].reshape(-1, k).copy()
        self.components_ = self._components(x, k, d, scale)
        self._params = np.array(x, copy=True)
        self._input_scale = scale

    def _adam(self, fun, n_items, x0, shape, *, rng, max_iter, state, val_fun=None, batches=None):
        """Mini-batch Adam; ``shape`` is ``(n_components, n_features, scale)`` for the callback.

        ``weight_decay`` pulls ``L`` towards the initial map ``self._anchor``.
        """
        fun = _with_weight_decay(fun, self._anchor, float(self.weight_decay))
        return minimize_adam(
            fun, x0, n_items, random_state=rng, batch_size=self.batch_size, max_iter=max_iter, batches=batches,
            learning_rate=self.learning_rate, tol=self.tol, n_iter_no_change=self.n_iter_no_change,
            val_fun=val_fun, state=state, verbose=self.verbose, name=type(self).__name__,
            callback=user_callback(self.callback, lambda x: self._components(x, *shape)),
        )

    def _train_pairs(self, A, I, J, yp, x0, n_components, *, rng, state, max_iter, early_stopping,
                     scale):
        """Adam on the pairs ``(A[I], A[J])``; returns the SolverResult."""
        margin = self._margin()
        shape = (n_components, A.shape[1], scale)
        if early_stopping:
            tr, va = _split(I.size, self.validation_fraction, rng, "pairs")
            fun = _pair_objective(self.loss, A, I[tr], J[tr], yp[tr], n_components, margin)
            val = _pair_objective(self.loss, A, I[va], J[va], yp[va], n_components, margin)
            all_va = np.arange(va.size)
            return self._adam(fun, tr.size, x0, shape, rng=rng, max_iter=max_iter, state=state,
                              val_fun=lambda x: val(x, all_va)[0])
        fun = _pair_objective(self.loss, A, I, J, yp, n_components, margin)
        return self._adam(fun, I.size, x0, shape, rng=rng, max_iter=max_iter, state=state)

    def _finish(self, result, n_components, n_features, scale, *, partial):
        self._store(result.x, n_components, n_features, scale)
        self.loss_curve_ = list(result.history)
        if partial:
            self.n_iter_ = getattr(self, "n_iter_", 0) + result.n_iter
        else:
            self.n_iter_ = result.n_iter
            result.warn_if_not_converged(type(self).__name__)


class LinearSiamese(PairsClassifierMixin, _LinearSiameseBase):
    """Linear Siamese network trained on labelled pairs.

    Both points of a pair go through the same linear tower ``x -> L x``; ``L``
    is trained with mini-batch Adam (Kingma & Ba, 2015) on

    - ``loss='contrastive'`` (Hadsell, Chopra & LeCun, CVPR 2006): similar
      pairs cost ``d^2 / 2``, dissimilar ones ``max(0, margin - d)^2 / 2``;
    - ``loss='koch'`` (Koch, Zemel & Salakhutdinov, 2015): the probability of
      "similar" is ``sigmoid(alpha . |L x1 - L x2| + b)`` with learned head
      weights ``alpha`` and bias ``b``, trained by binary cross-entropy.

    The learned metric is ``d(x, y) = ||L x - L y||``. For ``loss='koch'`` the
    rows of ``components_`` are ``|alpha_j| L_j`` (the head weights folded in,
    so the L1 distance of ``transform`` outputs is the head's weighted
    distance); the head itself is kept in ``head_coef_`` / ``head_intercept_``
    and used by :meth:`pair_similarity_proba`.

    ``predict`` and ``decision_function`` use the learned distance for every
    loss: a pair is similar when its distance is at most ``threshold_``. After
    ``fit``, ``threshold_`` is calibrated for accuracy on the training pairs
    (:meth:`calibrate_threshold`); ``partial_fit`` recalibrates it on the
    latest batch. ``score`` is the ROC AUC of ``decision_function``.

    Inputs are divided internally by one global scale (the root mean squared
    difference of the training pairs), so ``learning_rate``, ``margin`` and
    ``tol`` are unit-free; ``components_`` applies to the original inputs.

    Parameters
    ----------
    n_components : int, default=None
        Output dimension; default ``n_features``.
    loss : {'contrastive', 'koch'}, default='contrastive'
    margin : float, default=None
        Margin of the contrastive loss (in rescaled units); None means 1.0.
        ``loss='koch'`` has no margin: a value given with it is ignored with
        a ``UserWarning``.
    init : {'auto', 'pca', 'identity', 'random'} or ndarray, default='auto'
        Initial ``L`` (see :func:`shallowml.utils.init.initial_components`),
        computed on the rescaled pair points; 'auto' is 'pca' when
        ``n_components < n_features``, else 'identity'. An array of shape
        ``(n_components, n_features)`` is the starting ``components_``.
    learning_rate : float, default=0.01
        Adam step size.
    batch_size : int, default=64
        Pairs per mini-batch.
    max_iter : int, default=100
        Maximum number of epochs of ``fit``.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss (training loss, or validation
        loss with ``early_stopping``) counted as an improvement.
    weight_decay : float, default=0.0
        Strength ``w`` of the penalty ``w / 2 * ||L - L0||_F^2`` (on the
        rescaled inputs) that pulls ``L`` towards its initial map ``L0``.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the pairs, monitor their loss and
        keep the best parameters.
    validation_fraction : float, default=0.1
        Fraction of the pairs held out; only used with ``early_stopping=True``
        (as in scikit-learn's ``SGDClassifier``).
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every epoch, with
        ``components`` the current ``L`` in the units of ``components_`` (a
        copy) and ``n_iter`` counted from 1. Returning True stops the fit
        early and keeps the result so far (no ``ConvergenceWarning``; with
        ``early_stopping`` the best parameters so far).
    verbose : int, default=0
        Print a row per epoch (training loss, time) and the training time.
    random_state : int, RandomState instance or None, default=None
        Initialisation, batch order and validation split.
    {preprocessor}

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned linear map ``L``.
    threshold_ : float
        Distance below which pairs are predicted similar.
    head_coef_ : ndarray of shape (n_components,)
        Only for ``loss='koch'``: signs of the head weights ``alpha``.
    head_intercept_ : float
        Only for ``loss='koch'``: the head bias ``b``.
    n_iter_ : int
        Epochs run (cumulated over ``partial_fit`` calls).
    loss_curve_ : list of float
        Monitored loss per epoch of the last ``fit`` / ``partial_fit``.
    n_features_in_ : int

    Raises
    ------
    shallowml._solvers.adam.DivergenceError
        From ``fit`` / ``partial_fit`` when the loss or parameters become
        non-finite or explode (a ``ValueError`` and ``FloatingPointError``
        subclass); the estimator keeps its previous state, never NaN.

    See Also
    --------
    LinearSiamese_Supervised : the same, fitted on class labels (pairs are
        sampled), with a triplet option.

    References
    ----------
    R. Hadsell, S. Chopra, Y. LeCun. Dimensionality reduction by learning an
    invariant mapping. CVPR 2006.
    G. Koch, R. Zemel, R. Salakhutdinov. Siamese neural networks for one-shot
    image recognition. ICML Deep Learning Workshop 2015.
    D. P. Kingma, J. Ba. Adam: a method for stochastic optimization. ICLR 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import LinearSiamese
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(400, 3)
    >>> pairs = np.stack([X[:200], X[200:]], axis=1)  # similar: same sign of feature 0
    >>> y = np.where(np.sign(pairs[:, 0, 0]) == np.sign(pairs[:, 1, 0]), 1, -1)
    >>> est = LinearSiamese(n_components=2, random_state=0).fit(pairs, y)
    >>> est.components_.shape, est.predict(pairs).shape
    ((2, 3), (200,))
    >>> bool(est.score(pairs, y) > 0.8)  # ROC AUC
    True
    >>> # the same pairs as integer indices into X: no (200, 2, 3) array is built
    >>> idx = np.stack([np.arange(200), np.arange(200, 400)], axis=1)
    >>> by_index = LinearSiamese(n_components=2, random_state=0, preprocessor=X).fit(idx, y)
    >>> bool(np.allclose(by_index.decision_function(idx), est.decision_function(pairs)))
    True
    """


    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "loss": [StrOptions(set(_PAIR_LOSSES))],
        "preprocessor": PREPROCESSOR_CONSTRAINT,
    }

    def __init__(self, n_components=None, *, loss="contrastive", margin=None, init="auto",
                 learning_rate=0.01, batch_size=64, max_iter=100, tol=1e-4, weight_decay=0.0,
                 n_iter_no_change=10, early_stopping=False, validation_fraction=0.1, callback=None,
                 verbose=0, random_state=None, preprocessor=None):
        self.n_components = n_components
        self.loss = loss
        self.margin = margin
        self.init = init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.weight_decay = weight_decay
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state
        self.preprocessor = preprocessor

    def _common_check_instance(self):
        """``LinearSiamese_Supervised`` with the parameters set here that differ from the defaults.

        The supervised counterpart keeps its own (studied) defaults for the
        others, so that ``LinearSiamese()`` stands for ``LinearSiamese_Supervised()``
        in the common checks, the demo and the benchmark suite.
        """
        defaults = type(self)().get_params()
        changed = {
            name: value for name, value in self.get_params().items()
            if name != "preprocessor" and not (isinstance(value, (str, numbers.Number, type(None)))
                    and isinstance(defaults[name], (str, numbers.Number, type(None)))
                    and value == defaults[name] and type(value) is type(defaults[name]))
        }
        return LinearSiamese_Supervised(**changed)

    def _prepare(self, pairs, y, *, reset):
        """``(y, A, I, J)``: pair ``i`` is ``(A[I[i]], A[J[i]])``."""
        points, indices, counts = check_tuple_indices(
            pairs, 2, self.preprocessor, n_features=None if reset else self.n_features_in_
        )
        y = check_pair_labels(y, indices.shape[0])
        if counts is not None:  # indexed pairs: the distinct points, never the (m, 2, d) array
            return y, points, indices[:, 0].copy(), indices[:, 1].copy()
        m = indices.shape[0]
        # formed pairs: all first points, then all second ones
        A = np.concatenate((points[indices[:, 0]], points[indices[:, 1]]))
        return y, A, np.arange(m), np.arange(m, 2 * m)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, pairs, y):
        """Fit on labelled pairs.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Formed pairs, or integer indices into ``preprocessor``.
        y : array-like of shape (n_pairs,)
            +1 for similar pairs, -1 for dissimilar ones; both must occur.

        Returns
        -------
        self
        """
        y, A, I, J = self._prepare(pairs, y, reset=True)
        if np.unique(y).size < 2:
            raise ValueError(
                f"{type(self).__name__} needs both similar (+1) and dissimilar (-1) pairs; "
                f"got only {int(y[0]):+d}."
            )
        d = A.shape[1]
        n_components = resolve_n_components(self.n_components, d)
        rng = check_random_state(self.random_state)
        scale = rms_distance(A, I, J)
        A = A / scale
        x0 = self._initial_params(A, None, I, J, n_components, rng, scale)
        state = AdamState.zeros_like(x0)
        result = self._train_pairs(A, I, J, y, x0, n_components, rng=rng, state=state,
                                   max_iter=self.max_iter, early_stopping=self.early_stopping,
                                   scale=scale)
        self.n_features_in_ = d
        self._adam_state, self._rng = state, rng
        self._finish(result, n_components, d, scale, partial=False)
        self.calibrate_threshold(pairs, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, pairs, y):
        """One epoch of Adam over a batch of pairs (streaming).

        The first call initialises the model (the input scale is taken from
        that batch); later calls continue from the current parameters and
        Adam state, also after ``fit``. ``threshold_`` is recalibrated on the
        batch. No convergence check is made.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Formed pairs, or integer indices into ``preprocessor``.
        y : array-like of shape (n_pairs,), values in {-1, +1}

        Returns
        -------
        self
        """
        first = not hasattr(self, "_params")
        y, A, I, J = self._prepare(pairs, y, reset=first)
        d = A.shape[1]
        if first:
            n_components = resolve_n_components(self.n_components, d)
            self._rng = check_random_state(self.random_state)
            scale = rms_distance(A, I, J)
            x0 = self._initial_params(A / scale, None, I, J, n_components, self._rng, scale)
            state = AdamState.zeros_like(x0)
        else:
            n_components, scale, x0 = self.components_.shape[0], self._input_scale, self._params
            state = copy.deepcopy(self._adam_state)  # committed only if the epoch succeeds
        A = A / scale
        result = self._train_pairs(A, I, J, y, x0, n_components, rng=self._rng,
                                   state=state, max_iter=1, early_stopping=False, scale=scale)
        self._adam_state = state
        self.n_features_in_ = d
        self._finish(result, n_components, d, scale, partial=True)
        self.calibrate_threshold(pairs, y)
        return self

    def pair_similarity_proba(self, pairs):
        """Koch head probability that each pair is similar (``loss='koch'`` only).

        ``sigmoid(sum_j head_coef_[j] * |(components_ @ (x1 - x2))_j| + head_intercept_)``.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features)

        Returns
        -------
        proba : ndarray of shape (n_pairs,)
        """
        check_is_fitted(self)
        if not hasattr(self, "head_coef_"):
            raise AttributeError("pair_similarity_proba is only available with loss='koch'.")
        points, indices, _ = check_tuple_indices(pairs, 2, self.preprocessor, n_features=self.n_features_in_)
        U = np.abs(tuple_differences(points, indices, 0, 1) @ self.components_.T)
        s = U @ self.head_coef_ + self.head_intercept_
        return 0.5 * (1.0 + np.tanh(0.5 * s))


class LinearSiamese_Supervised(ClassesMixin, _LinearSiameseBase):
    """Linear Siamese network fitted on class labels.

    One linear map ``x -> L x`` is trained by mini-batch Adam on one of the
    losses of deep metric learning (see the user guide, "which loss when"):

    - pair losses, on ``n_pairs`` pairs sampled once per ``fit`` (half
      similar, half dissimilar, drawn uniformly with
      :func:`shallowml.constraints.positive_negative_pairs`), as in
      :class:`LinearSiamese`: ``'contrastive'`` (Hadsell et al., 2006) and
      ``'koch'`` (Koch et al., 2015, weighted L1 + sigmoid);
    - batch losses, on mini-batches of samples, with every term formed inside
      the batch: ``'triplet'`` (``max(0, margin + d_ap^2 - d_an^2)``, Schroff
      et al., 2015) and ``'soft_triplet'`` (``softplus(d_ap^2 - d_an^2)``,
      Hermans et al., 2017), both with triplet ``mining`` 'batch_hard'
      (hardest positive and negative of each anchor), 'semi_hard' (FaceNet)
      or 'all' (every valid triplet); ``'npair'`` (multi-class N-pair, Sohn,
      2016); ``'multi_similarity'`` (Wang et al., 2019, with its pair
      mining); ``'proxy_nca'`` (Movshovitz-Attias et al., 2017, one learned
      proxy per class). The formulas are in :mod:`shallowml._losses.siamese`.

    Batch losses draw P x K class-balanced batches (``samples_per_class`` K
    samples of each of ``batch_size // K`` classes,
    :func:`shallowml.constraints.class_balanced_batches`), so that every
    batch holds positives and negatives whatever the number of classes.

    The defaults (Proxy-NCA from the identity map, weight decay 0.3 towards
    it, early stopping on held-out samples that keeps the identity unless
    the validation loss improves) were chosen by a study over the 20
    datasets of the benchmark suite (``benchmarks/siamese_defaults.py``,
    output in ``docs/benchmark_results/siamese_defaults.txt``) so that the
    default fit does not make k-NN worse than the Euclidean distance on
    standardised data.

    Inputs are divided internally by one global scale (the root mean squared
    difference of two random samples, ``sqrt(2 * total variance)``), so
    ``learning_rate``, ``margin``, ``weight_decay`` and ``tol`` are unit-free.

    Parameters
    ----------
    n_components : int, default=None
        Output dimension; default ``n_features``.
    loss : {'triplet', 'soft_triplet', 'npair', 'multi_similarity', 'proxy_nca', \
'contrastive', 'koch'}, default='proxy_nca'
    margin : float, default=None
        Margin of the contrastive and triplet losses and threshold
        ``lambda`` (on squared distances) of the multi-similarity loss, in
        rescaled units; None means 1.0.
    mining : {'batch_hard', 'semi_hard', 'all'}, default=None
        Triplet selection inside a batch (triplet losses); None means
        'batch_hard'.
    n_pairs : int, default=None
        Number of sampled pairs for the pair losses (half similar, half
        dissimilar); None means ``10 * n_samples`` or as many as exist.
    samples_per_class : int, default=None
        K of the P x K batches of the batch losses; None means 4.

    Each loss uses only some of ``margin``, ``mining``, ``n_pairs`` and
    ``samples_per_class`` (``margin``: contrastive, triplet and
    multi-similarity; ``mining``: triplet and soft triplet; ``n_pairs``:
    contrastive and Koch; ``samples_per_class``: the batch losses). A value
    given for a parameter the chosen loss does not use is ignored with a
    ``UserWarning`` (so a grid over ``loss`` still runs), never silently.
    init : {'auto', 'pca', 'lda', 'identity', 'random'} or ndarray, default='identity'
        Initial ``L`` (see :func:`shallowml.utils.init.initial_components`),
        computed on the rescaled samples. An array of shape
        ``(n_components, n_features)`` is the starting ``components_``.
        The identity starts from the Euclidean distance of the inputs.
    learning_rate : float, default=0.01
    batch_size : int, default=64
        Pairs (pair losses) or samples (batch losses) per mini-batch.
    max_iter : int, default=100
        Maximum number of epochs.
    tol : float, default=1e-4
    weight_decay : float, default=0.3
        Strength ``w`` of the penalty ``w / 2 * ||L - L0||_F^2`` (rescaled
        units) that pulls ``L`` towards the initial map ``L0``.
    n_iter_no_change : int, default=10
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the pairs (pair losses) or of the
        samples (batch losses), monitor their loss and keep the best
        parameters, the initial map included.
    validation_fraction : float, default=0.1
        Fraction held out; only used with ``early_stopping=True`` (as in
        scikit-learn's ``SGDClassifier``).
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every epoch, with
        ``components`` the current ``L`` in the units of ``components_`` (a
        copy) and ``n_iter`` counted from 1. Returning True stops the fit
        early and keeps the result so far (no ``ConvergenceWarning``; with
        ``early_stopping`` the best parameters so far).
    verbose : int, default=0
        Print a row per epoch (training and validation loss, time) and the
        training time.
    random_state : int, RandomState instance or None, default=None
        Pair sampling, initialisation, batch order and validation split.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit`` (not set by ``partial_fit``, whose
        batches need not hold every class).
    head_coef_, head_intercept_ :
        Only for ``loss='koch'`` (see :class:`LinearSiamese`).
    proxies_ : ndarray of shape (n_classes, n_components)
        Only for ``loss='proxy_nca'``: the class proxies, in the space of
        ``transform``'s output.
    n_iter_ : int
    loss_curve_ : list of float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    References
    ----------
    R. Hadsell, S. Chopra, Y. LeCun. Dimensionality reduction by learning an
    invariant mapping. CVPR 2006.
    G. Koch, R. Zemel, R. Salakhutdinov. Siamese neural networks for one-shot
    image recognition. ICML Deep Learning Workshop 2015.
    F. Schroff, D. Kalenichenko, J. Philbin. FaceNet: a unified embedding for
    face recognition and clustering. CVPR 2015.
    A. Hermans, L. Beyer, B. Leibe. In defense of the triplet loss for person
    re-identification. arXiv:1703.07737, 2017.
    K. Sohn. Improved deep metric learning with multi-class N-pair loss
    objective. NeurIPS 2016.
    X. Wang, X. Han, W. Huang, D. Dong, M. R. Scott. Multi-similarity loss
    with general pair weighting for deep metric learning. CVPR 2019.
    Y. Movshovitz-Attias, A. Toshev, T. K. Leung, S. Ioffe, S. Singh. No fuss
    distance metric learning using proxies. ICCV 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import LinearSiamese_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> est = LinearSiamese_Supervised(random_state=0).fit(X, y)
    >>> est.transform(X).shape
    (150, 4)
    >>> est = LinearSiamese_Supervised(loss="multi_similarity", random_state=0).fit(X, y)
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "loss": [StrOptions({*_PAIR_LOSSES, *_BATCH_LOSSES})],
        "mining": [StrOptions(set(MINING_OPTIONS)), None],
        "n_pairs": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "samples_per_class": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_components=None, *, loss="proxy_nca", margin=None, mining=None,
                 n_pairs=None, samples_per_class=None, init="identity", learning_rate=0.01,
                 batch_size=64, max_iter=100, tol=1e-4, weight_decay=0.3, n_iter_no_change=10,
                 early_stopping=True, validation_fraction=0.1, callback=None, verbose=0,
                 random_state=None):
        self.n_components = n_components
        self.loss = loss
        self.margin = margin
        self.mining = mining
        self.n_pairs = n_pairs
        self.samples_per_class = samples_per_class
        self.init = init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.weight_decay = weight_decay
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    def _warm_up_variants(self):
        """Instances whose tiny fits run every Siamese kernel (``utils.warmup.compile_all``).

        The default loss runs no numba kernel; the triplet-type losses run
        those of :mod:`shallowml._kernels.siamese`.
        """
        from sklearn.base import clone

        forms = [("triplet", "batch_hard"), ("triplet", "semi_hard"), ("triplet", "all"),
                 ("soft_triplet", "all"), ("npair", None), ("multi_similarity", None)]
        return [clone(self).set_params(loss=loss, mining=mining) for loss, mining in forms]

    def _unused_parameters(self):
        loss = self.loss
        unused = {}
        if loss not in _MARGIN_LOSSES:
            unused["margin"] = (f"with loss={loss!r} (only the contrastive, triplet and "
                                "multi_similarity losses have a margin)")
        if loss not in _MINING_LOSSES:
            unused["mining"] = f"with loss={loss!r} (only loss='triplet' and 'soft_triplet' mine triplets)"
        if loss in _PAIR_LOSSES:
            unused["samples_per_class"] = (f"with loss={loss!r} (pair losses train on sampled pairs, "
                                           "not on P x K batches of samples)")
        else:
            unused["n_pairs"] = f"with loss={loss!r} (it trains on batches of samples, not on pairs)"
        return unused

    def _sample_pairs(self, y_codes, rng, *, strict):
        avail_pos, avail_neg = count_pairs(y_codes)
        if self.n_pairs is None or not strict:
            wanted = 10 * y_codes.size if self.n_pairs is None else self.n_pairs
            n_pos = min(wanted // 2, avail_pos, avail_neg)
            n_neg = n_pos
        else:
            n_pos = self.n_pairs // 2
            n_neg = self.n_pairs - n_pos
        pos, neg = positive_negative_pairs(y_codes, n_pos, n_neg, random_state=rng)
        ind = np.concatenate((pos, neg))
        yp = np.concatenate((np.ones(len(pos)), -np.ones(len(neg))))
        return ind[:, 0], ind[:, 1], yp

    def _batch_objective(self, n_components, margin):
        """``objective(Xp, yp) -> fun(x, idx)`` of the chosen batch loss."""
        loss, k = self.loss, n_components
        if loss in _MINING_LOSSES:
            mining = "batch_hard" if self.mining is None else self.mining
            m = margin if loss == "triplet" else None  # None: soft margin

            def value(x, Xb, yb):
                return triplet_loss_grad(x, Xb, yb, n_components=k, margin=m, mining=mining)
        elif loss == "npair":
            def value(x, Xb, yb):
                return npair_loss_grad(x, Xb, yb, n_components=k)
        elif loss == "multi_similarity":
            def value(x, Xb, yb):
                return multi_similarity_loss_grad(x, Xb, yb, n_components=k, margin=margin)
        else:  # proxy_nca: labels are the proxies' rows
            def value(x, Xb, yb):
                n_classes = (x.size - k * Xb.shape[1]) // k
                return proxy_nca_loss_grad(x, Xb, yb, n_components=k, n_classes=n_classes)
        return value

    def _train_batches(self, Xs, y_codes, x0, n_components, *, rng, state, max_iter, early_stopping,
                       scale):
        value = self._batch_objective(n_components, self._margin())
        shape = (n_components, Xs.shape[1], scale)
        K = 4 if self.samples_per_class is None else int(self.samples_per_class)

        def training(Xp, yp):
            batches = lambda r: class_balanced_batches(yp, self.batch_size, K, random_state=r)  # noqa: E731
            return (lambda x, idx: value(x, Xp[idx], yp[idx])), batches

        if early_stopping:
            tr, va = _split(y_codes.size, self.validation_fraction, rng, "samples")
            Xv, yv = Xs[va], y_codes[va]
            counts = np.bincount(yv)
            if self.loss != "proxy_nca" and (counts.max() < 2 or np.count_nonzero(counts) < 2):
                raise ValueError(
                    "The early-stopping validation set holds no valid triplet (it needs 2 "
                    "classes, one with 2 samples); increase validation_fraction or disable "
                    "early_stopping."
                )
            fun, batches = training(Xs[tr], y_codes[tr])
            return self._adam(fun, tr.size, x0, shape, rng=rng, max_iter=max_iter, state=state,
                              val_fun=lambda x: value(x, Xv, yv)[0], batches=batches)
        fun, batches = training(Xs, y_codes)
        return self._adam(fun, y_codes.size, x0, shape, rng=rng, max_iter=max_iter, state=state,
                          batches=batches)

    def _run(self, X, y_codes, *, first, max_iter, early_stopping, strict):
        d = X.shape[1]
        if first:
            n_components = resolve_n_components(self.n_components, d)
            self._rng = check_random_state(self.random_state)
            scale = rms_distance(X)  # over all pairs of samples: sqrt(2 * total variance)
        else:
            n_components, scale = self.components_.shape[0], self._input_scale
        rng = self._rng
        Xs = X / scale
        batch_loss = self.loss in _BATCH_LOSSES
        if batch_loss:
            I = J = yp = np.zeros(0, dtype=np.int64)
        else:
            I, J, yp = self._sample_pairs(y_codes, rng, strict=strict)
        if first:
            x0 = self._initial_params(Xs, y_codes, I, J, n_components, rng, scale)
            state = AdamState.zeros_like(x0)
        else:
            x0 = self._params
            state = copy.deepcopy(self._adam_state)  # committed only if training succeeds
        counts = np.bincount(y_codes)
        no_terms = (self.loss != "proxy_nca"
                    and (np.count_nonzero(counts) < 2 or counts.max() < 2))
        if batch_loss and no_terms:
            # partial_fit on a batch without an anchor having a positive and a negative
            result = SolverResult(x=x0, fun=np.nan, n_iter=0, converged=True,
                                  message="no valid triplet in the batch")
        elif batch_loss:
            result = self._train_batches(Xs, y_codes, x0, n_components, rng=rng,
                                         state=state, max_iter=max_iter,
                                         early_stopping=early_stopping, scale=scale)
        elif I.size == 0:
            # partial_fit on a batch without usable pairs: nothing to learn from it
            result = SolverResult(x=x0, fun=np.nan, n_iter=0, converged=True,
                                  message="no pairs in the batch")
        else:
            result = self._train_pairs(Xs, I, J, yp, x0, n_components, rng=rng,
                                       state=state, max_iter=max_iter,
                                       early_stopping=early_stopping, scale=scale)
        self._adam_state = state
        return result, n_components, scale

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on samples ``X`` with class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y_codes, _ = self._validate_classes(X, y)
        self._proxy_classes = self.classes_
        result, n_components, scale = self._run(
            X, y_codes, first=True, max_iter=self.max_iter,
            early_stopping=self.early_stopping, strict=True,
        )
        self._finish(result, n_components, X.shape[1], scale, partial=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One epoch of Adam over a batch of labelled samples (streaming).

        Labels are only compared for equality inside the batch, so classes
        need not be declared in advance, except with ``loss='proxy_nca'``,
        whose proxies are those of the classes of the first batch (a later
        label outside them raises a ValueError). Pair losses sample pairs
        inside the batch (as many as exist, up to ``n_pairs`` or ``10 *
        n_samples``); a batch without usable pairs or triplets leaves the
        parameters unchanged. The first call initialises the model and the
        input scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        first = not hasattr(self, "_params")
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first,
                             ensure_min_samples=2 if first else 1)
        classes, y_codes, _ = encode_class_labels(y, allow_trivial=True)  # a batch may hold one class
        if self.loss == "proxy_nca":
            if first:
                self._proxy_classes = classes
            else:
                known = self._proxy_classes
                pos = np.clip(np.searchsorted(known, classes), 0, known.size - 1)
                if not np.array_equal(known[pos], classes):
                    raise ValueError(
                        "partial_fit with loss='proxy_nca' got labels not in its first batch "
                        f"({classes[known[pos] != classes].tolist()}); every class needs its proxy "
                        "from the first call on."
                    )
                y_codes = pos[y_codes]
        result, n_components, scale = self._run(
            X, y_codes, first=first, max_iter=1, early_stopping=False, strict=False,
        )
        self._finish(result, n_components, X.shape[1], scale, partial=True)
        return self
