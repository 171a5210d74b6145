"""Enrichment figures: widths that follow the term labels, so the constrained layout never gives up."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from target_rationale.core.plotting import text_inches
from target_rationale.enrichment.plots import plot_comparison_heatmap, plot_gsea_dots

CONTRASTS = ["primary_vs_normal", "liver_met_vs_normal", "liver_met_vs_primary"]
#: Term names as long as GO's longest (cut at 48 or 40 characters in the labels).
LONG_NAMES = [f"regulation of transmembrane receptor protein tyrosine kinase signaling pathway {i}"
              for i in range(30)]


def _built(build: Callable[[], Figure]) -> tuple[Figure, list[str]]:
    """The figure and the constrained-layout warnings raised while building it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = build()
    return fig, [str(w.message) for w in caught if "constrained_layout" in str(w.message)]


def test_text_inches_measures_the_widest_label_in_the_font() -> None:
    assert text_inches([], 9) == 0.0
    short, long = text_inches(["ab"], 9), text_inches(["ab" * 20], 9)
    assert 0.05 < short < 0.5
    assert long == pytest.approx(20 * short, rel=0.05)
    assert text_inches(["ab" * 20], 18) == pytest.approx(2 * long, rel=0.1)  # font hinting: not exactly linear
    assert text_inches(["ab", "ab" * 20], 9) == long


def test_gsea_dots_with_long_term_names_widen_and_keep_their_layout() -> None:
    table = pd.DataFrame({"term_id": [f"GO:{i:07d}" for i in range(20)], "term_name": LONG_NAMES[:20],
                          "nes": np.r_[np.linspace(3, 1.5, 10), np.linspace(-1.5, -3, 10)],
                          "pvalue": np.full(20, 1e-5), "fdr": np.geomspace(1e-12, 0.3, 20),
                          "size": np.linspace(15, 400, 20).astype(int)})
    long, warned = _built(lambda: plot_gsea_dots(table, "GSEA: a, GO_BP", 0.05))
    assert warned == []  # at the former fixed 7.4 inches the layout collapsed and was not applied
    short, warned = _built(lambda: plot_gsea_dots(table.assign(term_name=[f"t{i}" for i in range(20)]),
                                                  "GSEA: a, GO_BP", 0.05))
    assert warned == []
    assert short.get_size_inches()[0] == 7.4
    assert long.get_size_inches()[0] > short.get_size_inches()[0] + 2.5


def test_comparison_heatmap_with_long_term_names_keeps_its_layout() -> None:
    comparison = pd.DataFrame({"term_id": [f"GO:{i:07d}" for i in range(30)], "term_name": LONG_NAMES,
                               "class": ["shared_stronger_in:liver_met_vs_normal"] * 30,
                               **{f"nes_{c}": np.linspace(2, 3, 30) for c in CONTRASTS},
                               **{f"fdr_{c}": np.full(30, 1e-4) for c in CONTRASTS}})
    fig, warned = _built(lambda: plot_comparison_heatmap(comparison, CONTRASTS, 0.05))
    assert warned == []
    assert fig.get_size_inches()[0] > 4.0 + 0.9 * len(CONTRASTS) + 3
