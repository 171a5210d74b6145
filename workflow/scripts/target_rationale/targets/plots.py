"""Target-axis figures: axis genes across samples, per-sample axis scores, the evidence grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from target_rationale.core.plotting import (  # noqa: E402
    DOWN_COLOR,
    UP_COLOR,
    freeze,
    legend_handles,
    level_colors,
    levels_of,
    new_figure,
    per_sample_size,
    plot_style,
    save_figure,
)

if TYPE_CHECKING:
    from anndata import AnnData


def plot_axis_genes(qc: AnnData, axes: Mapping[str, Sequence[str]], group: str, annotate: str | None) -> Figure:
    """Heatmap of the axes' genes across samples: row-centred VST, samples grouped by ``group``.

    ``axes`` maps an axis name to its gene symbols (receptors, ligands, markers); genes not measured are left out.
    """
    symbol_to_id = {s: g for g, s in zip(qc.var_names, qc.var["symbol"])}
    rows, labels, blocks = [], [], []
    for axis, genes in axes.items():
        present = [g for g in genes if g in symbol_to_id]
        blocks.append((axis, len(rows), len(present)))
        rows += [symbol_to_id[g] for g in present]
        labels += present
    order = qc.obs.sort_values([group] + ([annotate] if annotate else []), kind="mergesort").index
    values = qc[order, rows].layers["vst"] if rows else np.zeros((len(order), 0))
    values = np.asarray(values, dtype=float).T
    centred = values - values.mean(axis=1, keepdims=True) if len(rows) else values
    limit = float(np.nanmax(np.abs(centred))) if centred.size else 1.0
    with plot_style():
        width, fontsize = per_sample_size(len(order), 0.22, 2.5, 0.0, 7.0)
        fig = new_figure(width, 1.8 + 0.17 * max(len(rows), 4))
        ax = fig.add_subplot()
        image = ax.imshow(centred, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
        ax.set_xticks(np.arange(len(order)), list(order), rotation=90, fontsize=fontsize)
        for axis, start, n in blocks:
            if n:
                ax.axhline(start - 0.5, color="black", lw=0.8)
                ax.text(1.01, start + n / 2 - 0.5, axis, transform=ax.get_yaxis_transform(), ha="left",
                        va="center", fontsize=9, fontweight="bold", rotation=90)
        colors = level_colors(qc.obs[group])
        for x, sample in enumerate(order):
            level = str(qc.obs.loc[sample, group])
            ax.add_patch(Rectangle((x - 0.5, -1.6), 1, 0.9, color=colors[level], clip_on=False))
        ax.set_ylim(len(labels) - 0.5, -1.7)
        ax.legend(handles=legend_handles(colors, levels_of(qc.obs[group]), marker="s"), title=group,
                  loc="upper left", bbox_to_anchor=(1.12, 1.0), borderaxespad=0)
        if annotate:
            ax.set_xticks(np.arange(len(order)),
                          [f"{s} ({qc.obs.loc[s, annotate]})" for s in order], rotation=90, fontsize=fontsize)
        fig.colorbar(image, ax=ax, label="VST, centred per gene (log2)", shrink=0.5, pad=0.05)
        ax.set_title("Target-axis genes across samples")
        freeze(fig)
    return fig


def plot_axis_scores(scores: pd.DataFrame, axes: list[str], group: str) -> Figure:
    """Per-sample axis scores by group: one panel per axis, points with the group mean."""
    levels = levels_of(scores[group])
    colors = level_colors(scores[group])
    with plot_style():
        fig = new_figure(2.4 * max(len(axes), 1) + 1.2, 3.6)
        panels = np.atleast_1d(fig.subplots(1, max(len(axes), 1), squeeze=False)[0])
        rng = np.random.default_rng(0)
        for ax, axis in zip(panels, axes):
            for i, level in enumerate(levels):
                values = scores.loc[scores[group].astype(str) == level, axis].dropna().to_numpy(dtype=float)
                jitter = rng.uniform(-0.15, 0.15, len(values))
                ax.scatter(i + jitter, values, s=18, color=colors[level], edgecolors="white", linewidths=0.4)
                if len(values):
                    ax.hlines(values.mean(), i - 0.3, i + 0.3, color="black", lw=1.2)
            ax.set_xticks(np.arange(len(levels)), levels, rotation=30, ha="right")
            ax.set_title(axis)
        panels[0].set_ylabel("axis score (log2, vs matched random genes)")
        fig.suptitle(f"Per-sample axis scores by {group}")
        freeze(fig)
    return fig


def plot_evidence_grid(table: pd.DataFrame) -> Figure:
    """Axis x contrast grid: the flag as colour, the three evidence votes as text in each cell."""
    contrasts = list(dict.fromkeys(table["contrast"]))
    axes = list(dict.fromkeys(table["axis"]))
    value = {"up": 1.0, "down": -1.0, "none": 0.0}
    grid = np.zeros((len(axes), len(contrasts)))
    with plot_style():
        fig = new_figure(2.0 + 2.1 * len(contrasts), 1.4 + 0.75 * len(axes))
        ax = fig.add_subplot()
        for row in table.itertuples():
            i, j = axes.index(row.axis), contrasts.index(row.contrast)
            grid[i, j] = value.get(row.flag, 0.0)
        ax.imshow(grid, cmap=ListedColormap([DOWN_COLOR, "#F2F2F2", UP_COLOR]), vmin=-1.5,
                  vmax=1.5, aspect="auto")
        for row in table.itertuples():
            i, j = axes.index(row.axis), contrasts.index(row.contrast)
            votes = f"genes {row.vote_genes}\npathway {row.vote_pathway}\nscore {row.vote_score}"
            unique = f"\n[{row.unique}]" if isinstance(row.unique, str) and row.unique else ""
            ax.text(j, i, f"{row.flag.upper()}{unique}\n{votes}", ha="center", va="center", fontsize=7,
                    color="white" if row.flag in ("up", "down") else "black")
        ax.set_xticks(np.arange(len(contrasts)), contrasts, rotation=20, ha="right")
        ax.set_yticks(np.arange(len(axes)), axes)
        ax.set_title("Target-axis evidence: flag (colour) and votes of the three evidence lines")
        freeze(fig)
    return fig


def write_target_plots(qc: AnnData, scores: pd.DataFrame, table: pd.DataFrame, axes: Mapping[str, Sequence[str]],
                       group: str, annotate: str | None, out: Mapping[str, str]) -> None:
    """Rule ``target_plots``: axis-gene heatmap, axis scores by group, evidence grid."""
    save_figure(plot_axis_genes(qc, axes, group, annotate), out["heatmap"], out["heatmap_svg"])
    save_figure(plot_axis_scores(scores, list(axes), group), out["scores"], out["scores_svg"])
    save_figure(plot_evidence_grid(table), out["grid"], out["grid_svg"])
