"""Neighbourhood Components Analysis (Goldberger et al., NIPS 2004)."""

import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._losses.nca import nca_loss_grad
from ._solvers.adam import minimize_adam
from ._solvers.lbfgs import minimize_lbfgs
from ._solvers.progress import ProgressTable, user_callback
from .base import MahalanobisMixin
from .supervision import ClassesMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.init import initial_components, resolve_init, resolve_n_components
from .utils.scaling import downscale_exponent
from .utils.threads import single_threaded_blas
from .utils.validation import column_means, warn_unused_parameters


# the stochastic mode's defaults (learning_rate=None, n_candidates=None), chosen by
# benchmarks/nca_sgd_defaults.py (docs/benchmark_results/nca_sgd_defaults.md)
_DEFAULT_LEARNING_RATE = 0.01
_DEFAULT_CANDIDATES = 1024
_DEFAULT_SCHEDULE = "cosine"


class NCA(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """Neighbourhood Components Analysis.

    Learns a linear map ``L`` that maximises the expected number of samples
    correctly classified by a stochastic nearest-neighbour rule in the
    embedded space: sample ``i`` picks neighbour ``j`` with probability
    ``p_ij = softmax_j(-||L x_i - L x_j||^2)`` (``p_ii = 0``), and the
    objective is ``sum_i p_i`` with ``p_i`` the probability of picking a
    same-class neighbour (Goldberger, Roweis, Hinton & Salakhutdinov, 2004).

    The objective, its scaling (a plain sum over samples), the parameters and
    the stopping rule follow scikit-learn's
    :class:`~sklearn.neighbors.NeighborhoodComponentsAnalysis`. The loss and
    gradient are computed by a numba kernel in row blocks, so memory is
    ``O(block_rows * n_samples)`` instead of ``O(n_samples^2)``, and the
    softmax uses a log-sum-exp shift, so coincident points or huge distances
    never produce NaN. Data larger than ``2**64`` in magnitude is learned on
    ``X / 2**e`` with the map ``L * 2**e`` (the same distances and objective;
    scipy's L-BFGS overflows on gradients of order ``|X|**2``).

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the embedding; default ``n_features`` (or the number of
        rows of an ``init`` array).
    init : {'auto', 'pca', 'lda', 'identity', 'random'} or ndarray of shape \
            (n_components, n_features), default='auto'
        Initial ``L``. 'auto' picks 'lda' when
        ``n_components <= min(n_features, n_classes - 1)``, else 'pca' when
        ``n_components < min(n_features, n_samples)``, else 'identity' (the
        rule of scikit-learn). 'lda' uses shallowml's Fisher directions scaled
        to unit output variance (scikit-learn scales its LDA start
        differently), so 'lda' starts differ from scikit-learn's.
    warm_start : bool, default=False
        When True and ``fit`` was called before, start from the previous
        ``components_`` (``init`` is then ignored) if they have
        ``n_components`` rows (or ``n_components`` is None); otherwise start
        from ``init`` with the new ``n_components``, as :class:`LMNN` does.
    max_iter : int, default=50
        Maximum number of L-BFGS iterations; with ``batch_size``, the maximum
        number of epochs.
    tol : float, default=1e-5
        L-BFGS stops when the largest gradient entry is ``<= tol`` or the
        relative decrease of the objective in an iteration is ``<= tol``
        (scipy's ``minimize(..., tol=tol)``, as in scikit-learn). With
        ``batch_size``, the minimum decrease of the epoch-mean objective
        ``-mean_i p_i`` that counts as progress (10 epochs of patience).
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every L-BFGS
        iteration (every epoch with ``batch_size``), with ``components`` the
        current ``L`` of shape ``(n_components, n_features)`` (a copy; the
        same signature in every shallowml estimator, where scikit-learn's NCA
        passes the flattened ``L``) and ``n_iter`` counted from 1. Returning
        True stops the fit early and keeps the result so far (no
        ``ConvergenceWarning``).
    verbose : int, default=0
        When > 0, print a table of objective value and time per function
        evaluation, and the training time.
    random_state : int, RandomState instance or None, default=None
        Seeds 'random' and 'pca' initialisations and the mini-batch order.
    batch_size : int, default=None
        None runs full-batch L-BFGS on the exact objective. An int runs the
        stochastic mode: mini-batch Adam where each step draws
        ``batch_size`` anchor samples ``i`` (an epoch visits every sample
        once as an anchor) and ``n_candidates`` candidate neighbours ``j``
        at random, and follows the gradient of the sampled objective
        ``-(1/b) sum_{i in batch} p_i^C`` where ``p_i^C`` is ``p_i``
        computed with the softmax of anchor ``i`` over the candidates ``C``
        only (minus ``i`` itself). A step costs
        ``O(batch_size * n_candidates * n_components)``, independent of
        ``n_samples``. Setting only ``batch_size`` (256 or 512) is meant to
        be enough: the defaults of ``learning_rate``, ``n_candidates`` and
        ``learning_rate_schedule`` come from a study
        (``benchmarks/nca_sgd_defaults.py``, results in
        ``docs/benchmark_results/nca_sgd_defaults.md``) on
        ``make_classification(30000, 50)`` (21000 training samples) and the
        UCI sets letter, pendigits, satimage and optdigits, where they
        reach full NCA's 3-NN error within one point for every seed and
        both batch sizes (e.g. 21000 x 50: 0.2451 and 0.2632 for two seeds
        against full NCA's 0.2546, in 3-8 % of its time); on a few thousand
        samples the stochastic mode is not much faster than full NCA.
    learning_rate : float, default=None
        Adam step size of the stochastic mode (``batch_size`` set), in the
        units of ``components_`` (standardise the features first); None
        means 0.01: of the study's grid (0.001, 0.003, 0.01) it met the
        target in the most cells with the cosine schedule, and fastest
        (0.001 was too slow: +1.7 to +2.3 points on 21000 x 50). Full-batch L-BFGS has no step size: a value given without
        ``batch_size`` is ignored with a ``UserWarning``.
    n_candidates : int, default=None
        Candidate neighbours per step in the stochastic mode, drawn
        uniformly without replacement from all samples, afresh at every
        step; None means ``min(n_samples, 1024)`` (2048 and 4096 cost two
        to four times as much per step, and with the default step size and
        schedule missed the target on 21000 x 50 for one seed: +1.5 and
        +4.7 points). With ``n_candidates >=
        n_samples`` each anchor's softmax runs over all samples: the step's
        gradient is then an unbiased estimate of the full gradient divided
        by ``n_samples``. With fewer, ``p_i^C`` is a ratio of two sums over
        a sample, so the estimate is biased (by ``O(1 / n_candidates)``,
        vanishing as ``n_candidates`` grows): it is the exact gradient of
        NCA on a random subsample of candidate neighbours, whose softmax is
        less sharp than over all ``n_samples`` points. Ignored with a
        ``UserWarning`` in full-batch mode (``batch_size=None``).
    learning_rate_schedule : {'constant', 'cosine'}, default=None
        Step size over the epochs of the stochastic mode. 'cosine' shrinks
        it from ``learning_rate`` at the first step towards 0 at epoch
        ``max_iter`` (half a cosine, per mini-batch), so the last epochs
        average out the sampling noise; 'constant' keeps ``learning_rate``.
        None means 'cosine': with a constant step of 0.01 the study's
        21000 x 50 problem ended 1.4 to 3.2 points above full NCA's 3-NN
        error. Ignored with a ``UserWarning`` without ``batch_size``.
    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned linear map ``L``.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_iter_ : int
        L-BFGS iterations (or epochs) actually run. scikit-learn's
        ``n_iter_`` counts one more (it also counts the start).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.
    random_state_ : numpy.random.RandomState
        The generator used by the last ``fit``.
    objective_ : float
        Final value of the objective ``sum_i p_i`` (full-batch mode) or of
        ``mean_i p_i`` (stochastic mode, epoch mean).

    See Also
    --------
    sklearn.neighbors.NeighborhoodComponentsAnalysis : the reference implementation.

    References
    ----------
    .. [1] J. Goldberger, S. Roweis, G. Hinton, R. Salakhutdinov,
       "Neighbourhood Components Analysis", NIPS 17, 513-520, 2004.
    .. [2] D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization",
       ICLR 2015 (stochastic mode).
    .. [3] Y. Bengio, J.-S. Senecal, "Adaptive importance sampling to
       accelerate training of a neural probabilistic language model", IEEE
       Trans. Neural Networks 19(4), 713-722, 2008 (a softmax over a sample
       of its terms, and the bias of that ratio estimate).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from shallowml import NCA
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X, y, stratify=y, test_size=0.7, random_state=42)
    >>> nca = NCA(random_state=42).fit(X_train, y_train)
    >>> knn = KNeighborsClassifier(n_neighbors=3).fit(nca.transform(X_train), y_train)
    >>> print(round(knn.score(nca.transform(X_test), y_test), 2))
    0.96
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "init": [StrOptions({"auto", "pca", "lda", "identity", "random"}), np.ndarray],
        "warm_start": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "callback": [callable, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_candidates": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "learning_rate_schedule": [StrOptions({"constant", "cosine"}), None],
    }

    def __init__(
        self,
        n_components=None,
        *,
        init="auto",
        warm_start=False,
        max_iter=50,
        tol=1e-5,
        callback=None,
        verbose=0,
        random_state=None,
        batch_size=None,
        learning_rate=None,
        n_candidates=None,
        learning_rate_schedule=None,
    ):
        self.n_components = n_components
        self.init = init
        self.warm_start = warm_start
        self.max_iter = max_iter
        self.tol = tol
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_candidates = n_candidates
        self.learning_rate_schedule = learning_rate_schedule

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit NCA on ``X`` with class labels ``y``.

        With a single class, or only single-sample classes, the objective
        does not depend on ``L``: the fit keeps the initial map, with a
        ``UserWarning`` (as scikit-learn's NCA).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        X, y_codes, counts = self._validate_classes(X, y, allow_trivial=True)
        name = type(self).__name__
        if np.all(X == X[0]):
            raise ValueError(
                "X has zero variance in every feature (all samples identical); "
                "no metric can be learned."
            )
        n_features = X.shape[1]
        self.random_state_ = check_random_state(self.random_state)
        L0 = self._initial_components(X, y_codes)
        if counts.size < 2 or counts.max() < 2:
            # p_i is 1 for every sample (one class) or 0 (only single-sample classes)
            # whatever L: the objective is constant, as in scikit-learn's NCA
            warnings.warn(
                f"{name}: {'y has a single class' if counts.size < 2 else 'every class has a single sample'}; "
                "the NCA objective does not depend on the metric, so components_ is the initial map.",
                UserWarning,
                stacklevel=2,
            )
            self.components_ = L0
            self.n_iter_ = 0
            self.objective_ = -nca_loss_grad(L0.ravel(), X, y_codes)[0]
            return self
        # data beyond 2**64 is learned on X / 2**e with the map L * 2**e (the same
        # distances and objective): the raw gradients, about |X|**2, overflow L-BFGS.
        # Centred: distances are unchanged, and constant features get exactly zero
        # gradient, where sums of products leave round-off for L-BFGS to amplify.
        e = downscale_exponent(X)
        X, L0 = np.ldexp(X, -e), np.ldexp(L0, e)
        X = X - column_means(X)
        if self.batch_size is None:
            warn_unused_parameters(self, {
                "learning_rate": "without batch_size (full-batch L-BFGS has no step size; set batch_size for Adam)",
                "n_candidates": "without batch_size (full-batch L-BFGS uses the exact softmax over all "
                                "samples; set batch_size for the stochastic mode)",
                "learning_rate_schedule": "without batch_size (full-batch L-BFGS has no step size; "
                                          "set batch_size for Adam)",
            })
        # one BLAS thread: the block products run between the parallel numba kernels, and
        # idle OpenBLAS threads spinning beside them slow the kernels down (utils.threads)
        with single_threaded_blas():
            if self.batch_size is None:
                result = self._fit_lbfgs(X, y_codes, L0, e)
            else:
                result = self._fit_minibatch(X, y_codes, L0, e)
        self.objective_ = -result.fun
        self.components_ = np.ldexp(result.x.reshape(-1, n_features), -e)
        self.n_iter_ = result.n_iter
        result.warn_if_not_converged(type(self).__name__)
        return self

    def _initial_components(self, X, y_codes):
        """The checked starting ``L``: previous components, the init array, or built by ``init``."""
        n_features = X.shape[1]
        resolve_n_components(self.n_components, n_features)
        if self.warm_start and hasattr(self, "components_"):
            if self.components_.shape[1] != n_features:
                raise ValueError(
                    f"warm_start: X has {n_features} features but the previous components_ "
                    f"were fitted with {self.components_.shape[1]}."
                )
            # as LMNN: the previous map is the start only when it has the requested shape
            if self.n_components is None or self.n_components == self.components_.shape[0]:
                return np.array(self.components_, dtype=np.float64, copy=True)
        if isinstance(self.init, np.ndarray):
            init = self.init
            if init.ndim != 2 or init.shape[1] != n_features:
                raise ValueError(
                    f"The init array has shape {init.shape}; it needs {n_features} columns "
                    "(one per feature)."
                )
            if init.shape[0] > n_features:
                raise ValueError(
                    f"The init array has {init.shape[0]} rows; at most n_features "
                    f"({n_features}) are allowed."
                )
            if self.n_components is not None and self.n_components != init.shape[0]:
                raise ValueError(
                    f"n_components={self.n_components} does not match the {init.shape[0]} rows "
                    "of the init array."
                )
            n_components = init.shape[0]
        else:
            n_components = self.n_components or n_features
        # scikit-learn's NCA verbose lines for the initialisations that take time
        named = resolve_init(self.init, int(n_components), X, y_codes) if isinstance(self.init, str) else None
        say = self.verbose and named in ("pca", "lda")
        if say:
            text = "Finding principal components" if named == "pca" else "Finding most discriminative components"
            print(f"{text}... ", end="")  # no prefix, exactly as scikit-learn prints it
            sys.stdout.flush()
            t0 = time.perf_counter()
        init = self.init if named is None else named
        L0 = initial_components(init, X, y_codes, int(n_components), random_state=self.random_state_)
        if say:
            print(f"done in {time.perf_counter() - t0:5.2f}s")
        return L0

    def _fit_lbfgs(self, X, y_codes, L0, e):
        name = type(self).__name__
        tol = float(self.tol)
        last = {"x": None, "f": None, "prev": None, "n_iter": 0}
        # scikit-learn's table: one row per function evaluation, numbered by iteration
        table = ProgressTable(name, [("Iteration", 10, "d"), ("Objective Value", 20, ".6e")],
                              enabled=self.verbose)
        table.start()

        def fun(x):
            loss, grad = nca_loss_grad(x, X, y_codes)
            last["x"], last["f"] = x.copy(), loss
            if last["prev"] is None:  # the first evaluation is at the starting point
                last["prev"] = loss
            table.row(last["n_iter"] + 1, -loss)
            return loss, grad

        user = user_callback(self.callback, lambda x: np.ldexp(x.reshape(L0.shape), -e))

        def callback(x, n_iter):
            last["n_iter"] = n_iter
            if user is not None and user(x, n_iter):
                return True
            # scipy's ``tol`` also sets ftol = tol for L-BFGS-B: stop on a small
            # relative decrease, measured at the accepted iterate
            if last["x"] is None or not np.array_equal(last["x"], x):
                return
            f_new, f_old = last["f"], last["prev"]
            last["prev"] = f_new
            if f_old is not None and f_old - f_new <= tol * max(abs(f_old), abs(f_new), 1.0):
                raise StopIteration

        result = minimize_lbfgs(fun, np.ravel(L0), max_iter=self.max_iter, tol=tol, callback=callback)
        table.finish()
        return result

    def _fit_minibatch(self, X, y_codes, L0, e):
        n = X.shape[0]
        batch_size = min(int(self.batch_size), n)
        n_candidates = min(n, _DEFAULT_CANDIDATES if self.n_candidates is None else int(self.n_candidates))
        learning_rate = _DEFAULT_LEARNING_RATE if self.learning_rate is None else float(self.learning_rate)
        rng = self.random_state_

        def fun(x, idx):
            idx = np.sort(idx)
            if n_candidates >= n:  # exact softmax over all samples
                return nca_loss_grad(x, X, y_codes, anchors=idx, scale=1.0 / idx.size)
            candidates = rng.choice(n, size=n_candidates, replace=False)
            return nca_loss_grad(x, X, y_codes, anchors=idx, candidates=candidates, scale=1.0 / idx.size)

        result = minimize_adam(
            fun, np.ravel(L0), n, random_state=rng, batch_size=batch_size,
            max_iter=self.max_iter, tol=self.tol,
            learning_rate=learning_rate,
            schedule=_DEFAULT_SCHEDULE if self.learning_rate_schedule is None else self.learning_rate_schedule,
            verbose=self.verbose, name=type(self).__name__,
            callback=user_callback(self.callback, lambda x: np.ldexp(x.reshape(L0.shape), -e)),
        )
        return result

