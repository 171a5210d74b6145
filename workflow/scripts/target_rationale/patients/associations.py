"""Associations of the axis scores with sample covariates (:func:`association_table`): per axis x covariate,
``score ~ covariate + site`` over the tumour samples with the covariate, with a random intercept per patient
(statsmodels' MixedLM, REML) when patients repeat, else ordinary least squares; the covariate's effect with its
95% interval and p, Benjamini-Hochberg across all tests.

A numeric covariate's effect is per standard deviation of it (over the samples tested); a two-level one's is the
second level (sorted; ``True`` / ``1`` / ``yes`` for flags) minus the first. MixedLM's own p-values are Wald
tests against a normal, which run small for a covariate that varies between patients (on 200 null cohorts of 30
patients x 2 tumours, a patient-level flag came out at p < 0.05 in 9.0%); the Wald statistic is referred to a t
with the patients' degrees of freedom (patients - fixed effects) instead: 7.5% there, as the exact test on
patient means (7.5%).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.stats import t as student

from target_rationale.core.stats import benjamini_hochberg
from target_rationale.patients.settings import Layout, covariate_kind

ASSOCIATION_COLUMNS = ["axis", "covariate", "contrast", "method", "n", "n_patients", "effect", "ci_low", "ci_high",
                       "p", "padj"]
#: Column name the covariate takes inside the model formula (sheet names may not be valid Python names).
TERM = "covariate"


def encode(values: pd.Series) -> tuple[pd.Series, str]:
    """The covariate as the model sees it and what its effect means: numeric standardised to sd 1 (``per SD``),
    two-level as 0 / 1 (``<high> vs <low>``)."""
    kind = covariate_kind(values)
    if kind == "binary":
        levels = sorted(values.dropna().astype(str).unique(), key=lambda v: (v.lower() in ("true", "1", "yes"), v))
        return (values.astype(str) == levels[1]).astype(float).where(values.notna()), f"{levels[1]} vs {levels[0]}"
    numbers = pd.to_numeric(values, errors="coerce")
    sd = float(numbers.std(ddof=1))
    return (numbers - numbers.mean()) / (sd if sd > 0 else 1.0), "per SD"


def fit_association(data: pd.DataFrame) -> dict:
    """One model of ``score ~ covariate (+ site)`` on ``data`` (``score, covariate, site, patient``).

    Returns ``method, n, n_patients, effect, ci_low, ci_high, p`` (NaN when the model cannot be fitted)."""
    data = data.dropna(subset=["score", TERM])
    formula = f"score ~ {TERM}" + (" + C(site)" if data["site"].nunique() > 1 else "")
    patients = data["patient"].dropna()
    repeats = len(patients) == len(data) and patients.duplicated().any()
    result = {"method": "mixedlm" if repeats else "ols", "n": len(data),
              "n_patients": int(patients.nunique()) if len(patients) else len(data),
              "effect": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
    if len(data) < 4 or data[TERM].nunique() < 2:
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MixedLM's convergence chatter; a failed fit gives NaN below
        try:
            if repeats:
                fitted = smf.mixedlm(formula, data, groups=data["patient"]).fit(reml=True)
            else:
                fitted = smf.ols(formula, data).fit()
        except (ValueError, np.linalg.LinAlgError):
            return result
    effect = float(fitted.params[TERM])
    if repeats:  # Wald on t with the patients' degrees of freedom, not on a normal (see the module docstring)
        se, df = float(fitted.bse[TERM]), max(result["n_patients"] - len(fitted.fe_params), 1)
        half = float(student.ppf(0.975, df)) * se
        low, high, p = effect - half, effect + half, float(2 * student.sf(abs(effect / se), df))
    else:
        (low, high), p = fitted.conf_int().loc[TERM].tolist(), float(fitted.pvalues[TERM])
    result.update(effect=effect, ci_low=float(low), ci_high=float(high), p=p)
    return result


def association_table(scores: pd.DataFrame, sheet: pd.DataFrame, where: Layout, covariates: Sequence[str]
                      ) -> pd.DataFrame:
    """Every axis (column of ``scores``) against every covariate (column of ``sheet``), over the tumours.

    Parameters
    ----------
    scores : pandas.DataFrame
        Samples x scores (the axes, and any proxy score such as the RNA glycosylation score).
    sheet : pandas.DataFrame
        Indexed by sample; ``where.variable``, the covariates, optionally ``patient``.
    where : Layout
    covariates : sequence of str
        Sheet columns (numeric or two-level; empty cells leave a sample out of that covariate's tests).

    Returns
    -------
    pandas.DataFrame
        :data:`ASSOCIATION_COLUMNS`: ``contrast`` says what ``effect`` measures (``per SD``, ``yes vs no``),
        ``padj`` Benjamini-Hochberg over all rows.
    """
    site = sheet[where.variable].astype(str)
    tumours = [s for s in scores.index if site.get(s) in where.tumour_levels]
    patient = sheet["patient"].astype(str) if "patient" in sheet.columns else pd.Series(pd.NA, index=sheet.index)
    rows = []
    for covariate in covariates:
        values = sheet.loc[tumours, covariate].replace("", np.nan)
        encoded, meaning = encode(values)
        for axis in scores.columns:
            data = pd.DataFrame({"score": scores.loc[tumours, axis].astype(float), TERM: encoded,
                                 "site": site.loc[tumours], "patient": patient.reindex(tumours)})
            rows.append({"axis": axis, "covariate": covariate, "contrast": meaning, **fit_association(data)})
    table = pd.DataFrame(rows, columns=[c for c in ASSOCIATION_COLUMNS if c != "padj"])
    finite = table["p"].notna().to_numpy()
    table["padj"] = np.nan
    table.loc[finite, "padj"] = benjamini_hochberg(table.loc[finite, "p"].to_numpy())
    return table[ASSOCIATION_COLUMNS]
