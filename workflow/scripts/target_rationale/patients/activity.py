"""Per-sample axis activity: is a tumour's axis score above what the rule calls inactive.

Two rules, stated in the table (``rule``):

* ``normal`` (:func:`normal_threshold`): active above a one-sided normal tolerance bound of the normal-tissue
  samples' scores, ``mean + k x sd`` with ``k`` from :func:`~target_rationale.core.stats.normal_tolerance_factor`:
  the bound lies above ``content`` (95%) of normal tissue with ``confidence`` (95%), which accounts for how few
  normals there are (with 14 normals k = 2.4 sd, not the 1.64 of a known normal distribution nor the raw 95th
  percentile of a handful of samples). A tumour whose axis is as in normal tissue is called active with
  probability at most 1 - ``content`` (less on average: the bound is conservative by ``confidence``).
* ``cohort`` (:func:`mixture_active`): without normals, the tumours' scores are fitted with one and with two
  normal components (scikit-learn's GaussianMixture, seeded); when two fit better by BIC, the tumours more likely
  in the upper component are active, else none is: the rule can find zero active tumours.

Pure functions: scores and sheets in, tables out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from target_rationale.core.stats import normal_tolerance_factor
from target_rationale.patients.settings import Layout, PatientSettings

ACTIVITY_COLUMNS = ["sample", "patient", "site", "axis", "score", "threshold", "rule", "active"]


def normal_threshold(normal_scores: Sequence[float], content: float, confidence: float) -> float:
    """``mean + k x sd`` of the normal-tissue scores (``k``: the one-sided tolerance factor for their number);
    NaN with fewer than 2 finite scores."""
    values = np.asarray(normal_scores, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan")
    k = normal_tolerance_factor(len(values), content, confidence)
    return float(values.mean() + k * values.std(ddof=1))


def mixture_active(scores: Sequence[float], seed: int = 0) -> tuple[np.ndarray, float]:
    """Which of ``scores`` sit in the upper of two normal components, when two fit better than one.

    Returns
    -------
    active : numpy.ndarray of bool
        All False when one component fits better by BIC (or the upper component takes every score).
    threshold : float
        The lowest active score (NaN when none is active).
    """
    values = np.asarray(scores, dtype=float).reshape(-1, 1)
    fits = [GaussianMixture(n_components=k, n_init=5, random_state=seed).fit(values) for k in (1, 2)]
    if fits[1].bic(values) >= fits[0].bic(values):
        return np.zeros(len(values), dtype=bool), float("nan")
    upper = int(np.argmax(fits[1].means_.ravel()))
    active = fits[1].predict_proba(values)[:, upper] > 0.5
    if active.all():
        return np.zeros(len(values), dtype=bool), float("nan")
    return active, float(values[active].min()) if active.any() else float("nan")


def chosen_rule(settings: PatientSettings, n_normals: int) -> str:
    """The rule used: ``settings.activity``, with ``auto`` meaning ``normal`` when there are at least
    ``min_normals`` normal samples."""
    if settings.activity != "auto":
        return settings.activity
    return "normal" if n_normals >= settings.min_normals else "cohort"


def activity_table(scores: pd.DataFrame, sheet: pd.DataFrame, where: Layout, settings: PatientSettings,
                   seed: int = 0) -> pd.DataFrame:
    """Score and activity call of every tumour sample x axis.

    Parameters
    ----------
    scores : pandas.DataFrame
        Samples x axes (the target stage's scores, indexed by sample).
    sheet : pandas.DataFrame
        The sample sheet (indexed by sample), with ``where.variable`` and optionally ``patient``.
    where : Layout
        Site levels.
    settings : PatientSettings
    seed : int
        Seeds the mixture fits.

    Returns
    -------
    pandas.DataFrame
        :data:`ACTIVITY_COLUMNS`, tumours only (metastasis level first, then primary; sheet order within):
        ``threshold`` the score above which the rule calls the axis active (NaN: none is), ``rule`` the rule
        used, ``active`` True / False (NA where the rule has too few samples: fewer than 2 normals, or fewer
        than ``min_tumours`` tumours for the cohort rule).
    """
    site = sheet[where.variable].astype(str).reindex(scores.index)
    patient = sheet["patient"].astype(str).reindex(scores.index) if "patient" in sheet.columns else \
        pd.Series(pd.NA, index=scores.index, dtype=object)
    normals = site.index[site == where.normal] if where.normal else pd.Index([])
    tumours = [s for level in where.tumour_levels for s in site.index[site == level]]
    rule = chosen_rule(settings, len(normals))
    rows = []
    for axis in scores.columns:
        values = scores.loc[tumours, axis].astype(float)
        if rule == "normal":
            threshold = normal_threshold(scores.loc[normals, axis], settings.content, settings.confidence)
            active = pd.array(values > threshold, dtype="boolean") if np.isfinite(threshold) else \
                pd.array([pd.NA] * len(values), dtype="boolean")
        elif len(values) >= settings.min_tumours:
            calls, threshold = mixture_active(values.to_numpy(), seed)
            active = pd.array(calls, dtype="boolean")
        else:
            threshold, active = float("nan"), pd.array([pd.NA] * len(values), dtype="boolean")
        rows.append(pd.DataFrame({"sample": tumours, "patient": patient.loc[tumours].to_numpy(),
                                  "site": site.loc[tumours].to_numpy(), "axis": axis, "score": values.to_numpy(),
                                  "threshold": threshold, "rule": rule, "active": active}))
    return pd.concat(rows, ignore_index=True)[ACTIVITY_COLUMNS] if rows else pd.DataFrame(columns=ACTIVITY_COLUMNS)
