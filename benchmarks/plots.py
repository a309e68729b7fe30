"""Plots for :mod:`benchmarks.suite` (matplotlib, Agg backend, PNG files)."""

import numpy as np

SOURCE_COLORS = {
    "baseline": "0.6",
    "shallowml": "tab:blue",
    "scikit-learn": "tab:orange",
    "metric-learn": "tab:green",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_errors(summary, path, ncols=4):
    """One panel per dataset: test error mean with +- std error bars per method."""
    _plot_bars(summary, path, "error", "3-NN test error (mean +- std over splits)", ncols=ncols)


def plot_map_at_r(summary, path, ncols=4):
    """One panel per dataset: MAP@R of the embedded test part (leave-one-out) per method."""
    _plot_bars(summary, path, "map_at_r",
               "MAP@R of the test part, leave-one-out (mean +- std over splits; higher is better)",
               ncols=ncols, xmax=1.0)


def plot_few_shot(few, path, ncols=3):
    """One panel per dataset and shot: few-shot accuracy on held-out classes per method."""
    rows = [dict(r, dataset=f"{r['dataset']}, {r['n_way']}-way {r['k_shot']}-shot") for r in few]
    _plot_bars(rows, path, "accuracy", "few-shot accuracy on held-out classes (mean +- std over class splits)",
               ncols=ncols, xmax=1.0)


def _plot_bars(summary, path, key, xlabel, ncols=4, xmax=None):
    """One panel per dataset: ``<key>_mean`` with ``<key>_std`` error bars per method."""
    plt = _pyplot()
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    methods = list(dict.fromkeys(r["method"] for r in summary))
    source = {r["method"]: r["source"] for r in summary}
    cell = {(r["dataset"], r["method"]): r for r in summary}
    ncols = min(ncols, len(datasets))
    nrows = -(-len(datasets) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 0.22 * len(methods) * nrows + 1.0 * nrows + 0.5),
        squeeze=False, sharey=True,
    )
    ypos = np.arange(len(methods))
    for ax, d in zip(axes.ravel(), datasets):
        means = np.array([cell.get((d, m), {}).get(f"{key}_mean", np.nan) for m in methods], dtype=float)
        stds = np.array([cell.get((d, m), {}).get(f"{key}_std", np.nan) for m in methods], dtype=float)
        colors = [SOURCE_COLORS.get(source[m], "k") for m in methods]
        ax.barh(ypos, np.nan_to_num(means), xerr=np.nan_to_num(stds), color=colors,
                error_kw={"elinewidth": 1, "capsize": 2})
        ax.plot(means, ypos, "|", color="k", ms=8)  # keeps zero errors visible
        for y in ypos[~np.isfinite(means)]:
            ax.text(0, y, " n/a", va="center", fontsize=7)
        ax.set_title(d, fontsize=10)
        ax.set_xlim(left=0, right=xmax)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.ravel()[len(datasets):]:
        ax.set_visible(False)
    axes[0, 0].set_yticks(ypos, methods)
    axes[0, 0].invert_yaxis()
    for row in axes:
        row[0].set_yticks(ypos, methods)
    fig.supxlabel(xlabel, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_speedups(summary, pairs, path):
    """Each shallowml learner's speed-up over its reference, per dataset, on a log axis.

    ``pairs`` is ``[(reference method, shallowml method)]``; the speed-up is
    the reference's mean fit time divided by shallowml's, where both learned
    the metric on the same number of samples (steady state: kernels loaded,
    same run). Right of the line at 1, shallowml is faster.
    """
    from .suite import speedup

    plt = _pyplot()
    cell = {(r["dataset"], r["method"]): r for r in summary}
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(datasets) + 1.4))
    ypos = np.arange(len(datasets))
    markers = "os^vD<>"
    shown = 0
    for k, (ref, ours) in enumerate(pairs):
        xs, ys = [], []
        for y, d in zip(ypos, datasets):
            ratio = speedup(cell.get((d, ref)), cell.get((d, ours)))
            if ratio > 0:  # NaN (no like-for-like figure) and 0 have no place on the log axis
                xs.append(ratio)
                ys.append(y + (k - (len(pairs) - 1) / 2) * 0.12)
        if xs:
            ax.plot(xs, ys, markers[k % len(markers)], ms=5, label=f"{ours} vs {ref}")
            shown += 1
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(ypos, datasets, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up of shallowml: reference fit time / shallowml fit time (log scale)")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    if shown:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
