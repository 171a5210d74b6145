"""The patient figures (``patients.plots``): what they draw, read back from the matplotlib objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from target_rationale.core.plotting import UP_COLOR
from target_rationale.patients.plots import plot_associations


def test_forest_plot_draws_one_row_per_test_filled_where_significant() -> None:
    table = pd.DataFrame({"axis": ["EGFR", "EGFR", "VEGFR"], "covariate": ["high_glycosylation", "ca19_9", "ca19_9"],
                          "effect": [0.8, 0.1, np.nan], "ci_low": [0.4, -0.2, np.nan], "ci_high": [1.2, 0.4, np.nan],
                          "padj": [0.01, 0.6, np.nan]})
    ax = plot_associations(table).axes[0]
    rows = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert rows == {"EGFR ~ high_glycosylation": 1, "EGFR ~ ca19_9": 0}  # table order top down; untested left out
    points = ax.collections[-1]
    assert points.get_offsets()[:, 0].tolist() == [0.8, 0.1]
    faces = [tuple(c) for c in points.get_facecolors()]
    assert faces == [to_rgba(UP_COLOR), to_rgba("white")]
    empty = plot_associations(pd.DataFrame(columns=table.columns)).axes[0]
    assert "no covariate or proxy tested" in empty.texts[0].get_text()
