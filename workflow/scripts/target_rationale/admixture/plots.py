"""Host-tissue figures: each sample's estimated host fraction with its interval, by site."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from target_rationale.core.plotting import (  # noqa: E402
    freeze,
    legend_handles,
    level_colors,
    new_figure,
    per_sample_size,
    plot_style,
)


def plot_host_fractions(table: pd.DataFrame, variable: str) -> Figure:
    """Host fraction (share of reads from the host tissue) per sample, with its interval, coloured by site.

    Parameters
    ----------
    table : pandas.DataFrame
        ``results/qc/admixture.tsv``: ``sample``, the site column ``variable`` (or ``site``), ``host``,
        ``fraction``, ``ci_low``, ``ci_high``.
    variable : str
        The sample-sheet column holding the site levels.
    """
    site = variable if variable in table.columns else "site"
    data = table.assign(_host=table["host"].fillna("")).sort_values([site, "fraction"], kind="mergesort")
    colors = level_colors(data[site].astype(str))
    x = np.arange(len(data))
    with plot_style():
        width, fontsize = per_sample_size(len(data), 0.22, 2.2, 4.0, 7.0)
        fig = new_figure(width, 3.4)
        ax = fig.add_subplot()
        for level, rows in data.groupby(data[site].astype(str), sort=False):
            index = x[data[site].astype(str).to_numpy() == level]
            low = (rows["fraction"] - rows["ci_low"]).clip(lower=0).to_numpy(dtype=float)
            high = (rows["ci_high"] - rows["fraction"]).clip(lower=0).to_numpy(dtype=float)
            ax.errorbar(index, rows["fraction"].to_numpy(dtype=float), yerr=[low, high], fmt="o", ms=4,
                        color=colors[level], ecolor=colors[level], elinewidth=1, capsize=2)
        ax.set_xticks(x, list(data["sample"]), rotation=90, fontsize=fontsize)
        ax.set_ylabel("host fraction of reads")
        top = float(np.nanmax(data["ci_high"].to_numpy(dtype=float))) if len(data) else 1.0
        ax.set_ylim(0, max(0.05, min(1.0, top * 1.1)))
        hosts = {str(level): ", ".join(sorted(set(rows["_host"]) - {""})) or "none (the host itself)"
                 for level, rows in data.groupby(data[site].astype(str), sort=False)}
        ax.legend(handles=legend_handles(colors, list(hosts)), labels=[f"{k}: {v}" for k, v in hosts.items()],
                  title=f"{site}: host tissue", loc="upper left", fontsize=7, title_fontsize=7)
        ax.set_title("Host tissue in each sample (95% interval)")
        freeze(fig)
    return fig
