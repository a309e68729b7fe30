"""Dataset loading for benchmarks: scikit-learn's bundled sets and the local UCI copies.

UCI files live in ``$SHALLOWML_DATA`` (default ``../shared/uci`` beside the
repository); nothing is downloaded.
"""

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

BUNDLED = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}

UCI = (
    "balance-scale", "ionosphere", "sonar", "glass", "vowel", "segmentation", "vehicle", "ecoli",
    "yeast", "wdbc", "pendigits", "satimage", "letter", "optdigits", "waveform-21", "spambase",
    "pima-diabetes", "soybean-small",
)


def data_folder(folder=None):
    """The UCI folder: ``folder``, else ``$SHALLOWML_DATA`` when set, else ../shared/uci.

    Returns None when that folder holds no ``*.csv.gz``. A given folder or a
    set ``$SHALLOWML_DATA`` is never silently replaced by the default, so a
    typo in either is reported, not hidden.
    """
    if not folder:
        default = Path(__file__).resolve().parent.parent.parent / "shared" / "uci"
        folder = os.environ.get("SHALLOWML_DATA") or default
    path = Path(folder)
    return path.resolve() if path.is_dir() and any(path.glob("*.csv.gz")) else None


def _read_csv_gz(path):
    with gzip.open(path, "rt") as fh:
        header = fh.readline().strip().split(",")
        rows = [line.rstrip("\n").split(",") for line in fh if line.strip()]
    n_feat = len(header) - 1
    X = np.array([[float(v) for v in r[:n_feat]] for r in rows])
    y = np.array([r[n_feat] for r in rows])
    return X, y


def load_uci(name, folder=None):
    """Return ``(X_train, y_train, X_test, y_test)`` for an official split, else ``(X, y, None, None)``.

    Raises FileNotFoundError (with the folder searched) when the data is absent.
    """
    root = data_folder(folder)
    if root is None:
        raise FileNotFoundError("UCI data folder not found; set SHALLOWML_DATA or pass --data")
    single = root / f"{name}.csv.gz"
    if single.exists():
        X, y = _read_csv_gz(single)
        return X, y, None, None
    train, test = root / f"{name}.train.csv.gz", root / f"{name}.test.csv.gz"
    if train.exists() and test.exists():
        return (*_read_csv_gz(train), *_read_csv_gz(test))
    raise FileNotFoundError(f"dataset {name!r} not found in {root}")


def load(name, folder=None):
    """Like :func:`load_uci`, also for the bundled scikit-learn sets (no official split)."""
    if name in BUNDLED:
        X, y = BUNDLED[name](return_X_y=True)
        return X.astype(np.float64), y, None, None
    return load_uci(name, folder)
