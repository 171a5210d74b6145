"""The ``patients:`` section of the workflow config, the cohort's layout the patient stage reads (which samples
are tumours of which site, which are normal tissue), and the checks of the sheet columns it names, run before any
job (:func:`covariate_problems`, :func:`survival_problems`; light: no model library is imported here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from target_rationale.cohort.design import Contrast
from target_rationale.core.schema import ConfigSettings
from target_rationale.targets.config import Targets


@dataclass(frozen=True)
class PatientSettings(ConfigSettings):
    """How a tumour's axis is called active (``patients:``; defaults in the schema).

    Attributes
    ----------
    activity : str
        ``normal`` (above a tolerance bound of the normal-tissue scores), ``cohort`` (the upper component of a
        two-component mixture of the tumours' scores, when two components fit better than one) or ``auto``
        (``normal`` when the cohort has at least ``min_normals`` normal samples, else ``cohort``).
    content, confidence : float
        The normal rule's bound lies above ``content`` of normal tissue with ``confidence``.
    min_normals : int
        Normal samples ``auto`` needs for the normal rule.
    min_tumours : int
        Tumour samples the cohort rule needs (fewer: activity is not called).
    covariates : list of str
        Sample-sheet columns (numeric or two-level) each axis score is tested against.
    proxies : dict of str to list of str
        Scores made from gene sets (scanpy score_genes, like the axes) and tested against each axis score, e.g.
        the RNA glycosylation proxy.
    rule_rates : dict
        ``{false_active, sensitivity}``, each a share or None: the rule's error rates the prevalence is corrected
        for (:func:`~target_rationale.patients.prevalence.corrected_share`).
    survival : dict or None
        ``{time, event, site_order}``: sheet columns of follow-up time and event (1 / 0), and which site's sample
        stands for a patient (first present); None: no survival analysis.
    """

    SECTION = "patients"
    activity: str
    content: float
    confidence: float
    min_normals: int
    min_tumours: int
    covariates: list
    proxies: dict
    rule_rates: dict
    survival: dict | None


@dataclass(frozen=True)
class Layout:
    """Where the patient stage finds its groups, from the target stage's contrasts by role.

    Attributes
    ----------
    variable : str
        The sample-sheet column of the sites (the judged contrast's variable).
    primary, metastasis : str or None
        The levels of primary and metastasis samples.
    normal : str or None
        The level of normal tissue (the reference of the tumour-vs-normal contrasts); None without one.
    """

    variable: str
    primary: str | None
    metastasis: str | None
    normal: str | None

    @property
    def tumour_levels(self) -> list[str]:
        """The tumour sites, metastasis first."""
        return [level for level in (self.metastasis, self.primary) if level]


def layout(targets: Targets, contrasts: Iterable[Contrast]) -> Layout:
    """The sites of the target stage's roles: metastasis vs normal gives the metastasis and normal levels,
    primary vs normal the primary level; a cohort without normal tissue takes both tumour levels from
    metastasis vs primary."""
    definitions = {c.name: c for c in contrasts}
    if targets.metastasis:
        met = definitions[targets.metastasis]
        primary = definitions[targets.primary].target if targets.primary else None
        if primary is None and targets.metastasis_vs_primary:
            primary = definitions[targets.metastasis_vs_primary].reference
        return Layout(met.variable, primary, met.target, met.reference)
    direct = definitions[str(targets.metastasis_vs_primary)]
    return Layout(direct.variable, direct.reference, direct.target, None)


def covariate_kind(values: pd.Series) -> str:
    """``numeric`` (numbers), ``binary`` (two distinct values), ``constant`` (one value or none) or ``other``,
    over the non-missing values."""
    present = values.dropna()
    if present.astype(str).nunique() < 2:
        return "constant"
    if pd.api.types.is_bool_dtype(present) or present.astype(str).nunique() == 2:
        return "binary"
    numbers = pd.to_numeric(present, errors="coerce")
    return "numeric" if numbers.notna().all() else "other"


def covariate_problems(sheet: pd.DataFrame, covariates: Sequence[str], sheet_name: str) -> list[str]:
    """One line per configured covariate the sheet cannot give: a missing column, or one neither numeric nor
    two-level (empty cells allowed)."""
    problems = []
    for covariate in covariates:
        if covariate not in sheet.columns:
            problems.append(f"config: patients.covariates names column {covariate!r}, which samples file "
                            f"'{sheet_name}' lacks (columns: {', '.join(map(str, sheet.columns))}); add it or "
                            "remove it from the list")
        elif covariate_kind(sheet[covariate].replace("", np.nan)) == "constant":
            problems.append(f"config: patients.covariates: column {covariate!r} of samples file '{sheet_name}' has "
                            "fewer than two different values; nothing to compare: fill it in or remove it from the "
                            "list")
        elif covariate_kind(sheet[covariate].replace("", np.nan)) == "other":
            problems.append(f"config: patients.covariates: column {covariate!r} of samples file '{sheet_name}' is "
                            "neither numeric nor two-level; give numbers or two values (e.g. yes / no) per sample, "
                            "empty where unknown")
    return problems


def survival_problems(sheet: pd.DataFrame, survival: dict | None, sheet_name: str) -> list[str]:
    """One line per way the sheet cannot give the configured survival: a missing column, a time that is not a
    number, an event other than 0 / 1 (empty cells allowed: those samples are left out), a patient whose samples
    give different times or events."""
    if not survival:
        return []
    problems = []
    for key in ("time", "event"):
        column = survival[key]
        if column not in sheet.columns:
            problems.append(f"config: patients.survival.{key} names column {column!r}, which samples file "
                            f"'{sheet_name}' lacks; add it or set patients.survival: null")
            continue
        values = sheet[column].replace("", np.nan).dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values.index[numbers.isna()] if key == "time" else values.index[~numbers.isin([0, 1])]
        if len(bad):
            what = "a number" if key == "time" else "1 (event) or 0 (censored)"
            problems.append(f"samples file '{sheet_name}', column {column!r}: sample {bad[0]!r} has "
                            f"{values[bad[0]]!r}; give {what}, or leave the cell empty where unknown "
                            f"({len(bad)} such row(s))")
        elif key == "time" and (numbers < 0).any():
            first = numbers.index[numbers < 0][0]
            problems.append(f"samples file '{sheet_name}', column {column!r}: sample {first!r} has a negative time "
                            f"{values[first]!r}; give the follow-up time from diagnosis (>= 0)")
        elif "patient" in sheet.columns:  # one patient, one survival: its samples must not disagree
            per_patient = numbers.groupby(sheet.loc[numbers.index, "patient"].astype(str)).nunique()
            if (per_patient > 1).any():
                patient = per_patient.index[per_patient > 1][0]
                seen = sorted(set(values[sheet.loc[values.index, "patient"].astype(str) == patient]))
                problems.append(f"samples file '{sheet_name}', column {column!r}: patient {patient!r} has "
                                f"{' and '.join(map(repr, seen))} on its samples; a patient's survival is one value: "
                                "give the same on each of its samples (or leave all but one empty)")
    return problems
