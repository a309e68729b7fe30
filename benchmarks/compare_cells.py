"""Compare two runs of the suite cell by cell (serial against Dask, for example).

Usage::

    python -m benchmarks.compare_cells RUN_A/cells.csv RUN_B/cells.csv

Prints how many (dataset, method, split) cells both runs have, how many are
identical in every score, status and convergence-warning count as written
(fit times aside; two time-outs count as equal, their messages name the
time), each cell that differs, and the sum of the fit times of each run.
Exit status 1 when a cell differs or is missing from one run.
"""

import argparse
import csv
import math
import sys

from ._cells import SCORES

COMPARED = ("n_fit", *SCORES, "status", "convergence_warnings")


def read_cells(path):
    """``{(dataset, method, split_index): row}`` of a ``cells.csv``."""
    with open(path, newline="") as fh:
        return {(r["dataset"], r["method"], r["split_index"]): r for r in csv.DictReader(fh)}


def differences(a, b):
    """``{key: {column: (a's value, b's value)}}`` for the cells of both runs that differ."""
    out = {}
    for key in a.keys() & b.keys():
        ra, rb = a[key], b[key]
        cols = {c: (ra[c], rb[c]) for c in COMPARED if ra[c] != rb[c]
                and not (c == "status" and ra[c].startswith("timeout") and rb[c].startswith("timeout"))}
        if cols:
            out[key] = cols
    return out


def fit_seconds(cells, source=None):
    """Sum of the fit times of ``cells`` (of one ``source`` when given)."""
    times = (float(r["fit_time"]) for r in cells.values() if source in (None, r["source"]))
    return sum(t for t in times if not math.isnan(t))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_cells", description=__doc__.splitlines()[0])
    parser.add_argument("a", help="the first run's cells.csv")
    parser.add_argument("b", help="the second run's cells.csv")
    args = parser.parse_args(argv)
    a, b = read_cells(args.a), read_cells(args.b)
    only = sorted(a.keys() ^ b.keys())
    diff = differences(a, b)
    print(f"cells: {len(a)} and {len(b)}; in one run only: {len(only)}")
    print(f"identical: {len(a.keys() & b.keys()) - len(diff)}; differing: {len(diff)}")
    for key in sorted(diff):
        print("  differs:", *key, diff[key])
    for key in only:
        print("  in one run only:", *key)
    print(f"sum of fit times: {fit_seconds(a):.0f} s and {fit_seconds(b):.0f} s "
          f"(metric-learn {fit_seconds(a, 'metric-learn'):.0f} s and {fit_seconds(b, 'metric-learn'):.0f} s)")
    return 1 if diff or only else 0


if __name__ == "__main__":
    sys.exit(main())
