"""Sphinx configuration for the shallowml documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API reference of the public estimators is generated from
``shallowml.__all__`` at build time (``docs/generated/``, not tracked), so a
newly registered estimator is documented without editing these files.
Nothing is fetched from the network (no intersphinx).
"""

import inspect
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout, also for `benchmarks`

import shallowml  # noqa: E402

project = "shallowml"
author = "the shallowml developers"
copyright = "2026, the shallowml developers"
version = release = shallowml.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "generated/_*.rst", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
templates_path = []
default_role = "literal"
root_doc = "index"

# --- API reference --------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True


def _public_names():
    """(name, kind) for every public object in ``shallowml.__all__``."""
    out = []
    for name in sorted(shallowml.__all__):
        obj = getattr(shallowml, name)
        if inspect.isclass(obj):
            out.append((name, "class"))
        elif callable(obj):
            out.append((name, "function"))
    return out


def _write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _generate_public_api():
    """Write ``generated/_public_api.rst`` (included by api.rst) and one stub per object."""
    gen = HERE / "generated"
    names = _public_names()
    text = [".. autosummary::", "   :nosignatures:", ""] + [f"   {n}" for n, _ in names]
    text += ["", ".. toctree::", "   :hidden:", ""] + [f"   generated/shallowml.{n}" for n, _ in names]
    _write_if_changed(gen / "_public_api.rst", "\n".join(text) + "\n")
    for name, kind in names:
        title = f"shallowml.{name}"
        body = [title, "=" * len(title), "", ".. currentmodule:: shallowml", ""]
        if kind == "class":
            body += [f".. autoclass:: {name}", "", f".. minigallery:: shallowml.{name}",
                     "   :add-heading: Examples using ``shallowml.{}``".format(name), ""]
        else:
            body += [f".. autofunction:: {name}", "", f".. minigallery:: shallowml.{name}",
                     "   :add-heading: Examples using ``shallowml.{}``".format(name), ""]
        _write_if_changed(gen / f"shallowml.{name}.rst", "\n".join(body))
    # drop stubs of objects that left __all__ (e.g. a renamed estimator)
    keep = {f"shallowml.{n}.rst" for n, _ in names}
    for stub in gen.glob("shallowml.*.rst"):
        if stub.name not in keep and stub.name.count(".") == 2:
            stub.unlink()


_generate_public_api()


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Document the estimators' own and shallowml-inherited members only.

    Methods inherited from scikit-learn (get_params, set_output,
    set_fit_request, ...) are documented by scikit-learn and their
    docstrings cross-reference its own documentation.
    """
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn") or re.fullmatch(r"set_\w+_request", name):
        return True
    if "__metadata_request__" in name:  # scikit-learn's routing declarations (pairs.py)
        return True
    return skip


_TYPE_LINE = re.compile(r"^(\s*\*?\*?[\w*, ]+\*?\*? : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_attribute_names(app, what, name, obj, options, lines):
    """Quote names like ``n_features_in_`` in numpydoc type specs.

    ``shape (n_features_in_,)`` would otherwise be read as an RST hyperlink
    reference ``n_features_in_`` and fail the build.
    """
    for i, line in enumerate(lines):
        m = _TYPE_LINE.match(line)
        if m:
            lines[i] = m.group(1) + _TRAILING_UNDERSCORE.sub(r"``\1``", m.group(2))


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
    # before numpydoc (priority 500) turns the sections into field lists
    app.connect("autodoc-process-docstring", _quote_attribute_names, priority=400)


# --- gallery --------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("shallowml",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"shallowml": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "write_computation_times": False,
}

# --- HTML -----------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"shallowml {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False
