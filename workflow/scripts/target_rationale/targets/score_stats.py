"""The score line of the flag rule: per-sample axis scores compared between a contrast's groups."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from target_rationale.cohort.design import Contrast, select_samples

SCORE_COLUMNS = ["contrast", "axis", "score_target_mean", "score_reference_mean", "score_diff", "score_hedges_g",
                 "score_p", "score_test", "n_target", "n_reference"]
#: Complete pairs from which the score comparison is paired (Wilcoxon signed-rank) rather than Mann-Whitney.
MIN_PAIRS = 5


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


def _pairs(subset: pd.DataFrame, groups: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(target, reference) samples of the patients with exactly one sample in each group (none without a
    ``patient`` column)."""
    if "patient" not in subset.columns:
        return []
    patient = subset["patient"].astype(str)
    by_side = {side: patient.loc[samples] for side, samples in groups.items()}
    once = {side: p[~p.duplicated(keep=False)] for side, p in by_side.items()}
    target = {v: k for k, v in once["target"].items()}
    reference = {v: k for k, v in once["reference"].items()}
    return [(target[p], reference[p]) for p in target if p in reference]


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
        reference), ``score_hedges_g``, ``score_p`` and ``score_test``: the two-sided Wilcoxon signed-rank test
        of the patients' differences when the sheet has a ``patient`` column and at least :data:`MIN_PAIRS`
        patients have one sample in each group (``signed-rank, <n> pairs``), else scipy's two-sided
        Mann-Whitney U (``Mann-Whitney``); ``n_target``, ``n_reference``. NaN scores are left out; statistics
        are NaN when a group is empty.
    """
    subset = select_samples(_indexed(sheet), contrast.samples)
    values = subset[contrast.variable].astype(str)
    groups = {side: [s for s in subset.index[values == level] if s in scores.index]
              for side, level in (("target", contrast.target), ("reference", contrast.reference))}
    pairs = _pairs(subset, groups)
    from scipy.stats import mannwhitneyu, wilcoxon  # here: the report imports this module, not scipy.stats

    rows = []
    for axis in scores.columns:
        x = scores.loc[groups["target"], axis].dropna().to_numpy(dtype=float)
        y = scores.loc[groups["reference"], axis].dropna().to_numpy(dtype=float)
        complete = [(a, b) for a, b in pairs if np.isfinite(scores.loc[a, axis]) and np.isfinite(scores.loc[b, axis])]
        if len(complete) >= MIN_PAIRS:
            differences = [scores.loc[a, axis] - scores.loc[b, axis] for a, b in complete]
            p = float(wilcoxon(differences, alternative="two-sided").pvalue) if any(differences) else 1.0
            test = f"signed-rank, {len(complete)} pairs"
        else:
            p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue) if len(x) and len(y) else np.nan
            test = "Mann-Whitney"
        mean_x = float(x.mean()) if len(x) else np.nan
        mean_y = float(y.mean()) if len(y) else np.nan
        rows.append([contrast.name, axis, mean_x, mean_y, mean_x - mean_y, hedges_g(x, y), p, test, len(x), len(y)])
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)
