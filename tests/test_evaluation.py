"""Few-shot episodes on unseen classes and class-disjoint splits."""

import doctest
import re
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import shallowml.evaluation as E
from shallowml import LDA
from shallowml.evaluation import class_disjoint_split, few_shot_accuracy, few_shot_episodes


# ------------------------------------------------------------ class-disjoint split
def test_class_disjoint_split_fraction_count_and_labels():
    y = np.repeat(np.arange(7), [3, 1, 4, 2, 5, 2, 3])
    for test_classes, n_test in [(0.5, 4), (0.1, 1), (3, 3), (6, 6)]:
        train, test = class_disjoint_split(y, test_classes=test_classes, random_state=1)
        assert np.intersect1d(y[train], y[test]).size == 0
        assert np.unique(y[test]).size == n_test
        assert np.array_equal(np.sort(np.r_[train, test]), np.arange(y.size))
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    a = class_disjoint_split(y, test_classes=3, random_state=5)
    b = class_disjoint_split(y, test_classes=3, random_state=5)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    draws = {tuple(np.unique(y[class_disjoint_split(y, test_classes=3, random_state=s)[1]])) for s in range(30)}
    assert len(draws) > 5  # the seed matters
    labels = np.array(["cat", "dog", "eel", "cat"])
    train, test = class_disjoint_split(labels, test_classes=["dog"])
    assert train.tolist() == [0, 2, 3] and test.tolist() == [1]


@pytest.mark.parametrize("kw, message", [
    ({"test_classes": 1.0}, "test_classes as a fraction must be in (0, 1), got 1.0"),
    ({"test_classes": 0.9}, "test_classes=0.9 leaves no training class among 3; use a smaller fraction"),
    ({"test_classes": 3}, "test_classes as a number of classes must be in [1, 2] (y has 3 classes), got 3"),
    ({"test_classes": 0}, "test_classes as a number of classes must be in [1, 2] (y has 3 classes), got 0"),
    ({"test_classes": [5]}, "test_classes holds labels that are not in y: [5]"),
    ({"test_classes": [0, 1, 2]}, "test_classes must leave at least one class on each side; got 3 of the 3"),
])
def test_class_disjoint_split_errors(kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        class_disjoint_split([0, 1, 2, 0], **kw)
    with pytest.raises(ValueError, match="needs at least 2 classes in y, got 1"):
        class_disjoint_split([4, 4, 4])


# ------------------------------------------------------------------- episodes
def test_episodes_are_valid_draws():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 12, size=400)
    y[y == 11] = 10  # class 11 absent
    support, query = few_shot_episodes(y, n_way=5, k_shot=3, n_query=4, n_episodes=200, random_state=0)
    assert support.shape == (200, 5, 3) and query.shape == (200, 5, 4)
    both = np.concatenate([support, query], axis=2)
    for e in range(200):
        assert np.unique(both[e]).size == 35  # distinct samples
        labels = y[both[e]]
        assert np.all(labels == labels[:, :1])  # one class per row
        assert np.unique(labels[:, 0]).size == 5  # distinct classes


def test_episodes_are_uniform():
    y = np.repeat(np.arange(10), 20)
    support, query = few_shot_episodes(y, n_way=5, k_shot=1, n_query=4, n_episodes=4000, random_state=0)
    per_class = np.bincount(y[support[:, :, 0]].ravel(), minlength=10)
    # each class is in an episode with probability 1/2: 2000 +- 32
    assert np.all(np.abs(per_class - 2000) < 5 * 32), per_class
    per_sample = np.bincount(np.concatenate([support, query], axis=2).ravel(), minlength=200)
    # each sample: 4000 * 1/2 * 5/20 = 500 +- 21
    assert np.all(np.abs(per_sample - 500) < 5 * 21), per_sample.min()
    # the support is a uniform draw among the drawn samples, not always the first member
    assert np.unique(support).size == 200


def test_episodes_are_deterministic_and_independent_of_chunking(monkeypatch):
    y = np.repeat(np.arange(8), 30)
    a = few_shot_episodes(y, n_episodes=50, random_state=3)
    monkeypatch.setattr(E, "_CHUNK_ELEMENTS", 5 * 30 * 3)  # 3 episodes per chunk
    b = few_shot_episodes(y, n_episodes=50, random_state=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = few_shot_episodes(y, n_episodes=50, random_state=4)
    assert not np.array_equal(a[0], c[0])


def test_small_classes_are_left_out_with_a_warning():
    y = np.r_[np.repeat(np.arange(6), 10), [6, 6, 7]]
    with pytest.warns(UserWarning, match=re.escape("2 of 8 classes have fewer than k_shot + n_query = 6 samples "
                                                   "and are never drawn: [6, 7]")):
        support, _ = few_shot_episodes(y, n_way=3, k_shot=1, n_query=5, n_episodes=100, random_state=0)
    assert y[support].max() <= 5
    with pytest.raises(ValueError, match=re.escape("few-shot episodes need n_way=3 classes with at least "
                                                   "k_shot + n_query = 11 samples each; y has 0 such classes (of 8)")):
        few_shot_episodes(y, n_way=3, k_shot=1, n_query=10)


@pytest.mark.parametrize("kw, message", [
    ({"n_way": 1}, "n_way must be an integer >= 2, got 1"),
    ({"k_shot": 0}, "k_shot must be an integer >= 1, got 0"),
    ({"n_query": 2.5}, "n_query must be an integer >= 1, got 2.5"),
    ({"n_episodes": True}, "n_episodes must be an integer >= 1, got True"),
    ({"classifier": "knn"}, "classifier must be one of ['prototype', '1nn'], got 'knn'"),
])
def test_few_shot_errors(kw, message):
    X = np.zeros((40, 2))
    y = np.repeat(np.arange(4), 10)
    with pytest.raises(ValueError, match=re.escape(message)):
        few_shot_accuracy(None, X, y, **{"n_way": 2, "n_query": 3, **kw})


# ------------------------------------------------------------------- accuracy
def test_hand_computed_episode():
    # classes A (rows 0-3), B (4-7), C (8-11); seed 0 draws A then C, support A {1, 3}, C {10, 11},
    # queries A {0, 2}, C {8, 9} (RandomState streams are stable across numpy versions)
    y = np.array(list("AAAABBBBCCCC"))
    support, query = few_shot_episodes(y, n_way=2, k_shot=2, n_query=2, n_episodes=1, random_state=0)
    assert support.tolist() == [[[1, 3], [10, 11]]] and query.tolist() == [[[0, 2], [8, 9]]]
    X = np.array([0.0, 1.0, 6.8, 7.0, 100, 101, 102, 103, 6.0, 9.5, 8.0, 10.0])[:, None]
    # prototypes: A (1 + 7) / 2 = 4, C (8 + 10) / 2 = 9
    # query 0.0 (A): |0-4| < |0-9| right; 6.8 (A): |6.8-4| = 2.8 > |6.8-9| = 2.2 wrong;
    # 6.0 (C): 2.0 < 3.0, to A: wrong; 9.5 (C): right  ->  2 / 4
    mean, ci = few_shot_accuracy(None, X, y, n_way=2, k_shot=2, n_query=2, n_episodes=1, random_state=0)
    assert mean == 0.5 and np.isnan(ci)
    # nearest support sample: 6.8 is 0.2 from 7.0 (A): right; 6.0 is 1.0 from 7.0 (A): wrong  ->  3 / 4
    mean, _ = few_shot_accuracy(None, X, y, n_way=2, k_shot=2, n_query=2, n_episodes=1, classifier="1nn",
                                random_state=0)
    assert mean == 0.75
    # through an estimator: distances in its output space (x -> -3x changes nothing here)
    flip = FunctionTransformer(lambda Z: -3 * Z).fit(X)
    assert few_shot_accuracy(flip, X, y, n_way=2, k_shot=2, n_query=2, n_episodes=1, random_state=0)[0] == 0.5


def _loop_accuracies(Z, support, query, classifier):
    acc = []
    for s, q in zip(support, query):
        correct = 0
        for true_c, queries in enumerate(q):
            for i in queries:
                if classifier == "prototype":
                    d = [np.sum((Z[i] - Z[s[c]].mean(axis=0)) ** 2) for c in range(len(s))]
                    pred = int(np.argmin(d))
                else:
                    d = [np.sum((Z[i] - Z[j]) ** 2) for row in s for j in row]
                    pred = int(np.argmin(d)) // s.shape[1]
                correct += pred == true_c
        acc.append(correct / q.size)
    return np.array(acc)


@pytest.mark.parametrize("classifier", ["prototype", "1nn"])
@pytest.mark.parametrize("k_shot", [1, 3])
def test_accuracy_matches_a_loop_over_episodes(classifier, k_shot, monkeypatch):
    rng = np.random.RandomState(1)
    y = rng.randint(0, 7, size=300)
    X = rng.standard_normal((300, 3)) + 0.6 * y[:, None]
    est = make_pipeline(StandardScaler(), LDA(n_components=2)).fit(X, y)
    support, query = few_shot_episodes(y, n_way=4, k_shot=k_shot, n_query=5, n_episodes=40, random_state=2)
    acc = _loop_accuracies(est.transform(X), support, query, classifier)
    monkeypatch.setattr(E, "_CHUNK_ELEMENTS", 1000)  # several chunks of episodes
    mean, ci = few_shot_accuracy(est, X, y, n_way=4, k_shot=k_shot, n_query=5, n_episodes=40,
                                 classifier=classifier, random_state=2)
    assert mean == pytest.approx(acc.mean(), abs=1e-12)
    assert ci == pytest.approx(1.96 * acc.std(ddof=1) / np.sqrt(40), abs=1e-12)


def test_ties_go_to_the_class_drawn_first():
    Z = np.array([[-1.0], [1.0], [0.0], [0.0]])
    support = np.array([[[0], [1]], [[1], [0]]])  # episode 2 draws the classes in the other order
    query = np.array([[[2], [3]], [[3], [2]]])
    acc = E._episode_accuracies(Z, support, query, "prototype")
    assert acc.tolist() == [0.5, 0.5]  # each query equidistant: the first class wins
    assert E._episode_accuracies(Z, support, query, "1nn").tolist() == [0.5, 0.5]
    assert E._episode_accuracies(Z + [[0.0], [0.0], [-0.1], [0.1]], support, query, "1nn").tolist() == [1.0, 1.0]


def test_one_shot_1nn_equals_prototype_and_learning_helps_on_digits():
    X, y = load_digits(return_X_y=True)
    seen = y < 5
    kw = dict(n_way=5, k_shot=1, n_episodes=600, random_state=0)
    t0 = time.perf_counter()
    proto = few_shot_accuracy(None, X[~seen], y[~seen], **kw)
    elapsed = time.perf_counter() - t0
    assert proto == few_shot_accuracy(None, X[~seen], y[~seen], classifier="1nn", **kw)
    assert 0.6 < proto[0] < 0.85 and 0 < proto[1] < 0.02
    five = few_shot_accuracy(None, X[~seen], y[~seen], **{**kw, "k_shot": 5})
    assert five[0] > proto[0] + 0.1
    assert elapsed < 5.0  # vectorised (about 0.1 s); a loop in Python over episodes is many times slower


def test_estimator_checks():
    X = np.zeros((20, 2))
    y = np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match=re.escape("few_shot_accuracy needs a fitted transformer (a metric learner "
                                                   "or a Pipeline ending in one) or None, got KNeighborsClassifier")):
        from sklearn.neighbors import KNeighborsClassifier

        few_shot_accuracy(KNeighborsClassifier(), X, y)
    with pytest.raises(ValueError, match="y has 19 labels but X has 20 rows"):
        few_shot_accuracy(None, X, y[:-1], n_way=2, n_query=2)


def test_docstring_examples_run():
    assert doctest.testmod(E, raise_on_error=False).failed == 0
