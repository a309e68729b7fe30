"""Every docstring example in the package runs and prints what it shows (numpydoc Examples)."""

import doctest
import importlib
import pkgutil

import pytest

import shallowml

# __main__ runs the demo when imported
MODULES = sorted(m.name for m in pkgutil.walk_packages(shallowml.__path__, "shallowml.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run pytest --doctest-modules {name.replace('.', '/')}.py)"
