"""Steady-state fits on a quiet and on a busy machine: is shallowml a good citizen?

LMNN and NCA (defaults, ``random_state=0``) on standardised digits (70/30,
seed 0), each configuration in a fresh process (warm figure: median of 3
fits after a first one), wall and CPU seconds:

- ``default``: shallowml as shipped (numba threads = cores, passive OpenMP
  waiting started by shallowml, see :mod:`shallowml.utils.threads`);
- ``1 thread``: ``NUMBA_NUM_THREADS=1``;
- ``OMP active``: ``OMP_WAIT_POLICY=ACTIVE`` (idle numba threads spin, as
  libgomp's default does for a while).

Each on a quiet machine and beside two CPU-bound processes (as many as this
machine has cores). Targets (issue 12): beside the CPU-bound processes the
default fit is no slower than 1.25 x the one-thread fit; on a quiet machine
the default keeps its parallel speed-up over one thread.

Usage::

    python -m benchmarks.bench_threads     # writes docs/benchmark_results/threads.{json,md}
"""

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import CpuHogs, fit_in_fresh_process, machine_state, script_main  # noqa: E402
from benchmarks.bench_cold_warm import digits_split  # noqa: E402

CONFIGS = {
    "default": {"OMP_WAIT_POLICY": None},
    "1 thread": {"OMP_WAIT_POLICY": None, "NUMBA_NUM_THREADS": "1"},
    "OMP active": {"OMP_WAIT_POLICY": "ACTIVE"},
}


def run(learners=("LMNN", "NCA"), warm_repeats=3, n_hogs=None):
    X, y, _, _ = digits_split()
    n_hogs = n_hogs or os.cpu_count()
    state = machine_state()
    rows = []
    for machine in ("quiet", f"{n_hogs} CPU-bound processes beside"):
        for learner in learners:
            for config, env in CONFIGS.items():
                if machine == "quiet":
                    res = _fit(learner, X, y, warm_repeats, env)
                else:
                    with CpuHogs(n_hogs):
                        res = _fit(learner, X, y, warm_repeats, env)
                rows.append({"machine": machine, "learner": learner, "config": config,
                             "warm_wall": res["warm"]["wall"], "warm_cpu": res["warm"]["cpu"],
                             "walls": res["warm"]["walls"]})
                print(rows[-1], flush=True)
    state["load_average_1min_after"] = os.getloadavg()[0]
    return {"machine": state, "rows": rows, "targets": _targets(rows)}


def _fit(learner, X, y, warm_repeats, env):
    return fit_in_fresh_process("shallowml", learner, {"random_state": 0}, X, y, warm_repeats=warm_repeats,
                                env=env)


def _targets(rows):
    get = {(r["machine"].split()[0], r["learner"], r["config"]): r["warm_wall"] for r in rows}
    out = {}
    for (machine, learner, config), wall in get.items():
        if config != "default":
            continue
        one = get[(machine, learner, "1 thread")]
        out[f"{learner} {machine}: default / 1 thread"] = wall / one
    return out


def to_markdown(result):
    m = result["machine"]
    lines = [
        f"Steady-state fits on standardised digits, quiet and busy ({m['date']}, {m['cpu_count']} cores, "
        f"load {m['load_average_1min']:.2f} before / {m['load_average_1min_after']:.2f} after, numba "
        f"{m['numba']}). Produced by `python -m benchmarks.bench_threads`; raw output in `threads.json`. "
        "Warm wall seconds (CPU seconds), median of 3 fits in a fresh process.",
        "",
        "| machine | learner | default | 1 thread | OMP active | default / 1 thread |",
        "|---|---|---|---|---|---|",
    ]
    cell = {(r["machine"], r["learner"], r["config"]): r for r in result["rows"]}
    for machine in dict.fromkeys(r["machine"] for r in result["rows"]):
        for learner in dict.fromkeys(r["learner"] for r in result["rows"]):
            vals = [cell[(machine, learner, c)] for c in CONFIGS]
            ratio = vals[0]["warm_wall"] / vals[1]["warm_wall"]
            lines.append(f"| {machine} | {learner} | " + " | ".join(
                f"{v['warm_wall']:.2f} ({v['warm_cpu']:.2f})" for v in vals) + f" | {ratio:.2f} |")
    lines += ["", "Target: default / 1 thread <= 1.25 beside the CPU-bound processes; below 1 on a quiet machine."]
    return "\n".join(lines)


def main(argv=None):
    return script_main("threads", __doc__, run, to_markdown, argv, learners=["LMNN", "NCA"])


if __name__ == "__main__":
    main()
