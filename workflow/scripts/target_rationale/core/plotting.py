"""The workflow's one plot style and the helpers every stage's figures share.

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

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from target_rationale.core.io import write_atomic  # noqa: E402

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
        freeze(fig)
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

def levels_of(values: pd.Series | Sequence) -> list[str]:
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
        all_levels = levels_of(pd.Series(levels))
    else:
        all_levels = sorted({str(v) for v in levels if not pd.isna(v)})
    colors = {lvl: KNOWN_LEVEL_COLORS[lvl] for lvl in all_levels if lvl in KNOWN_LEVEL_COLORS}
    free = [c for c in PALETTE if c not in KNOWN_LEVEL_COLORS.values()]
    others = sorted(lvl for lvl in all_levels if lvl not in KNOWN_LEVEL_COLORS)
    for i, lvl in enumerate(others):
        colors[lvl] = free[i % len(free)]
    return colors


# ---------------------------------------------------------------------------------------------------- helpers

#: Longest side, in inches, that one label per sample may stretch a figure to (see :func:`per_sample_size`).
MAX_LABELLED_INCHES = 18.0


def per_sample_size(n: int, inches_each: float, fixed: float, minimum: float, fontsize: float) -> tuple[float, float]:
    """Length (inches) of a figure side carrying one label per sample, and the labels' font size.

    ``fixed + inches_each * n`` (at least ``minimum``) while that stays under :data:`MAX_LABELLED_INCHES`;
    beyond it the side stays there and the labels shrink to fit (about 5 pt at 200 samples). Without the cap a
    200-sample distance heatmap was 58 x 58 inches: a 76-megapixel canvas, 24 s and 4.3 GB to save.
    """
    length = max(minimum, fixed + inches_each * n)
    if length <= MAX_LABELLED_INCHES:
        return length, fontsize
    return MAX_LABELLED_INCHES, max(2.0, fontsize * (MAX_LABELLED_INCHES - fixed) / (inches_each * n))


def text_inches(labels: Sequence[str], fontsize: float) -> float:
    """Width, in inches, of the widest of ``labels`` in the workflow's font at ``fontsize`` points (0 if none).

    For figures whose width must follow their tick labels (term names): at a fixed width, long labels left the
    constrained layout no room for the axes, it gave up with a warning and the plot kept the default margins.
    """
    if not len(labels):
        return 0.0
    renderer = RendererAgg(1, 1, 72)  # at 72 dpi a pixel is a point
    with plot_style():
        prop = FontProperties(size=fontsize)
        width = max(renderer.get_text_width_height_descent(str(label), prop, ismath=False)[0] for label in labels)
    return width / 72


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas, not tracked by pyplot, with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def freeze(fig: Figure) -> Figure:
    """Run the constrained layout once, then fix it, so every later draw (each save) places things identically.

    Without this, each save re-runs the layout, which moves axes by tiny amounts between the first and second
    draw, so the first saved file would differ from later ones.
    """
    if fig.get_layout_engine() is not None and not isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    return fig


def legend_handles(colors: Mapping[str, str], levels: Sequence[str], marker: str = "o") -> list[Line2D]:
    return [Line2D([], [], ls="", marker=marker, markersize=7, markerfacecolor=colors[lvl], markeredgecolor="none",
                   label=lvl) for lvl in levels]


def gene_label(row: pd.Series) -> str:
    symbol = row.get("symbol")
    if isinstance(symbol, str) and symbol.strip():
        return symbol
    return str(row.get("gene_id", row.name))


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def label_points(ax: Axes, x: np.ndarray, y: np.ndarray, labels: Sequence[str],
                  avoid: np.ndarray | None = None, fontsize: float = LABEL_FONTSIZE) -> list:
    """Label points with gene symbols, trying offsets around each point so labels do not overlap.

    Axis limits must be final before this is called. Each label tries a ring of offsets of growing radius and
    takes the first that overlaps no earlier label, no labelled point, none of the ``avoid`` points (data
    coordinates, n x 2) and stays inside the axes; failing that, the position with the least overlap. Labels
    away from their point get a thin leader line.
    """
    fig = ax.figure
    freeze(fig)  # display coordinates must be final (labels stay inside the axes, so the layout holds)
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


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} lacks column(s) {', '.join(missing)}")
