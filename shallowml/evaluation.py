"""Few-shot evaluation on classes never seen in training, and class-disjoint splits.

A metric is learned on some classes and judged on others: each *episode*
draws ``n_way`` unseen classes, ``k_shot`` labelled *support* samples and
``n_query`` *query* samples of each, and classifies the queries in the
learned space, either by the nearest class mean of the support samples
(the prototypes of Snell et al. 2017) or by the nearest support sample
(one-shot verification by nearest neighbour, Koch et al. 2015). The mean
accuracy over many episodes, with a 95% confidence interval, is the
standard few-shot figure.
"""

import numbers
import warnings

import numpy as np
from sklearn.utils import check_array, check_random_state, column_or_1d

__all__ = ["class_disjoint_split", "few_shot_accuracy", "few_shot_episodes"]

# elements of the temporary arrays of one chunk of episodes (float64: 32 MB)
_CHUNK_ELEMENTS = 1 << 22
_CLASSIFIERS = ("prototype", "1nn")


def _check_positive_int(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def class_disjoint_split(y, *, test_classes=0.5, random_state=None):
    """Split sample indices so that train and test share no class.

    The usual protocol for unseen classes: learn the metric on the
    training classes, evaluate (e.g. with :func:`few_shot_accuracy`) on the
    others. (For repeated splits inside scikit-learn's model selection,
    :class:`~sklearn.model_selection.GroupShuffleSplit` with
    ``groups=y`` draws class-disjoint splits too.)

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    test_classes : float, int or array-like, default=0.5
        Which classes go to the test part: a float in (0, 1) is the fraction
        of the classes (rounded up), an int their number, an array-like the
        labels themselves. Either part gets at least one class.
    random_state : int, RandomState instance or None, default=None
        Draws the test classes when they are not given explicitly.

    Returns
    -------
    train_index : ndarray of int
        Indices of the samples of the training classes, ascending.
    test_index : ndarray of int
        Indices of the samples of the test classes, ascending.

    See Also
    --------
    few_shot_accuracy

    Examples
    --------
    >>> from shallowml.evaluation import class_disjoint_split
    >>> y = [0, 1, 2, 3, 0, 1, 2, 3]
    >>> train, test = class_disjoint_split(y, test_classes=[1, 3])
    >>> train.tolist(), test.tolist()
    ([0, 2, 4, 6], [1, 3, 5, 7])
    >>> train, test = class_disjoint_split(y, test_classes=2, random_state=0)
    >>> sorted({y[i] for i in test})
    [2, 3]
    """
    y = column_or_1d(y, warn=False)
    classes = np.unique(y)
    n = classes.size
    if n < 2:
        raise ValueError(f"class_disjoint_split needs at least 2 classes in y, got {n}.")
    if isinstance(test_classes, numbers.Real) and not isinstance(test_classes, numbers.Integral):
        if not 0.0 < test_classes < 1.0:
            raise ValueError(f"test_classes as a fraction must be in (0, 1), got {test_classes!r}.")
        n_test = int(np.ceil(test_classes * n))
        if n_test >= n:
            raise ValueError(f"test_classes={test_classes!r} leaves no training class among {n}; "
                             "use a smaller fraction.")
        chosen = classes[check_random_state(random_state).permutation(n)[:n_test]]
    elif isinstance(test_classes, numbers.Integral) and not isinstance(test_classes, (bool, np.bool_)):
        if not 1 <= test_classes < n:
            raise ValueError(f"test_classes as a number of classes must be in [1, {n - 1}] (y has {n} "
                             f"classes), got {test_classes!r}.")
        chosen = classes[check_random_state(random_state).permutation(n)[:int(test_classes)]]
    else:
        chosen = np.unique(column_or_1d(np.asarray(test_classes), warn=False))
        missing = np.setdiff1d(chosen, classes)
        if missing.size:
            raise ValueError(f"test_classes holds labels that are not in y: {missing.tolist()}.")
        if chosen.size == 0 or chosen.size == n:
            raise ValueError(f"test_classes must leave at least one class on each side; got {chosen.size} "
                             f"of the {n} classes.")
    test = np.isin(y, chosen)
    return np.flatnonzero(~test), np.flatnonzero(test)


def _check_episode_params(n_way, k_shot, n_query, n_episodes):
    return (_check_positive_int(n_way, "n_way", 2), _check_positive_int(k_shot, "k_shot"),
            _check_positive_int(n_query, "n_query"), _check_positive_int(n_episodes, "n_episodes"))


def few_shot_episodes(y, *, n_way=5, k_shot=1, n_query=15, n_episodes=600, random_state=None):
    """Draw few-shot episodes: classes, support and query samples.

    Each episode draws ``n_way`` distinct classes among those with at least
    ``k_shot + n_query`` samples (classes with fewer are never drawn, with
    a warning), then ``k_shot + n_query`` distinct samples of each class:
    the first ``k_shot`` are the support, the rest the queries. Every draw
    is uniform and the whole batch is vectorised.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of the evaluation data (classes unseen in training).
    n_way : int, default=5
        Classes per episode (at least 2).
    k_shot : int, default=1
        Support samples per class.
    n_query : int, default=15
        Query samples per class.
    n_episodes : int, default=600
        Number of episodes.
    random_state : int, RandomState instance or None, default=None
        The same seed draws the same episodes.

    Returns
    -------
    support : ndarray of shape (n_episodes, n_way, k_shot), int
        Sample indices; ``support[e, c]`` are the support samples of the
        episode's ``c``-th class.
    query : ndarray of shape (n_episodes, n_way, n_query), int
        Sample indices of the queries, ``query[e, c]`` of the same class as
        ``support[e, c]``.

    See Also
    --------
    few_shot_accuracy

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.evaluation import few_shot_episodes
    >>> y = np.repeat([0, 1, 2], 4)
    >>> support, query = few_shot_episodes(y, n_way=2, k_shot=1, n_query=2, n_episodes=3, random_state=0)
    >>> support.shape, query.shape
    ((3, 2, 1), (3, 2, 2))
    >>> bool(np.all(y[support] == y[query][:, :, :1]))
    True
    """
    n_way, k_shot, n_query, n_episodes = _check_episode_params(n_way, k_shot, n_query, n_episodes)
    y = column_or_1d(y, warn=False)
    classes, codes = np.unique(y, return_inverse=True)
    counts = np.bincount(codes, minlength=classes.size)
    per_class = k_shot + n_query
    eligible = np.flatnonzero(counts >= per_class)
    if eligible.size < n_way:
        raise ValueError(
            f"few-shot episodes need n_way={n_way} classes with at least k_shot + n_query = {per_class} "
            f"samples each; y has {eligible.size} such classes (of {classes.size}). "
            "Lower n_way, k_shot or n_query, or evaluate on more classes."
        )
    if eligible.size < classes.size:
        small = classes[counts < per_class]
        warnings.warn(
            f"{small.size} of {classes.size} classes have fewer than k_shot + n_query = {per_class} samples "
            f"and are never drawn: {small[:10].tolist()}{' ...' if small.size > 10 else ''}.",
            UserWarning, stacklevel=2,
        )
    rng = check_random_state(random_state)
    # members[c] = the sample indices of eligible class c, padded with -1
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    size = counts[eligible]
    width = int(size.max())
    members = np.full((eligible.size, width), -1, dtype=np.int64)
    for row, c in enumerate(eligible):
        members[row, : size[row]] = order[starts[c] : starts[c + 1]]
    # classes: the first n_way of a random permutation of the eligible classes, per episode
    picked = np.argsort(rng.random_sample((n_episodes, eligible.size)), axis=1)[:, :n_way]
    # samples: the per_class smallest of uniform keys over each class's members (padding keyed last);
    # drawn in chunks of episodes, which consumes the random stream as one draw would
    out = np.empty((n_episodes, n_way, per_class), dtype=np.int64)
    chunk = max(1, _CHUNK_ELEMENTS // (n_way * width))
    for e0 in range(0, n_episodes, chunk):
        e1 = min(n_episodes, e0 + chunk)
        keys = rng.random_sample((e1 - e0, n_way, width))
        cls = picked[e0:e1]
        keys[np.arange(width) >= size[cls][..., None]] = 2.0
        pos = np.argsort(keys, axis=2, kind="stable")[:, :, :per_class]
        out[e0:e1] = np.take_along_axis(members[cls], pos, axis=2)
    return out[:, :, :k_shot], out[:, :, k_shot:]


def _episode_accuracies(Z, support, query, classifier):
    """Accuracy of each episode: queries to the nearest prototype or support sample (squared distances)."""
    n_episodes, n_way, k_shot = support.shape
    n_query = query.shape[2]
    truth = np.repeat(np.arange(n_way), n_query)
    n_centres = n_way if classifier == "prototype" else n_way * k_shot
    acc = np.empty(n_episodes)
    chunk = max(1, _CHUNK_ELEMENTS // (n_way * n_query * n_centres * max(Z.shape[1], 1)))
    for e0 in range(0, n_episodes, chunk):
        e1 = min(n_episodes, e0 + chunk)
        S = Z[support[e0:e1]]  # (e, n_way, k_shot, d)
        centres = S.mean(axis=2) if classifier == "prototype" else S.reshape(e1 - e0, n_centres, -1)
        Q = Z[query[e0:e1]].reshape(e1 - e0, n_way * n_query, -1)
        diff = Q[:, :, None, :] - centres[:, None, :, :]
        d2 = np.einsum("eqcf,eqcf->eqc", diff, diff)
        pred = np.argmin(d2, axis=2)  # ties: the first centre, i.e. the earlier class of the episode
        if classifier == "1nn":
            pred //= k_shot
        acc[e0:e1] = np.mean(pred == truth, axis=1)
    return acc


def few_shot_accuracy(estimator, X, y, *, n_way=5, k_shot=1, n_query=15, n_episodes=600,
                      classifier="prototype", random_state=None):
    """Mean few-shot accuracy over random episodes, with its 95% confidence interval.

    ``X`` is embedded once with ``estimator.transform``; each episode of
    :func:`few_shot_episodes` then classifies its ``n_way * n_query``
    queries among its ``n_way`` classes, using only the ``k_shot`` support
    samples per class:

    * ``classifier='prototype'``: the nearest class mean of the support
      embeddings (Snell et al. 2017);
    * ``classifier='1nn'``: the class of the nearest support sample (Koch et
      al. 2015; the same as 'prototype' when ``k_shot=1``).

    Distances are Euclidean in the embedding; a tie goes to the class drawn
    first in the episode (for '1nn', the first support sample in episode
    order).

    Parameters
    ----------
    estimator : fitted transformer or None
        A fitted metric learner, or a fitted
        :class:`~sklearn.pipeline.Pipeline` ending in one; it should not
        have seen the classes of ``y``. ``None`` evaluates ``X`` as it is
        (the Euclidean baseline).
    X : array-like of shape (n_samples, n_features)
        Samples of the evaluation classes.
    y : array-like of shape (n_samples,)
        Their labels.
    n_way : int, default=5
        Classes per episode (at least 2).
    k_shot : int, default=1
        Support samples per class.
    n_query : int, default=15
        Query samples per class.
    n_episodes : int, default=600
        Number of episodes.
    classifier : {'prototype', '1nn'}, default='prototype'
        How queries are classified.
    random_state : int, RandomState instance or None, default=None
        Seed of the episodes: the same seed draws the same episodes, so two
        estimators compared with one seed face the same tasks.

    Returns
    -------
    mean : float
        Mean accuracy over the episodes.
    ci95 : float
        Half-width of the 95% confidence interval of the mean,
        ``1.96 * std / sqrt(n_episodes)`` with the sample standard
        deviation (``ddof=1``) of the episode accuracies; NaN for a single
        episode.

    See Also
    --------
    class_disjoint_split, few_shot_episodes

    References
    ----------
    G. Koch, R. Zemel and R. Salakhutdinov, "Siamese neural networks for
    one-shot image recognition", ICML Deep Learning Workshop, 2015.
    J. Snell, K. Swersky and R. Zemel, "Prototypical networks for few-shot
    learning", NeurIPS 2017.

    Examples
    --------
    Learn a metric on the digits 0-4, recognise 5-9 from one example each
    (5-way 1-shot), against the Euclidean distance on the same episodes:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from shallowml import LFDA
    >>> from shallowml.evaluation import few_shot_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> seen = y < 5
    >>> model = make_pipeline(StandardScaler(), LFDA()).fit(X[seen], y[seen])
    >>> mean, ci95 = few_shot_accuracy(model, X[~seen], y[~seen], random_state=0)
    >>> print(f"{mean:.3f} +- {ci95:.3f}")
    0.558 +- 0.008
    >>> mean, ci95 = few_shot_accuracy(None, X[~seen], y[~seen], random_state=0)
    >>> print(f"{mean:.3f} +- {ci95:.3f}")
    0.723 +- 0.007

    A metric fitted to separate the seen classes need not transfer to new
    ones: here it does worse than the raw pixels.
    """
    if classifier not in _CLASSIFIERS:
        raise ValueError(f"classifier must be one of {list(_CLASSIFIERS)}, got {classifier!r}.")
    _check_episode_params(n_way, k_shot, n_query, n_episodes)
    y = column_or_1d(y, warn=False)
    if estimator is None:
        Z = check_array(X, dtype=np.float64, input_name="X")
    else:
        if not hasattr(estimator, "transform"):
            raise ValueError(f"few_shot_accuracy needs a fitted transformer (a metric learner or a Pipeline "
                             f"ending in one) or None, got {type(estimator).__name__} without transform.")
        Z = check_array(estimator.transform(X), dtype=np.float64, input_name="transformed X")
    if Z.shape[0] != y.shape[0]:
        raise ValueError(f"y has {y.shape[0]} labels but X has {Z.shape[0]} rows; give one label per row.")
    support, query = few_shot_episodes(y, n_way=n_way, k_shot=k_shot, n_query=n_query,
                                       n_episodes=n_episodes, random_state=random_state)
    acc = _episode_accuracies(Z, support, query, classifier)
    mean = float(acc.mean())
    ci95 = float(1.96 * acc.std(ddof=1) / np.sqrt(acc.size)) if acc.size > 1 else float("nan")
    return mean, ci95
