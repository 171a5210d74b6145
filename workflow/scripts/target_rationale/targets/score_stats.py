"""The score line of the flag rule: per-sample axis scores compared between a contrast's groups."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from target_rationale.cohort.design import Contrast, select_samples

SCORE_COLUMNS = ["contrast", "axis", "score_target_mean", "score_reference_mean", "score_diff", "score_hedges_g",
                 "score_p", "n_target", "n_reference"]


def hedges_g(target: Sequence[float], reference: Sequence[float]) -> float:
    """Hedges' g of ``target`` minus ``reference``: Cohen's d with the pooled SD, times ``1 - 3 / (4 (n1 + n2) - 9)``.

    NaN with fewer than two values in a group or a zero pooled SD.
    """
    x, y = np.asarray(target, dtype=float), np.asarray(reference, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return np.nan
    pooled = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return np.nan
    return float((x.mean() - y.mean()) / pooled * (1 - 3 / (4 * (n1 + n2) - 9)))


def _indexed(sheet: pd.DataFrame) -> pd.DataFrame:
    """The sample sheet indexed by sample name (from its ``sample`` column if it has one)."""
    return sheet.set_index("sample", drop=False) if "sample" in sheet.columns else sheet


def score_contrast(scores: pd.DataFrame, sheet: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Axis scores compared between a contrast's target and reference groups.

    Parameters
    ----------
    scores : pandas.DataFrame
        Samples x axes (:func:`.scores.axis_scores`).
    sheet : pandas.DataFrame
        Sample sheet, indexed by sample or with a ``sample`` column.
    contrast : Contrast
        Groups are ``variable == target`` and ``variable == reference`` within the contrast's ``samples`` subset.

    Returns
    -------
    pandas.DataFrame
        One row per axis: ``score_target_mean``, ``score_reference_mean``, ``score_diff`` (target minus
        reference), ``score_hedges_g``, ``score_p`` (scipy two-sided Mann-Whitney U; unpaired, so it ignores
        pairing by patient and is conservative for paired designs), ``n_target``, ``n_reference``. NaN scores are
        left out; statistics are NaN when a group is empty.
    """
    subset = select_samples(_indexed(sheet), contrast.samples)
    values = subset[contrast.variable].astype(str)
    groups = {side: [s for s in subset.index[values == level] if s in scores.index]
              for side, level in (("target", contrast.target), ("reference", contrast.reference))}
    rows = []
    for axis in scores.columns:
        x = scores.loc[groups["target"], axis].dropna().to_numpy(dtype=float)
        y = scores.loc[groups["reference"], axis].dropna().to_numpy(dtype=float)
        p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue) if len(x) and len(y) else np.nan
        mean_x = float(x.mean()) if len(x) else np.nan
        mean_y = float(y.mean()) if len(y) else np.nan
        rows.append([contrast.name, axis, mean_x, mean_y, mean_x - mean_y, hedges_g(x, y), p, len(x), len(y)])
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)
