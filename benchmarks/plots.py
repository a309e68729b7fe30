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
        means = np.array([cell.get((d, m), {}).get("error_mean", np.nan) for m in methods])
        stds = np.array([cell.get((d, m), {}).get("error_std", np.nan) for m in methods])
        colors = [SOURCE_COLORS.get(source[m], "k") for m in methods]
        ax.barh(ypos, np.nan_to_num(means), xerr=np.nan_to_num(stds), color=colors,
                error_kw={"elinewidth": 1, "capsize": 2})
        ax.plot(means, ypos, "|", color="k", ms=8)  # keeps zero errors visible
        for y in ypos[~np.isfinite(means)]:
            ax.text(0, y, " n/a", va="center", fontsize=7)
        ax.set_title(d, fontsize=10)
        ax.set_xlim(left=0)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.ravel()[len(datasets):]:
        ax.set_visible(False)
    axes[0, 0].set_yticks(ypos, methods)
    axes[0, 0].invert_yaxis()
    for row in axes:
        row[0].set_yticks(ypos, methods)
    fig.supxlabel("3-NN test error (mean +- std over splits)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fit_times(summary, path):
    """Fit time against the number of samples the metric was learned on (log-log)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    methods = [m for m in dict.fromkeys(r["method"] for r in summary) if m != "Euclidean"]
    markers = "os^vD<>ph*X"
    for i, m in enumerate(methods):
        rows = sorted(
            (r for r in summary if r["method"] == m and np.isfinite(r["fit_time_mean"])),
            key=lambda r: r["n_fit"],
        )
        if not rows:
            continue
        n = [r["n_fit"] for r in rows]
        t = [max(r["fit_time_mean"], 1e-4) for r in rows]
        ls = {"shallowml": "-", "scikit-learn": "--", "metric-learn": ":"}.get(rows[0]["source"], "-")
        ax.plot(n, t, ls, marker=markers[i % len(markers)], ms=4, lw=1, label=m)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples used to fit the metric (n_fit)")
    ax.set_ylabel("fit time, s (mean over splits)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
