"""How many tumours have an active axis (:func:`prevalence_table`, with Wilson intervals and the literature's
share beside ours), and how each patient's axis changes from primary to metastasis (:func:`patient_changes`).
Pure: the activity table in, tables out."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from target_rationale.core.stats import Z95, wilson
from target_rationale.patients.settings import Layout

PREVALENCE_COLUMNS = ["axis", "site", "n_active", "n", "share", "ci_low", "ci_high", "rule", "reference_share",
                      "reference_source", "share_corrected", "corrected_ci_low", "corrected_ci_high"]
CHANGE_COLUMNS = ["patient", "axis", "primary_sample", "metastasis_sample", "primary_score", "metastasis_score",
                  "change", "ci_low", "ci_high", "primary_active", "metastasis_active", "transition"]
#: Site label of the rows over every tumour.
ALL_TUMOURS = "all_tumours"


def corrected_share(share: float, false_active: float | None, sensitivity: float | None) -> float:
    """The share of truly active tumours behind an observed share, given the rule's false-active rate and
    sensitivity (Rogan & Gladen 1978: ``(share - false_active) / (sensitivity - false_active)``, clipped to [0,
    1]). A missing sensitivity counts as 1 (only false actives removed: a lower bound when misses are likely);
    a missing false-active rate gives NaN (nothing known to correct for)."""
    if false_active is None or pd.isna(share):
        return float("nan")
    sens = 1.0 if sensitivity is None else float(sensitivity)
    if sens <= false_active:
        return float("nan")
    return float(np.clip((share - false_active) / (sens - false_active), 0.0, 1.0))


def prevalence_table(activity: pd.DataFrame, where: Layout,
                     references: Mapping[str, tuple[float, str]] | None = None,
                     false_active: float | None = None, sensitivity: float | None = None) -> pd.DataFrame:
    """The share of active tumours per axis and site (and over all tumours), with 95% Wilson intervals.

    Samples without a call (``active`` NA) are left out of ``n``. ``references`` (``{axis: (share, source)}``,
    e.g. EGFR's 0.212 by immunohistochemistry) is printed beside ours for the reader, not compared. With the
    rule's ``false_active`` rate (and ``sensitivity``, optional) the share and its interval are also corrected
    for them (:func:`corrected_share`, applied to the share and to each Wilson bound: the rates are taken as
    known, their own uncertainty is not carried).
    """
    references = references or {}
    rows = []
    for axis, block in activity.groupby("axis", sort=False):
        for site in [*where.tumour_levels, ALL_TUMOURS]:
            part = block if site == ALL_TUMOURS else block.loc[block["site"] == site]
            called = part["active"].dropna().astype(bool)
            k, n = int(called.sum()), int(len(called))
            low, high = wilson(k, n)
            share, source = references.get(str(axis), (np.nan, ""))
            called_share = k / n if n else np.nan
            rows.append({"axis": axis, "site": site, "n_active": k, "n": n, "share": called_share,
                         "ci_low": low, "ci_high": high, "rule": part["rule"].iloc[0] if len(part) else "",
                         "reference_share": share, "reference_source": source,
                         "share_corrected": corrected_share(called_share, false_active, sensitivity),
                         "corrected_ci_low": corrected_share(low, false_active, sensitivity),
                         "corrected_ci_high": corrected_share(high, false_active, sensitivity)})
    return pd.DataFrame(rows, columns=PREVALENCE_COLUMNS)


def transition(primary_active: object, metastasis_active: object) -> str:
    """``gained`` / ``lost`` / ``stays_active`` / ``stays_inactive``, or ``unknown`` when a call is missing."""
    if pd.isna(primary_active) or pd.isna(metastasis_active):
        return "unknown"
    if bool(primary_active) == bool(metastasis_active):
        return "stays_active" if bool(primary_active) else "stays_inactive"
    return "gained" if bool(metastasis_active) else "lost"


def patient_changes(activity: pd.DataFrame, where: Layout, noise_sd: Mapping[str, float] | None = None
                    ) -> pd.DataFrame:
    """Per patient with a primary and a metastasis, the metastasis-minus-primary change of each axis score.

    Parameters
    ----------
    activity : pandas.DataFrame
        :func:`~.activity.activity_table` output (with ``patient``).
    where : Layout
    noise_sd : mapping, optional
        ``{axis: sd}`` of one sample's score where the biology is the same (the normal samples' score sd): the
        change's 95% interval is ``change +- 1.96 x sqrt(2) x sd``. Without it the interval is NaN.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`; a patient with several samples of a site uses the first (sheet order). Empty
        without patients or without both sites.
    """
    noise_sd = noise_sd or {}
    if activity["patient"].isna().all() or not (where.primary and where.metastasis):
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    rows = []
    for (axis, patient), block in activity.dropna(subset=["patient"]).groupby(["axis", "patient"], sort=False):
        prim = block.loc[block["site"] == where.primary]
        met = block.loc[block["site"] == where.metastasis]
        if prim.empty or met.empty:
            continue
        p, m = prim.iloc[0], met.iloc[0]
        change = float(m["score"] - p["score"])
        half = Z95 * np.sqrt(2.0) * float(noise_sd.get(str(axis), np.nan))
        rows.append({"patient": patient, "axis": axis, "primary_sample": p["sample"], "metastasis_sample": m["sample"],
                     "primary_score": float(p["score"]), "metastasis_score": float(m["score"]), "change": change,
                     "ci_low": change - half, "ci_high": change + half, "primary_active": p["active"],
                     "metastasis_active": m["active"], "transition": transition(p["active"], m["active"])})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def transitions_summary(changes: pd.DataFrame) -> pd.DataFrame:
    """Per axis: patients compared, how many gain / lose activity from primary to metastasis, how many keep it,
    how many move up beyond the noise (``ci_low > 0``) or down (``ci_high < 0``), and whether the noise was
    known."""
    columns = ["axis", "n_patients", "gained", "lost", "stays_active", "stays_inactive", "up_beyond_noise",
               "down_beyond_noise", "noise_known"]
    rows = []
    for axis, block in changes.groupby("axis", sort=False):
        counts = block["transition"].value_counts()
        rows.append({"axis": axis, "n_patients": len(block),
                     **{t: int(counts.get(t, 0)) for t in ("gained", "lost", "stays_active", "stays_inactive")},
                     "up_beyond_noise": int((block["ci_low"] > 0).sum()),
                     "down_beyond_noise": int((block["ci_high"] < 0).sum()),
                     "noise_known": bool(block["ci_low"].notna().any())})
    return pd.DataFrame(rows, columns=columns)
