"""Reliability report: every estimator against every bad or degenerate input.

Run from the repository root::

    python -m benchmarks.reliability_report            # table + counts
    python -m benchmarks.reliability_report --out benchmarks/results/reliability.md

The cases and the expected outcome of each cell are declared in
:mod:`shallowml.utils._robustness` (the same table ``tests/test_reliability.py``
runs). Legend of the grid:

* ``E``  raised the expected ``ValueError`` (message matched)
* ``F``  finite ``components_`` (and finite transform / pair distances), as expected
* ``F~`` as ``F``, with a ``ConvergenceWarning`` (iterations capped at 50 here)
* ``X``  not as documented (details listed below the grid)
* ``.``  not applicable (input kind or missing parameter)

Estimators are discovered from ``shallowml.__all__``; the JIT is warmed up by
a first pass that is not timed.
"""

import argparse
import time
from pathlib import Path

from shallowml.utils import _robustness as rb
from shallowml.utils.discovery import all_estimators, input_kind


def _symbol(outcome):
    if not outcome.passed:
        return "X"
    if outcome.expected.kind == "raises":
        return "E"
    return "F~" if outcome.convergence_warning else "F"


def run():
    """Run every cell; return ``(outcomes, seconds)``."""
    cells = rb.matrix_cells()
    t0 = time.perf_counter()
    outcomes = [rb.run_case(name, cls, case) for name, cls, case in cells]
    return outcomes, time.perf_counter() - t0


def format_report(outcomes, seconds):
    estimators = [name for name, _ in all_estimators()]
    kinds = {name: input_kind(cls) for name, cls in all_estimators()}
    cases = []
    for kind in ("classes", "regression", "pairs", "triplets", "quadruplets"):
        for c in rb.case_names(kind):
            if c not in cases:
                cases.append(c)
    grid = {(o.estimator, o.case): _symbol(o) for o in outcomes}
    width = max(len(c) for c in cases) + 2
    cols = [max(len(n), 3) + 1 for n in estimators]
    lines = []
    n_fail = sum(not o.passed for o in outcomes)
    n_raise = sum(o.passed and o.expected.kind == "raises" for o in outcomes)
    n_finite = sum(o.passed and o.expected.kind == "finite" for o in outcomes)
    lines.append(
        f"Reliability matrix: {len(estimators)} estimators x {len(cases)} inputs -> "
        f"{len(outcomes)} applicable cells; {len(outcomes) - n_fail} as documented "
        f"({n_raise} clear ValueError, {n_finite} finite results), {n_fail} failures; "
        f"{seconds:.1f} s"
    )
    lines.append("")
    lines.append("```")
    lines.append("input".ljust(width) + "".join(n.rjust(w) for n, w in zip(estimators, cols)))
    for case in cases:
        row = case.ljust(width)
        for n, w in zip(estimators, cols):
            row += grid.get((n, case), ".").rjust(w)
        lines.append(row)
    lines.append("```")
    lines.append("")
    lines.append("| estimator | kind | cells | as documented | failures |")
    lines.append("|---|---|---|---|---|")
    for n in estimators:
        mine = [o for o in outcomes if o.estimator == n]
        fails = sum(not o.passed for o in mine)
        lines.append(f"| {n} | {kinds[n]} | {len(mine)} | {len(mine) - fails} | {fails} |")
    failures = [o for o in outcomes if not o.passed]
    if failures:
        lines.append("")
        lines.append("Failures (estimator, input: expected -> got):")
        for o in failures:
            lines.append(f"- {o.estimator}, {o.case}: {o.expected} -> {o.detail}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    run()  # warm-up: numba compilation of every estimator's kernels
    outcomes, seconds = run()
    report = format_report(outcomes, seconds)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    return outcomes


if __name__ == "__main__":
    main()
