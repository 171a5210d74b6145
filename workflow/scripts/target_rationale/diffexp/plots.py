"""Differential-expression figures: dispersions of a fit, MA and volcano plots of a contrast."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from target_rationale.core.plotting import (  # noqa: E402
    DOWN_COLOR,
    FINAL_COLOR,
    FITTED_COLOR,
    NS_COLOR,
    UP_COLOR,
    freeze,
    gene_label,
    label_points,
    new_figure,
    plot_style,
    require_columns,
    save_figure,
)


def plot_dispersions(var: pd.DataFrame) -> Figure:
    """DESeq2-style dispersion plot from a pydeseq2 ``DeseqDataSet.var`` table.

    Parameters
    ----------
    var
        Columns ``_normed_means``, ``genewise_dispersions``, ``fitted_dispersions`` and ``dispersions``;
        genes with NaN or non-positive values are skipped per series (log axes).

    Returns
    -------
    Figure
        Gene-wise estimates (black), fitted trend (red line), final MAP estimates (blue), log-log axes.
    """
    require_columns(var, ["_normed_means", "genewise_dispersions", "fitted_dispersions", "dispersions"], "var")
    mean = var["_normed_means"].to_numpy(dtype=float)

    def finite(column: str) -> tuple[np.ndarray, np.ndarray]:
        values = var[column].to_numpy(dtype=float)
        ok = np.isfinite(mean) & np.isfinite(values) & (mean > 0) & (values > 0)
        return mean[ok], values[ok]

    with plot_style():
        fig = new_figure(5.6, 4.6)
        ax = fig.add_subplot()
        gx, gy = finite("genewise_dispersions")
        ax.scatter(gx, gy, s=5, color="black", alpha=0.6, linewidths=0, label="gene-wise estimate", zorder=2)
        mx, my = finite("dispersions")
        ax.scatter(mx, my, s=5, color=FINAL_COLOR, alpha=0.6, linewidths=0, label="final (MAP)", zorder=3)
        fx, fy = finite("fitted_dispersions")
        trend = np.argsort(fx, kind="stable")
        ax.plot(fx[trend], fy[trend], color=FITTED_COLOR, lw=1.8, label="fitted trend", zorder=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mean of normalised counts")
        ax.set_ylabel("dispersion (NB α)")
        ax.set_title(f"Dispersion estimates ({len(gx)} genes)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, markerscale=2.5)
        freeze(fig)
    return fig


def _lfc_column(table: pd.DataFrame) -> tuple[str, bool]:
    if "log2FoldChange_shrunk" in table.columns:
        return "log2FoldChange_shrunk", True
    return "log2FoldChange", False


def _liver_mask(table: pd.DataFrame) -> np.ndarray:
    if "liver_signature" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return table["liver_signature"].fillna(False).astype(bool).to_numpy()


def plot_ma(table: pd.DataFrame, contrast_label: str, alpha: float, highlight: list[str]) -> Figure:
    """MA plot: mean of normalised counts against log2 fold change, significant genes coloured.

    Parameters
    ----------
    table
        One row per tested gene: ``gene_id, symbol, baseMean, log2FoldChange, padj`` (+ optional
        ``log2FoldChange_shrunk``, used instead of ``log2FoldChange`` when present).
    contrast_label
        Human-readable contrast, used verbatim in the title and y label, e.g. ``"primary / normal_pancreas"``.
    alpha
        Adjusted p-value threshold; genes with ``padj < alpha`` are coloured (up vermillion, down blue).
    highlight
        Gene symbols to label (those present in ``symbol``).

    Returns
    -------
    Figure
        One axes, log-scaled x; genes with ``baseMean <= 0`` are not drawn.
    """
    require_columns(table, ["symbol", "baseMean", "log2FoldChange", "padj"], "table")
    column, shrunk = _lfc_column(table)
    data = table[(table["baseMean"] > 0) & table[column].notna()].reset_index(drop=True)
    x = data["baseMean"].to_numpy(dtype=float)
    y = data[column].to_numpy(dtype=float)
    sig = (data["padj"] < alpha).to_numpy()
    up, down = sig & (y > 0), sig & (y < 0)
    with plot_style():
        fig = new_figure(6.4, 4.8)
        ax = fig.add_subplot()
        ns = ~(up | down)
        ax.scatter(x[ns], y[ns], s=6, color=NS_COLOR, linewidths=0, label="not significant", zorder=2)
        ax.scatter(x[up], y[up], s=9, color=UP_COLOR, linewidths=0, label=f"up, padj < {alpha:g}", zorder=3)
        ax.scatter(x[down], y[down], s=9, color=DOWN_COLOR, linewidths=0, label=f"down, padj < {alpha:g}",
                   zorder=3)
        handles = [Line2D([], [], ls="", marker="o", markersize=5, markeredgewidth=0, color=UP_COLOR,
                          label=f"up, padj < {alpha:g} ({int(up.sum())})"),
                   Line2D([], [], ls="", marker="o", markersize=5, markeredgewidth=0, color=DOWN_COLOR,
                          label=f"down, padj < {alpha:g} ({int(down.sum())})"),
                   Line2D([], [], ls="", marker="o", markersize=5, markeredgewidth=0, color=NS_COLOR,
                          label="not significant")]
        ax.axhline(0, color="0.3", lw=0.8, zorder=1)
        ax.set_xscale("log")
        ax.set_xlabel("mean of normalised counts (baseMean)")
        kind = "shrunken log2 fold change" if shrunk else "log2 fold change"
        ax.set_ylabel(f"{kind} ({contrast_label})")
        ax.set_title(f"MA plot, {contrast_label}" + (" (shrunken LFC)" if shrunk else ""))
        lim = np.nanmax(np.abs(y)) if len(y) else 1.0
        ax.set_ylim(-lim * 1.15 - 0.1, lim * 1.15 + 0.1)
        if len(x):
            ax.set_xlim(x.min() / 1.5, x.max() * 1.5)
        wanted = set(highlight)
        rows = np.flatnonzero(data["symbol"].isin(wanted).to_numpy())
        if len(rows):
            ax.scatter(x[rows], y[rows], s=40, facecolors="none", edgecolors="black", linewidths=0.9, zorder=4)
            handles.append(Line2D([], [], ls="", marker="o", markersize=7, markerfacecolor="none",
                                  markeredgecolor="black", label="target gene"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        if len(rows):
            label_points(ax, x[rows], y[rows], [gene_label(data.iloc[i]) for i in rows],
                          avoid=np.column_stack([x, y]))
        freeze(fig)
    return fig


def plot_volcano(table: pd.DataFrame, contrast_label: str, alpha: float, lfc_threshold: float,
                 highlight: list[str], n_top: int = 10) -> Figure:
    """Volcano plot: log2 fold change against -log10 p-value.

    Parameters
    ----------
    table
        One row per tested gene: ``gene_id, symbol, log2FoldChange, pvalue, padj`` (NaN allowed) and an
        optional boolean ``liver_signature`` column.
    contrast_label
        Human-readable contrast, used verbatim in the title and x label, e.g. ``"primary / normal_pancreas"``.
    alpha, lfc_threshold
        A gene is significant if ``padj < alpha`` and ``|log2FoldChange| >= lfc_threshold``; up ones are
        vermillion, down ones blue.
    highlight
        Gene symbols always labelled when present (the caller passes the target genes).
    n_top
        Also label this many genes with the smallest ``padj``.

    Returns
    -------
    Figure
        One axes. Genes with ``pvalue == 0`` are drawn at the smallest positive p-value (triangles); genes of
        the liver signature are diamonds with a black edge; the corner text reads ``"up: N, down: M"``
        (Text gid ``"counts"``); gene labels are Texts with gid ``"gene-label"``.
    """
    require_columns(table, ["symbol", "log2FoldChange", "pvalue", "padj"], "table")
    lfc_all = table["log2FoldChange"].to_numpy(dtype=float)
    padj_all = table["padj"].to_numpy(dtype=float)
    sig_all = (padj_all < alpha) & (np.abs(lfc_all) >= lfc_threshold)  # NaN compares False
    n_up = int((sig_all & (lfc_all > 0)).sum())
    n_down = int((sig_all & (lfc_all < 0)).sum())

    keep = table["pvalue"].notna().to_numpy() & np.isfinite(lfc_all)
    data = table[keep].reset_index(drop=True)
    x = data["log2FoldChange"].to_numpy(dtype=float)
    p = data["pvalue"].to_numpy(dtype=float)
    positive = p[p > 0]
    floor = positive.min() if len(positive) else 1e-300
    zero = p <= 0
    y = -np.log10(np.where(zero, floor, p))
    padj = data["padj"].to_numpy(dtype=float)
    sig = (padj < alpha) & (np.abs(x) >= lfc_threshold)
    up, down = sig & (x > 0), sig & (x < 0)
    liver = _liver_mask(data)
    color = np.where(up, UP_COLOR, np.where(down, DOWN_COLOR, NS_COLOR))

    with plot_style():
        fig = new_figure(6.6, 5.2)
        ax = fig.add_subplot()
        plain = ~liver & ~zero
        for mask, size in ((plain & ~sig, 7), (plain & sig, 10)):
            ax.scatter(x[mask], y[mask], s=size, c=list(color[mask]), linewidths=0, zorder=2 + int(size > 7))
        if zero.any():
            ax.scatter(x[zero & ~liver], y[zero & ~liver], s=22, c=list(color[zero & ~liver]), marker="^",
                       linewidths=0, zorder=3)
        if liver.any():
            ax.scatter(x[liver], y[liver], s=26, c=list(color[liver]), marker="D", edgecolors="black",
                       linewidths=0.6, zorder=4)
        if lfc_threshold > 0:
            for xv in (-lfc_threshold, lfc_threshold):
                ax.axvline(xv, color="0.5", lw=0.7, ls="--", zorder=1)
        passing = p[(padj < alpha) & ~zero]
        if len(passing):
            ax.axhline(-np.log10(passing.max()), color="0.5", lw=0.7, ls=":", zorder=1)
        xlim = (np.nanmax(np.abs(x)) if len(x) else 1.0) * 1.12 + 0.2
        ax.set_xlim(-xlim, xlim)
        ax.set_ylim(0, (y.max() if len(y) else 1.0) * 1.2 + 0.3)
        ax.set_xlabel(f"log2 fold change ({contrast_label})")
        ax.set_ylabel("−log10 p-value")
        ax.set_title(f"Volcano plot, {contrast_label}")
        handles = [
            Line2D([], [], ls="", marker="o", markersize=5, color=UP_COLOR,
                   label=f"up (padj < {alpha:g}" + (f", LFC ≥ {lfc_threshold:g})" if lfc_threshold else ")")),
            Line2D([], [], ls="", marker="o", markersize=5, color=DOWN_COLOR,
                   label=f"down (padj < {alpha:g}" + (f", LFC ≤ −{lfc_threshold:g})" if lfc_threshold else ")")),
            Line2D([], [], ls="", marker="o", markersize=5, color=NS_COLOR, label="not significant"),
        ]
        if liver.any():
            handles.append(Line2D([], [], ls="", marker="D", markersize=5, markerfacecolor="white",
                                  markeredgecolor="black", label="liver signature"))
        if zero.any():
            handles.append(Line2D([], [], ls="", marker="^" if (zero & ~liver).any() else "", markersize=6,
                                  color="0.4", label=f"p = 0 ({int(zero.sum())} gene(s)), drawn at p = {floor:.1e}"))
        if data["symbol"].isin(set(highlight)).any():
            handles.append(Line2D([], [], ls="", marker="o", markersize=7, markerfacecolor="none",
                                  markeredgecolor="black", label="target gene"))
        if len(passing):
            handles.append(Line2D([], [], ls=":", color="0.5", lw=0.9, label=f"padj = {alpha:g} (approx.)"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        counts = ax.text(1.02, 0.0, f"up: {n_up}, down: {n_down}", transform=ax.transAxes, ha="left",
                         va="bottom", fontsize=10, bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.7", lw=0.6),
                         zorder=6)
        counts.set_gid("counts")

        ranked = data[data["padj"].notna()].sort_values(["padj", "pvalue"], kind="mergesort")
        rows = list(ranked.index[: max(n_top, 0)])
        wanted = set(highlight)
        rows += [i for i in data.index[data["symbol"].isin(wanted)] if i not in rows]
        if rows:
            idx = np.array(rows)
            targets = [i for i in rows if data.at[i, "symbol"] in wanted]
            if targets:
                ax.scatter(x[targets], y[targets], s=46, facecolors="none", edgecolors="black", linewidths=0.9,
                           zorder=5)
            label_points(ax, x[idx], y[idx], [gene_label(data.loc[i]) for i in rows],
                          avoid=np.column_stack([x, y]))
        freeze(fig)
    return fig


def write_contrast_plots(table: pd.DataFrame, contrast_label: str, alpha: float, lfc_threshold: float,
                         highlight: list[str], out: Mapping[str, str]) -> None:
    """Rule ``contrast_plots``: MA and volcano plot of one contrast's table."""
    save_figure(plot_ma(table, contrast_label, alpha, highlight), out["ma"], out["ma_svg"])
    save_figure(plot_volcano(table, contrast_label, alpha, lfc_threshold, highlight), out["volcano"],
                out["volcano_svg"])
