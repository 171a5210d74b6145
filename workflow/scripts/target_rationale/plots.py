"""The workflow's one plot style, and its QC and differential-expression figures.

Every plotting function here is pure: it takes data and returns a :class:`matplotlib.figure.Figure` (created
without pyplot, on the non-interactive Agg canvas), and the caller saves it with :func:`save_figure`, which
writes a 150 dpi PNG and an SVG atomically and then closes the figure.

Style decisions (all in :data:`STYLE`, applied by :func:`plot_style` around figure creation and saving):

* DejaVu Sans (bundled with matplotlib, so output does not depend on the machine's fonts), 10 pt body text,
  no top/right spines, no legend frames.
* Colours come from the colour-blind-safe Okabe-Ito palette (extended with Paul Tol's "muted" palette when a
  variable has more levels). :func:`level_colors` gives every group level a fixed colour: the cohort's site
  levels always get the same colour, and other levels get colours in sorted order of the variable's full
  level set (a pandas Categorical's categories, unused ones included), so the same level keeps its colour
  across plots even when some levels are missing from one of them.
* Up-regulated genes are vermillion, down-regulated blue, the rest grey, in every DE plot.
* SVG text is kept as text (``svg.fonttype: none``), ids are salted with a fixed ``svg.hashsalt`` and the
  ``Date`` metadata is dropped, so the same figure gives byte-identical PNG and SVG files on every run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import ListedColormap, to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from target_rationale.runtime import write_atomic  # noqa: E402

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "DOWN_COLOR", "KNOWN_LEVEL_COLORS", "NS_COLOR", "OKABE_ITO", "PALETTE", "STYLE", "UP_COLOR",
    "apply_style", "compute_pca", "level_colors", "plot_dispersions", "plot_library_sizes", "plot_ma",
    "plot_pca", "plot_sample_distances", "plot_style", "plot_volcano", "save_figure", "top_variable_genes",
]

#: Okabe & Ito (2008) colour-blind-safe palette (yellow last: it is hard to see on white).
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#F0E442"]
#: Paul Tol's "muted" palette, also colour-blind safe, used after Okabe-Ito for variables with many levels.
TOL_MUTED = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"]
#: Colours handed out to levels in sorted order (cycled if a variable has even more levels).
PALETTE = OKABE_ITO + TOL_MUTED
#: Levels of this workflow that always get the same colour, whatever else is in the plot.
KNOWN_LEVEL_COLORS = {"normal_pancreas": "#009E73", "primary": "#0072B2", "liver_metastasis": "#D55E00"}
UP_COLOR = "#D55E00"    # vermillion
DOWN_COLOR = "#0072B2"  # blue
NS_COLOR = "#BBBBBB"    # grey: not significant
FITTED_COLOR = "#D55E00"  # DESeq2's red trend line, as Okabe-Ito vermillion
FINAL_COLOR = "#0072B2"   # DESeq2's blue final dispersions, as Okabe-Ito blue

PNG_DPI = 150
#: Scatter layers with more points than this are rasterised in the SVG (see :func:`save_figure`).
RASTERIZE_ABOVE = 5000

STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "normal",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "image.cmap": "viridis",
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "svg.fonttype": "none",
    "svg.hashsalt": "target_rationale",
    "svg.image_inline": True,
    "path.simplify": True,
}

LABEL_FONTSIZE = 8


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """Apply the workflow's plot style (:data:`STYLE`) for the duration of the ``with`` block."""
    with matplotlib.rc_context(STYLE):
        yield


def apply_style() -> None:
    """Apply the workflow's plot style globally (for scripts that draw figures of their own)."""
    matplotlib.rcParams.update(STYLE)


def save_figure(fig: Figure, png_path: str | Path, svg_path: str | Path) -> None:
    """Save ``fig`` as a 150 dpi PNG and as an SVG, each written atomically, then close the figure.

    Output is byte-identical between runs: fixed SVG hash salt, no ``Date`` metadata, fonts from matplotlib,
    and the figure's layout is settled and then fixed before the first save (saving it again repeats it).
    In the SVG, point clouds of more than :data:`RASTERIZE_ABOVE` points (MA, volcano and dispersion plots of a
    whole transcriptome) are embedded as a 150 dpi image under vector axes and text: 45,000 vector markers
    made a 4 MB file that took longer to write than the rest of the job.

    Parameters
    ----------
    fig
        The figure to save.
    png_path, svg_path
        Output paths (their parent folders are created).
    """
    with plot_style():
        _freeze(fig)
        write_atomic(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=PNG_DPI, bbox_inches="tight",
                                                       pad_inches=0.05, metadata={"Software": None}))
        for ax in fig.axes:
            for collection in ax.collections:
                offsets = collection.get_offsets()
                if offsets is not None and len(offsets) > RASTERIZE_ABOVE:
                    collection.set_rasterized(True)
        write_atomic(svg_path, lambda tmp: fig.savefig(tmp, format="svg", dpi=PNG_DPI, bbox_inches="tight",
                                                       pad_inches=0.05, metadata={"Date": None}))
    import matplotlib.pyplot as plt  # only to release figures that pyplot may be tracking

    plt.close(fig)


# ---------------------------------------------------------------------------------------------------- colours

def _levels_of(values: pd.Series | Sequence) -> list[str]:
    """The full, ordered level set of a grouping variable (Categorical categories, else sorted unique values)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [str(c) for c in series.cat.categories]
    return sorted({str(v) for v in series.dropna()})


def level_colors(levels: Sequence | pd.Series) -> dict[str, str]:
    """A fixed colour for every level of a grouping variable.

    Levels in :data:`KNOWN_LEVEL_COLORS` (the cohort's sites) always get their own colour. The remaining
    levels get the remaining :data:`PALETTE` colours in sorted order of the full level set, so passing a
    pandas Categorical (or Series of one) keeps colours stable when some categories are absent from the data.

    Parameters
    ----------
    levels
        The levels (any order, duplicates allowed), or a Series whose categories/unique values are the levels.

    Returns
    -------
    dict
        Level (as ``str``) -> hex colour.
    """
    if isinstance(levels, pd.Series) or isinstance(levels, pd.Categorical):
        all_levels = _levels_of(pd.Series(levels))
    else:
        all_levels = sorted({str(v) for v in levels if not pd.isna(v)})
    colors = {lvl: KNOWN_LEVEL_COLORS[lvl] for lvl in all_levels if lvl in KNOWN_LEVEL_COLORS}
    free = [c for c in PALETTE if c not in KNOWN_LEVEL_COLORS.values()]
    others = sorted(lvl for lvl in all_levels if lvl not in KNOWN_LEVEL_COLORS)
    for i, lvl in enumerate(others):
        colors[lvl] = free[i % len(free)]
    return colors


# ---------------------------------------------------------------------------------------------------- helpers

#: Longest side, in inches, that one label per sample may stretch a figure to (see :func:`_per_sample`).
MAX_LABELLED_INCHES = 18.0


def _per_sample(n: int, inches_each: float, fixed: float, minimum: float, fontsize: float) -> tuple[float, float]:
    """Length (inches) of a figure side carrying one label per sample, and the labels' font size.

    ``fixed + inches_each * n`` (at least ``minimum``) while that stays under :data:`MAX_LABELLED_INCHES`;
    beyond it the side stays there and the labels shrink to fit (about 5 pt at 200 samples). Without the cap a
    200-sample distance heatmap was 58 x 58 inches: a 76-megapixel canvas, 24 s and 4.3 GB to save.
    """
    length = max(minimum, fixed + inches_each * n)
    if length <= MAX_LABELLED_INCHES:
        return length, fontsize
    return MAX_LABELLED_INCHES, max(2.0, fontsize * (MAX_LABELLED_INCHES - fixed) / (inches_each * n))


def _new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas, not tracked by pyplot, with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _freeze(fig: Figure) -> Figure:
    """Run the constrained layout once, then fix it, so every later draw (each save) places things identically.

    Without this, each save re-runs the layout, which moves axes by tiny amounts between the first and second
    draw, so the first saved file would differ from later ones.
    """
    if fig.get_layout_engine() is not None and not isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    return fig


def _legend_handles(colors: Mapping[str, str], levels: Sequence[str], marker: str = "o") -> list[Line2D]:
    return [Line2D([], [], ls="", marker=marker, markersize=7, markerfacecolor=colors[lvl], markeredgecolor="none",
                   label=lvl) for lvl in levels]


def _gene_label(row: pd.Series) -> str:
    symbol = row.get("symbol")
    if isinstance(symbol, str) and symbol.strip():
        return symbol
    return str(row.get("gene_id", row.name))


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _label_points(ax: Axes, x: np.ndarray, y: np.ndarray, labels: Sequence[str],
                  avoid: np.ndarray | None = None, fontsize: float = LABEL_FONTSIZE) -> list:
    """Label points with gene symbols, trying offsets around each point so labels do not overlap.

    Axis limits must be final before this is called. Each label tries a ring of offsets of growing radius and
    takes the first that overlaps no earlier label, no labelled point, none of the ``avoid`` points (data
    coordinates, n x 2) and stays inside the axes; failing that, the position with the least overlap. Labels
    away from their point get a thin leader line.
    """
    fig = ax.figure
    _freeze(fig)  # display coordinates must be final (labels stay inside the axes, so the layout holds)
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([x, y])) if len(x) else np.empty((0, 2))
    scale = fig.dpi / 72.0
    point_boxes = [Bbox.from_extents(px - 3 * scale, py - 3 * scale, px + 3 * scale, py + 3 * scale)
                   for px, py in points]
    others = ax.transData.transform(np.asarray(avoid, dtype=float)) if avoid is not None and len(avoid) \
        else np.empty((0, 2))
    others = others[np.isfinite(others).all(axis=1)]
    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0)]
    radii = [5, 12, 20, 30, 42, 56]
    placed: list[Bbox] = []
    texts = []
    order = np.argsort(-points[:, 1], kind="stable") if len(x) else []
    for i in order:
        best = None
        for radius in radii:
            for dx, dy in directions:
                ox, oy = dx * radius, dy * radius
                ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
                va = "bottom" if dy > 0 else ("top" if dy < 0 else "center")
                text = ax.annotate(labels[i], xy=(x[i], y[i]), xytext=(ox, oy), textcoords="offset points",
                                   ha=ha, va=va, fontsize=fontsize, zorder=5)
                box = text.get_window_extent(renderer)
                text.remove()
                inside = (box.x0 >= axes_box.x0 and box.x1 <= axes_box.x1 and box.y0 >= axes_box.y0
                          and box.y1 <= axes_box.y1)
                cost = sum(_overlap(box, other) for other in placed) + sum(
                    _overlap(box, other) for other in point_boxes) + (0 if inside else 1e6)
                if len(others):
                    covered = ((others[:, 0] >= box.x0 - 2) & (others[:, 0] <= box.x1 + 2)
                               & (others[:, 1] >= box.y0 - 2) & (others[:, 1] <= box.y1 + 2)).sum()
                    cost += 10.0 * scale * scale * covered
                if best is None or cost < best[0]:
                    best = (cost, ox, oy, ha, va, radius, box)
                if cost == 0:
                    break
            if best is not None and best[0] == 0:
                break
        _, ox, oy, ha, va, radius, box = best
        arrow = dict(arrowstyle="-", lw=0.5, color="0.35", shrinkA=1, shrinkB=3) if radius > radii[0] else None
        text = ax.annotate(labels[i], xy=(x[i], y[i]), xytext=(ox, oy), textcoords="offset points", ha=ha, va=va,
                           fontsize=fontsize, zorder=5, arrowprops=arrow)
        text.set_gid("gene-label")
        placed.append(box)
        texts.append(text)
    return texts


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} lacks column(s) {', '.join(missing)}")


# ---------------------------------------------------------------------------------------------------- QC plots

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
    _require(obs, ["library_size", group], "obs")
    with plot_style():
        levels = _levels_of(obs[group])
        colors = level_colors(obs[group])
        rank = {lvl: i for i, lvl in enumerate(levels)}
        frame = pd.DataFrame({"sample": obs.index.astype(str), "group": obs[group].astype(str).to_numpy(),
                              "size": obs["library_size"].to_numpy(dtype=float) / 1e6})
        frame["rank"] = frame["group"].map(rank)
        frame = frame.sort_values(["rank", "sample"], kind="mergesort")
        width, fontsize = _per_sample(len(frame), 0.32, 1.2, 5.0, STYLE["xtick.labelsize"])
        fig = _new_figure(width, 4.2)
        ax = fig.add_subplot()
        ax.bar(np.arange(len(frame)), frame["size"], color=[colors[g] for g in frame["group"]], width=0.8)
        ax.set_xticks(np.arange(len(frame)), frame["sample"], rotation=90, fontsize=fontsize)
        ax.set_xlim(-0.6, len(frame) - 0.4)
        ax.set_xlabel("sample")
        ax.set_ylabel("library size (million reads)")
        ax.set_title(f"Library size (total counted reads) per sample, by {group}")
        present = [lvl for lvl in levels if lvl in set(frame["group"])]
        ax.legend(handles=_legend_handles(colors, present, marker="s"), title=group, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0, alignment="left")
        _freeze(fig)
    return fig


def top_variable_genes(matrix: np.ndarray, n_top_genes: int) -> np.ndarray:
    """Column indices of the ``n_top_genes`` columns with the largest variance (ties kept in column order).

    Like DESeq2's ``plotPCA``: per-gene variance across samples (``ddof=1``) of the stabilised matrix.
    """
    variance = np.var(np.asarray(matrix, dtype=float), axis=0, ddof=1)
    order = np.argsort(-variance, kind="stable")
    return np.sort(order[: min(n_top_genes, matrix.shape[1])])


def compute_pca(adata: AnnData, layer: str, seed: int, n_top_genes: int = 500) -> AnnData:
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
    AnnData
        A new object (samples x selected genes, ``X`` = the layer values, ``obs`` copied) with
        ``obsm["X_pca"]`` and ``uns["pca"]["variance_ratio"]`` (share of total variance, all components kept).
    """
    import anndata as ad
    import scanpy as sc

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


def plot_pca(adata: AnnData, layer: str, color_by: list[str], seed: int, n_top_genes: int = 500) -> Figure:
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
    _require(adata.obs, color_by, "adata.obs")
    pca = compute_pca(adata, layer, seed, n_top_genes)
    coords = pca.obsm["X_pca"]
    ratio = pca.uns["pca"]["variance_ratio"]
    y = coords[:, 1] if coords.shape[1] > 1 else np.zeros(len(coords))
    with plot_style():
        fig = _new_figure(4.6 * len(color_by), 4.2)
        axes = fig.subplots(1, len(color_by), squeeze=False)[0]
        for ax, variable in zip(axes, color_by):
            values = pca.obs[variable]
            colors = level_colors(values)
            levels = [lvl for lvl in _levels_of(values) if lvl in set(values.astype(str))]
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
        _freeze(fig)
    return fig


def plot_sample_distances(adata: AnnData, layer: str, annotate: list[str]) -> Figure:
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
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import pdist, squareform

    _require(adata.obs, annotate, "adata.obs")
    matrix = adata.layers[layer]
    matrix = np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)
    condensed = pdist(matrix, metric="euclidean")
    order = leaves_list(linkage(condensed, method="complete", optimal_ordering=True)) if len(matrix) > 1 \
        else np.arange(len(matrix))
    distances = squareform(condensed)[np.ix_(order, order)]
    names = adata.obs_names.astype(str).to_numpy()[order]
    n, k = len(names), len(annotate)
    with plot_style():
        side, fontsize = _per_sample(n, 0.28, 2.0, 4.0, STYLE["xtick.labelsize"])
        fig = _new_figure(side + 0.35 * k + 2.6, side + 0.35 * k + 0.6)
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
                present = [lvl for lvl in _levels_of(adata.obs[column]) if lvl in set(ordered[column])]
                legend = legend_ax.legend(handles=_legend_handles(palettes[column], present, marker="s"),
                                          title=column, loc="upper left", bbox_to_anchor=(0.0, anchor),
                                          borderaxespad=0, alignment="left")
                legend_ax.add_artist(legend)
                anchor -= (len(present) + 2) * 0.21 / (0.9 * fig.get_figheight())  # ~0.21 in per legend row
        fig.suptitle(f"Euclidean distances between samples ({layer}), clustered")
        _freeze(fig)
    return fig


# ---------------------------------------------------------------------------------------------------- DE plots

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
    _require(var, ["_normed_means", "genewise_dispersions", "fitted_dispersions", "dispersions"], "var")
    mean = var["_normed_means"].to_numpy(dtype=float)

    def finite(column: str) -> tuple[np.ndarray, np.ndarray]:
        values = var[column].to_numpy(dtype=float)
        ok = np.isfinite(mean) & np.isfinite(values) & (mean > 0) & (values > 0)
        return mean[ok], values[ok]

    with plot_style():
        fig = _new_figure(5.6, 4.6)
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
        _freeze(fig)
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
    _require(table, ["symbol", "baseMean", "log2FoldChange", "padj"], "table")
    column, shrunk = _lfc_column(table)
    data = table[(table["baseMean"] > 0) & table[column].notna()].reset_index(drop=True)
    x = data["baseMean"].to_numpy(dtype=float)
    y = data[column].to_numpy(dtype=float)
    sig = (data["padj"] < alpha).to_numpy()
    up, down = sig & (y > 0), sig & (y < 0)
    with plot_style():
        fig = _new_figure(6.4, 4.8)
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
            _label_points(ax, x[rows], y[rows], [_gene_label(data.iloc[i]) for i in rows],
                          avoid=np.column_stack([x, y]))
        _freeze(fig)
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
    _require(table, ["symbol", "log2FoldChange", "pvalue", "padj"], "table")
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
        fig = _new_figure(6.6, 5.2)
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
            _label_points(ax, x[idx], y[idx], [_gene_label(data.loc[i]) for i in rows],
                          avoid=np.column_stack([x, y]))
        _freeze(fig)
    return fig


# ---- what the rules call ---------------------------------------------------------------------------------------


def write_qc_plots(qc: AnnData, design_variables: list[str], seed: int, out: Mapping[str, str]) -> None:
    """Rule ``qc_plots``: library sizes, PCA and sample distances of the stabilised matrix.

    ``out`` maps ``library_sizes``, ``pca``, ``sample_distances`` (and each with ``_svg``) to paths.
    """
    group = design_variables[-1]
    save_figure(plot_library_sizes(qc.obs, group), out["library_sizes"], out["library_sizes_svg"])
    save_figure(plot_pca(qc, "vst", design_variables, seed), out["pca"], out["pca_svg"])
    save_figure(plot_sample_distances(qc, "vst", design_variables), out["sample_distances"],
                out["sample_distances_svg"])


def write_contrast_plots(table: pd.DataFrame, contrast_label: str, alpha: float, lfc_threshold: float,
                         highlight: list[str], out: Mapping[str, str]) -> None:
    """Rule ``contrast_plots``: MA and volcano plot of one contrast's table."""
    save_figure(plot_ma(table, contrast_label, alpha, highlight), out["ma"], out["ma_svg"])
    save_figure(plot_volcano(table, contrast_label, alpha, lfc_threshold, highlight), out["volcano"],
                out["volcano_svg"])


# ---------------------------------------------------------------------------------------------------- enrichment


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
    with plot_style():
        fig = _new_figure(7.4, 1.2 + 0.28 * max(len(chosen), 3))
        ax = fig.add_subplot()
        if chosen.empty:
            ax.text(0.5, 0.5, "no terms tested", ha="center", va="center", transform=ax.transAxes)
        else:
            fdr = np.clip(chosen["fdr"].to_numpy(dtype=float), 1e-300, 1)
            points = ax.scatter(chosen["nes"], np.arange(len(chosen)), s=15 + 1.2 * chosen["size"].clip(upper=300),
                                c=-np.log10(fdr), cmap="viridis", vmin=0, edgecolors="black", linewidths=0.4)
            ax.set_yticks(np.arange(len(chosen)), [_term_label(t, n) for t, n in zip(chosen["term_id"],
                                                                                    chosen["term_name"])])
            ax.axvline(0, color="0.6", lw=0.8)
            significant = chosen["fdr"] < fdr_threshold
            for y, (nes, sig) in enumerate(zip(chosen["nes"], significant)):
                if sig:
                    ax.annotate("*", (nes, y), xytext=(6, -3), textcoords="offset points", fontsize=10)
            fig.colorbar(points, ax=ax, label="−log10 FDR", shrink=0.8)
            for size in (25, 100, 300):
                ax.scatter([], [], s=15 + 1.2 * size, color="white", edgecolors="black", linewidths=0.4,
                           label=f"{size} genes")
            ax.legend(title="set size", loc="upper left", bbox_to_anchor=(1.25, 1.0), borderaxespad=0,
                      labelspacing=1.2)
        ax.set_xlabel(f"normalised enrichment score (* FDR < {fdr_threshold:g})")
        ax.set_title(title)
        _freeze(fig)
    return fig


def plot_ora_dots(up: pd.DataFrame, down: pd.DataFrame, title: str, fdr_threshold: float,
                  n_top: int = 10) -> Figure:
    """Dot plots of the most over-represented terms among up- and down-regulated genes (odds ratio, FDR)."""
    with plot_style():
        fig = _new_figure(7.6, 1.4 + 0.3 * max(n_top, 3) * 2)
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
        _freeze(fig)
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
    with plot_style():
        fig = _new_figure(4.0 + 0.9 * len(contrasts), 1.6 + 0.26 * max(len(chosen), 3))
        ax = fig.add_subplot()
        image = ax.imshow(np.ma.masked_invalid(nes), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i in range(nes.shape[0]):
            for j in range(nes.shape[1]):
                if fdr[i, j] < fdr_threshold:
                    ax.text(j, i, "*", ha="center", va="center", fontsize=11)
        ax.set_xticks(np.arange(len(contrasts)), contrasts, rotation=30, ha="right")
        ax.set_yticks(np.arange(len(chosen)), [f"{_term_label(t, n, 40)}  [{k}]" for t, n, k in
                                               zip(chosen["term_id"], chosen["term_name"], chosen["class"])])
        fig.colorbar(image, ax=ax, label="NES", shrink=0.6)
        ax.set_title(f"Top terms across contrasts (* FDR < {fdr_threshold:g}; [class])")
        _freeze(fig)
    return fig


def plot_enrichment_curves(ranked: pd.Series, terms: list[tuple[str, str, tuple[str, ...]]],
                           results: pd.DataFrame, title: str) -> Figure:
    """Running enrichment score and hit positions for a few terms (e.g. those of the target axes).

    ``terms`` are ``(term_id, term_name, genes)``; ``results`` (the GSEA table) supplies NES and FDR for the
    panel titles.
    """
    from .enrichment import running_sum

    by_id = results.set_index("term_id") if len(results) else pd.DataFrame()
    with plot_style():
        fig = _new_figure(6.4, 0.6 + 2.2 * max(len(terms), 1))
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
        _freeze(fig)
    return fig


# ---------------------------------------------------------------------------------------------------- target axes


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
        width, fontsize = _per_sample(len(order), 0.22, 2.5, 0.0, 7.0)
        fig = _new_figure(width, 1.8 + 0.17 * max(len(rows), 4))
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
        ax.legend(handles=_legend_handles(colors, _levels_of(qc.obs[group]), marker="s"), title=group,
                  loc="upper left", bbox_to_anchor=(1.12, 1.0), borderaxespad=0)
        if annotate:
            ax.set_xticks(np.arange(len(order)),
                          [f"{s} ({qc.obs.loc[s, annotate]})" for s in order], rotation=90, fontsize=fontsize)
        fig.colorbar(image, ax=ax, label="VST, centred per gene (log2)", shrink=0.5, pad=0.05)
        ax.set_title("Target-axis genes across samples")
        _freeze(fig)
    return fig


def plot_axis_scores(scores: pd.DataFrame, axes: list[str], group: str) -> Figure:
    """Per-sample axis scores by group: one panel per axis, points with the group mean."""
    levels = _levels_of(scores[group])
    colors = level_colors(scores[group])
    with plot_style():
        fig = _new_figure(2.4 * max(len(axes), 1) + 1.2, 3.6)
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
        _freeze(fig)
    return fig


def plot_evidence_grid(table: pd.DataFrame) -> Figure:
    """Axis x contrast grid: the flag as colour, the three evidence votes as text in each cell."""
    contrasts = list(dict.fromkeys(table["contrast"]))
    axes = list(dict.fromkeys(table["axis"]))
    value = {"up": 1.0, "down": -1.0, "none": 0.0}
    grid = np.zeros((len(axes), len(contrasts)))
    with plot_style():
        fig = _new_figure(2.0 + 2.1 * len(contrasts), 1.4 + 0.75 * len(axes))
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
        _freeze(fig)
    return fig


def write_target_plots(qc: AnnData, scores: pd.DataFrame, table: pd.DataFrame, axes: Mapping[str, Sequence[str]],
                       group: str, annotate: str | None, out: Mapping[str, str]) -> None:
    """Rule ``target_plots``: axis-gene heatmap, axis scores by group, evidence grid."""
    save_figure(plot_axis_genes(qc, axes, group, annotate), out["heatmap"], out["heatmap_svg"])
    save_figure(plot_axis_scores(scores, list(axes), group), out["scores"], out["scores_svg"])
    save_figure(plot_evidence_grid(table), out["grid"], out["grid_svg"])
