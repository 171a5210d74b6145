"""QC figures of all samples: library sizes, PCA and the sample-distance heatmap (see core.plotting for the style)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import anndata as ad  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scanpy as sc  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.cluster.hierarchy import leaves_list, linkage  # noqa: E402
from scipy.spatial.distance import pdist, squareform  # noqa: E402

from target_rationale.core.plotting import (  # noqa: E402
    STYLE,
    freeze,
    legend_handles,
    level_colors,
    levels_of,
    new_figure,
    per_sample_size,
    plot_style,
    require_columns,
    save_figure,
)


def plot_library_sizes(obs: pd.DataFrame, group: str) -> Figure:
    """Bar chart of each sample's library size in millions of reads, coloured by a grouping variable.

    Parameters
    ----------
    obs
        Sample table indexed by sample name, with a ``library_size`` column (reads) and the ``group`` column.
    group
        Column to colour by; samples are ordered by its levels (categorical order, else sorted), then by name.

    Returns
    -------
    Figure
        One axes with one bar per sample.
    """
    require_columns(obs, ["library_size", group], "obs")
    with plot_style():
        levels = levels_of(obs[group])
        colors = level_colors(obs[group])
        rank = {lvl: i for i, lvl in enumerate(levels)}
        frame = pd.DataFrame({"sample": obs.index.astype(str), "group": obs[group].astype(str).to_numpy(),
                              "size": obs["library_size"].to_numpy(dtype=float) / 1e6})
        frame["rank"] = frame["group"].map(rank)
        frame = frame.sort_values(["rank", "sample"], kind="mergesort")
        width, fontsize = per_sample_size(len(frame), 0.32, 1.2, 5.0, STYLE["xtick.labelsize"])
        fig = new_figure(width, 4.2)
        ax = fig.add_subplot()
        ax.bar(np.arange(len(frame)), frame["size"], color=[colors[g] for g in frame["group"]], width=0.8)
        ax.set_xticks(np.arange(len(frame)), frame["sample"], rotation=90, fontsize=fontsize)
        ax.set_xlim(-0.6, len(frame) - 0.4)
        ax.set_xlabel("sample")
        ax.set_ylabel("library size (million reads)")
        ax.set_title(f"Library size (total counted reads) per sample, by {group}")
        present = [lvl for lvl in levels if lvl in set(frame["group"])]
        ax.legend(handles=legend_handles(colors, present, marker="s"), title=group, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0, alignment="left")
        freeze(fig)
    return fig


def top_variable_genes(matrix: np.ndarray, n_top_genes: int) -> np.ndarray:
    """Column indices of the ``n_top_genes`` columns with the largest variance (ties kept in column order).

    Like DESeq2's ``plotPCA``: per-gene variance across samples (``ddof=1``) of the stabilised matrix.
    """
    variance = np.var(np.asarray(matrix, dtype=float), axis=0, ddof=1)
    order = np.argsort(-variance, kind="stable")
    return np.sort(order[: min(n_top_genes, matrix.shape[1])])


def compute_pca(adata: ad.AnnData, layer: str, seed: int, n_top_genes: int = 500) -> ad.AnnData:
    """PCA of ``adata.layers[layer]`` on its ``n_top_genes`` most variable genes, with scanpy.

    Parameters
    ----------
    adata
        Samples x genes; ``adata.layers[layer]`` holds the variance-stabilised values.
    layer
        Layer name.
    seed
        ``random_state`` for :func:`scanpy.pp.pca`.
    n_top_genes
        How many of the most variable genes to use.

    Returns
    -------
    ad.AnnData
        A new object (samples x selected genes, ``X`` = the layer values, ``obs`` copied) with
        ``obsm["X_pca"]`` and ``uns["pca"]["variance_ratio"]`` (share of total variance, all components kept).
    """
    matrix = adata.layers[layer]
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    matrix = matrix.astype(np.float64)
    keep = top_variable_genes(matrix, n_top_genes)
    sub = ad.AnnData(X=matrix[:, keep], obs=adata.obs.copy(), var=pd.DataFrame(index=adata.var_names[keep]))
    n_comps = max(1, min(sub.n_obs, sub.n_vars) - 1)
    sc.pp.pca(sub, n_comps=n_comps, svd_solver="full", random_state=seed, dtype="float64")
    return sub


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def plot_pca(adata: ad.AnnData, layer: str, color_by: list[str], seed: int, n_top_genes: int = 500) -> Figure:
    """PCA of samples on the most variable genes of a stabilised layer, one panel per colouring variable.

    Parameters
    ----------
    adata
        Samples x genes with ``adata.layers[layer]`` (e.g. VST values) and the ``color_by`` obs columns.
    layer
        Layer to use.
    color_by
        Categorical obs columns; one panel each, same coordinates.
    seed
        ``random_state`` passed to scanpy.
    n_top_genes
        Number of most variable genes used (DESeq2's ``plotPCA`` default is 500).

    Returns
    -------
    Figure
        ``len(color_by)`` panels; axes labelled "PC1 (xx.x% variance)" with scanpy's variance ratios.
    """
    if not color_by:
        raise ValueError("color_by needs at least one obs column")
    require_columns(adata.obs, color_by, "adata.obs")
    pca = compute_pca(adata, layer, seed, n_top_genes)
    coords = pca.obsm["X_pca"]
    ratio = pca.uns["pca"]["variance_ratio"]
    y = coords[:, 1] if coords.shape[1] > 1 else np.zeros(len(coords))
    with plot_style():
        fig = new_figure(4.6 * len(color_by), 4.2)
        axes = fig.subplots(1, len(color_by), squeeze=False)[0]
        for ax, variable in zip(axes, color_by):
            values = pca.obs[variable]
            colors = level_colors(values)
            levels = [lvl for lvl in levels_of(values) if lvl in set(values.astype(str))]
            for lvl in levels:
                mask = (values.astype(str) == lvl).to_numpy()
                ax.scatter(coords[mask, 0], y[mask], s=55, color=colors[lvl], edgecolors="white", linewidths=0.6,
                           label=lvl, zorder=3)
            ax.set_xlabel(f"PC1 ({_percent(ratio[0])} variance)")
            ax.set_ylabel(f"PC2 ({_percent(ratio[1])} variance)" if len(ratio) > 1 else "PC2")
            ax.set_title(f"coloured by {variable}")
            ax.legend(title=variable, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                      handletextpad=0.3, alignment="left")
            ax.margins(0.12)
        fig.suptitle(f"PCA of samples: {pca.n_vars} most variable genes ({layer} values)")
        freeze(fig)
    return fig


def plot_sample_distances(adata: ad.AnnData, layer: str, annotate: list[str]) -> Figure:
    """Heatmap of Euclidean distances between samples, ordered by hierarchical clustering.

    Parameters
    ----------
    adata
        Samples x genes with ``adata.layers[layer]`` and the ``annotate`` obs columns.
    layer
        Layer to compute distances on (all genes, like DESeq2's vignette ``dist(t(assay(vsd)))``).
    annotate
        Obs columns shown as colour strips above and left of the heatmap.

    Returns
    -------
    Figure
        Axes labelled (``Axes.get_label()``) ``"heatmap"``, ``"colorbar"`` and ``"strip:<column>"``; the heatmap
        image holds the reordered distance matrix. Order: leaves of complete-linkage clustering (optimal
        leaf ordering).
    """
    require_columns(adata.obs, annotate, "adata.obs")
    matrix = adata.layers[layer]
    matrix = np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)
    condensed = pdist(matrix, metric="euclidean")
    order = leaves_list(linkage(condensed, method="complete", optimal_ordering=True)) if len(matrix) > 1 \
        else np.arange(len(matrix))
    distances = squareform(condensed)[np.ix_(order, order)]
    names = adata.obs_names.astype(str).to_numpy()[order]
    n, k = len(names), len(annotate)
    with plot_style():
        side, fontsize = per_sample_size(n, 0.28, 2.0, 4.0, STYLE["xtick.labelsize"])
        fig = new_figure(side + 0.35 * k + 2.6, side + 0.35 * k + 0.6)
        grid = fig.add_gridspec(2, 4, width_ratios=[0.22 * k if k else 0.01, side, 0.25, 1.9],
                                height_ratios=[0.22 * k if k else 0.01, side], wspace=0.01, hspace=0.01)
        ax = fig.add_subplot(grid[1, 1], label="heatmap")
        image = ax.imshow(distances, cmap="viridis", interpolation="nearest", aspect="auto")
        ax.set_xticks(np.arange(n), names, rotation=90, fontsize=fontsize)
        ax.set_yticks(np.arange(n), names, fontsize=fontsize)
        ax.yaxis.tick_right()
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        cax = fig.add_subplot(grid[1, 2], label="colorbar")
        bar = fig.colorbar(image, cax=cax)
        bar.set_label(f"Euclidean distance ({layer})")
        legend_ax = fig.add_subplot(grid[:, 3], label="legends")
        legend_ax.axis("off")
        if k:
            palettes = {c: level_colors(adata.obs[c]) for c in annotate}
            ordered = {c: adata.obs[c].astype(str).to_numpy()[order] for c in annotate}
            strips = np.array([[to_rgba(palettes[c][v]) for v in ordered[c]] for c in annotate])  # k x n x 4
            top_ax = fig.add_subplot(grid[0, 1], label="strips:top", sharex=ax)
            top_ax.imshow(strips, aspect="auto", interpolation="nearest")
            top_ax.set_yticks(np.arange(k), annotate)
            top_ax.yaxis.tick_right()  # labels on the right, next to the sample names, so no gap on the left
            top_ax.tick_params(length=0, labelbottom=False)
            left_ax = fig.add_subplot(grid[1, 0], label="strips:left", sharey=ax)
            left_ax.imshow(strips.transpose(1, 0, 2), aspect="auto", interpolation="nearest")
            left_ax.set_xticks(np.arange(k), annotate, rotation=90)
            left_ax.tick_params(length=0, labelleft=False)
            for strip_ax in (top_ax, left_ax):
                for spine in strip_ax.spines.values():
                    spine.set_visible(False)
            anchor = 1.0
            for column in annotate:
                present = [lvl for lvl in levels_of(adata.obs[column]) if lvl in set(ordered[column])]
                legend = legend_ax.legend(handles=legend_handles(palettes[column], present, marker="s"),
                                          title=column, loc="upper left", bbox_to_anchor=(0.0, anchor),
                                          borderaxespad=0, alignment="left")
                legend_ax.add_artist(legend)
                anchor -= (len(present) + 2) * 0.21 / (0.9 * fig.get_figheight())  # ~0.21 in per legend row
        fig.suptitle(f"Euclidean distances between samples ({layer}), clustered")
        freeze(fig)
    return fig


def write_qc_plots(qc: ad.AnnData, design_variables: list[str], seed: int, out: Mapping[str, str]) -> None:
    """Rule ``qc_plots``: library sizes, PCA and sample distances of the stabilised matrix.

    ``out`` maps ``library_sizes``, ``pca``, ``sample_distances`` (and each with ``_svg``) to paths.
    """
    group = design_variables[-1]
    save_figure(plot_library_sizes(qc.obs, group), out["library_sizes"], out["library_sizes_svg"])
    save_figure(plot_pca(qc, "vst", design_variables, seed), out["pca"], out["pca_svg"])
    save_figure(plot_sample_distances(qc, "vst", design_variables), out["sample_distances"],
                out["sample_distances_svg"])
