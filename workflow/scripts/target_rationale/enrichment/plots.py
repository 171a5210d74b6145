"""Enrichment figures: GSEA and ORA dot plots, enrichment curves, the cross-contrast heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from target_rationale.core.jobs import LOG  # noqa: E402
from target_rationale.core.plotting import (  # noqa: E402
    DOWN_COLOR,
    UP_COLOR,
    freeze,
    new_figure,
    plot_style,
    save_figure,
    text_inches,
)
from target_rationale.enrichment.analysis import ranking, running_sum  # noqa: E402
from target_rationale.genesets.gmt import GeneSet  # noqa: E402


def _term_label(term_id: str, name: str, width: int = 48) -> str:
    name = str(name)
    short = name if len(name) <= width else name[: width - 1] + "…"
    return short if short == term_id else f"{short} ({term_id})"


def plot_gsea_dots(table: pd.DataFrame, title: str, fdr_threshold: float, n_top: int = 20) -> Figure:
    """Dot plot of the most significant GSEA terms: NES on x, size = genes in the set, colour = FDR.

    Up to ``n_top / 2`` terms with positive and as many with negative NES, smallest p-values first.
    """
    data = table.dropna(subset=["nes", "pvalue"])
    half = max(n_top // 2, 1)
    chosen = pd.concat([data[data["nes"] > 0].head(half), data[data["nes"] < 0].head(half)])
    chosen = chosen.sort_values("nes", kind="mergesort")
    labels = [_term_label(t, n) for t, n in zip(chosen["term_id"], chosen["term_name"])]
    with plot_style():
        # the term labels, then ~3.4 in of dots, the colour bar and the size legend
        width = max(7.4, text_inches(labels, matplotlib.rcParams["ytick.labelsize"]) + 6.2)
        fig = new_figure(width, 1.2 + 0.28 * max(len(chosen), 3))
        ax = fig.add_subplot()
        if chosen.empty:
            ax.text(0.5, 0.5, "no terms tested", ha="center", va="center", transform=ax.transAxes)
        else:
            fdr = np.clip(chosen["fdr"].to_numpy(dtype=float), 1e-300, 1)
            points = ax.scatter(chosen["nes"], np.arange(len(chosen)), s=15 + 1.2 * chosen["size"].clip(upper=300),
                                c=-np.log10(fdr), cmap="viridis", vmin=0, edgecolors="black", linewidths=0.4)
            ax.set_yticks(np.arange(len(chosen)), labels)
            ax.axvline(0, color="0.6", lw=0.8)
            significant = chosen["fdr"] < fdr_threshold
            for y, (nes, sig) in enumerate(zip(chosen["nes"], significant)):
                if sig:
                    ax.annotate("*", (nes, y), xytext=(6, -3), textcoords="offset points", fontsize=10)
            fig.colorbar(points, ax=ax, label="−log10 FDR", shrink=0.8)
            for size in (25, 100, 300):
                ax.scatter([], [], s=15 + 1.2 * size, color="white", edgecolors="black", linewidths=0.4,
                           label=f"{size} genes")
            fig.legend(title="set size", loc="outside right upper", labelspacing=1.2)
        ax.set_xlabel(f"normalised enrichment score (* FDR < {fdr_threshold:g})")
        ax.set_title(title)
        freeze(fig)
    return fig


def plot_ora_dots(up: pd.DataFrame, down: pd.DataFrame, title: str, fdr_threshold: float,
                  n_top: int = 10) -> Figure:
    """Dot plots of the most over-represented terms among up- and down-regulated genes (odds ratio, FDR)."""
    with plot_style():
        fig = new_figure(7.6, 1.4 + 0.3 * max(n_top, 3) * 2)
        axes = fig.subplots(2, 1)
        for ax, table, direction in zip(axes, (up, down), ("up-regulated", "down-regulated")):
            chosen = table[table["overlap"] > 0].head(n_top).iloc[::-1]
            if chosen.empty:
                ax.text(0.5, 0.5, f"no overlap with {direction} genes", ha="center", va="center",
                        transform=ax.transAxes)
                ax.set_yticks([])
            else:
                fdr = np.clip(chosen["fdr"].to_numpy(dtype=float), 1e-300, 1)
                points = ax.scatter(chosen["odds_ratio"].clip(lower=1e-2), np.arange(len(chosen)),
                                    s=15 + 6 * chosen["overlap"].clip(upper=60), c=-np.log10(fdr), cmap="viridis",
                                    vmin=0, edgecolors="black", linewidths=0.4)
                ax.set_xscale("log")
                ax.set_yticks(np.arange(len(chosen)), [_term_label(t, n) for t, n in zip(chosen["term_id"],
                                                                                        chosen["term_name"])])
                fig.colorbar(points, ax=ax, label="−log10 FDR", shrink=0.8)
            ax.set_title(f"{direction} genes")
            ax.set_xlabel(f"odds ratio (size = overlapping genes; FDR < {fdr_threshold:g} is significant)")
        fig.suptitle(title)
        freeze(fig)
    return fig


def plot_comparison_heatmap(comparison: pd.DataFrame, contrasts: list[str], fdr_threshold: float,
                            n_top: int = 30) -> Figure:
    """NES of the top terms across contrasts (rows: terms significant somewhere, best first), FDR stars."""
    chosen = comparison[comparison["class"] != "none"].head(n_top)
    if chosen.empty:
        chosen = comparison.head(n_top)
    nes = chosen[[f"nes_{c}" for c in contrasts]].to_numpy(dtype=float)
    fdr = chosen[[f"fdr_{c}" for c in contrasts]].to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(nes))) if np.isfinite(nes).any() else 1.0
    labels = [f"{_term_label(t, n, 40)}  [{k}]" for t, n, k in zip(chosen["term_id"], chosen["term_name"],
                                                                   chosen["class"])]
    with plot_style():
        # the term labels, a column per contrast, the colour bar; at least the former fixed width
        width = max(4.0 + 0.9 * len(contrasts), text_inches(labels, matplotlib.rcParams["ytick.labelsize"])
                    + 1.5 + 0.9 * len(contrasts))
        fig = new_figure(width, 1.6 + 0.26 * max(len(chosen), 3))
        ax = fig.add_subplot()
        image = ax.imshow(np.ma.masked_invalid(nes), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i in range(nes.shape[0]):
            for j in range(nes.shape[1]):
                if fdr[i, j] < fdr_threshold:
                    ax.text(j, i, "*", ha="center", va="center", fontsize=11)
        ax.set_xticks(np.arange(len(contrasts)), contrasts, rotation=30, ha="right")
        ax.set_yticks(np.arange(len(chosen)), labels)
        fig.colorbar(image, ax=ax, label="NES", shrink=0.6)
        fig.suptitle(f"Top terms across contrasts (NES; * term-test FDR < {fdr_threshold:g}; [class])")
        freeze(fig)
    return fig


def plot_enrichment_curves(ranked: pd.Series, terms: list[tuple[str, str, tuple[str, ...]]],
                           results: pd.DataFrame, title: str) -> Figure:
    """Running enrichment score and hit positions for a few terms (e.g. those of the target axes).

    ``terms`` are ``(term_id, term_name, genes)``; ``results`` (the GSEA table) supplies NES and FDR for the
    panel titles.
    """
    by_id = results.set_index("term_id") if len(results) else pd.DataFrame()
    with plot_style():
        fig = new_figure(6.4, 0.6 + 2.2 * max(len(terms), 1))
        axes = np.atleast_1d(fig.subplots(max(len(terms), 1), 1, squeeze=False)[:, 0])
        if not terms:
            axes[0].text(0.5, 0.5, "none of the configured terms is in this collection", ha="center",
                         va="center", transform=axes[0].transAxes)
        for ax, (term_id, name, genes) in zip(axes, terms):
            score = running_sum(ranked, genes)
            hits = np.flatnonzero(ranked.index.isin(list(genes)))
            ax.plot(np.arange(1, len(score) + 1), score, color=UP_COLOR if score.max() >= -score.min()
                    else DOWN_COLOR, lw=1.4)
            ax.axhline(0, color="0.6", lw=0.7)
            low = min(score.min(), 0)
            ax.vlines(hits + 1, low - 0.08, low - 0.02, color="black", lw=0.5)
            stats = ""
            if term_id in by_id.index:
                row = by_id.loc[term_id]
                stats = f"  NES {row['nes']:.2f}, FDR {row['fdr']:.2g}"
            ax.set_title(_term_label(term_id, name, 60) + stats, fontsize=9)
            ax.set_ylabel("running ES")
            ax.set_xlim(1, len(score))
        axes[-1].set_xlabel("rank in the contrast's Wald-statistic ranking (up-regulated on the left)")
        fig.suptitle(title)
        freeze(fig)
    return fig


def write_enrichment_plots(table: pd.DataFrame, sets: dict[str, GeneSet], results: dict[str, pd.DataFrame],
                           gsea_fdr: float, ora_fdr: float, curves: Sequence[str], exclude: set[str], title: str,
                           out: dict[str, str]) -> None:
    """Rule ``enrichment_plots``: dot plots and enrichment curves of one contrast x collection.

    ``gsea_fdr`` and ``ora_fdr`` mark significant terms; ``curves`` are the term ids drawn as enrichment curves
    (those absent from the collection are skipped).
    """
    save_figure(plot_gsea_dots(results["gsea"], f"GSEA: {title}", gsea_fdr), out["gsea_dots"],
                out["gsea_dots_svg"])
    save_figure(plot_ora_dots(results["ora_up"], results["ora_down"], f"Over-representation: {title}",
                              ora_fdr), out["ora_dots"], out["ora_dots_svg"])
    ranked, _ = ranking(table, exclude)
    terms = [(t, sets[t].term_name, sets[t].genes) for t in curves if t in sets]
    LOG.info("enrichment curves for %s (%d configured terms absent from this collection)",
             ", ".join(t for t, _, _ in terms) or "no term", len(curves) - len(terms))
    save_figure(plot_enrichment_curves(ranked, terms, results["gsea"], f"Enrichment curves: {title}"),
                out["curves"], out["curves_svg"])


def write_comparison_heatmap(comparison: pd.DataFrame, contrasts: list[str], fdr_threshold: float,
                             out_png: str, out_svg: str) -> None:
    """Rule ``compare_contrasts``: the heatmap of the comparison table."""
    save_figure(plot_comparison_heatmap(comparison, contrasts, fdr_threshold), out_png, out_svg)
