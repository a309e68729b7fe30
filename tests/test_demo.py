"""The command line: ``python -m shallowml``."""

import pytest

import shallowml
from shallowml import _demo


def test_unknown_estimator_is_an_error_listing_the_valid_names(capsys):
    with pytest.raises(SystemExit) as exc:
        _demo.main(["--estimators", "lmnn"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown estimators: lmnn (names are case-sensitive)" in err
    valid = err.split("valid: ")[1]
    assert {"LMNN", "ITML_Supervised", "NCA"} <= {name.strip() for name in valid.split(",")}


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        _demo.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"shallowml {shallowml.__version__}"


def test_table_with_one_estimator(capsys):
    _demo.main(["--datasets", "iris", "--estimators", "LDA"])
    out = capsys.readouterr().out
    assert "| dataset | Euclidean | LDA |" in out
    assert "| iris |" in out


def test_pair_learner_names_are_accepted():
    assert {"ITML", "ITML_Supervised", "LinearSiamese", "LinearSiamese_Supervised"} <= set(_demo.estimator_names())
