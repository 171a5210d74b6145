"""Designs and contrasts: which samples, which formula, and whether the model can be fitted.

All sample-sheet variables are categorical (text); the formula uses formulaic's syntax, as pydeseq2 does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import formulaic
import numpy as np
import pandas as pd

from target_rationale.cohort.tables import is_safe_name
from target_rationale.core.errors import InputError, listing

#: Tolerance for linear dependence between design-matrix columns.
RANK_TOLERANCE = 1e-8


@dataclass(frozen=True)
class Contrast:
    """One comparison: ``target`` vs ``reference`` levels of ``variable``.

    Attributes
    ----------
    name : str
        Used in output paths (a safe identifier).
    variable, target, reference : str
        Sample-sheet column and its two levels; log2 fold changes are target over reference.
    design : str
        Formula of the model fitted for this contrast (the contrast's own, or the config's ``design``).
    samples : dict of str to list of str
        Sample subset as ``{column: [allowed values]}``; empty means every sample.
    """

    name: str
    variable: str
    target: str
    reference: str
    design: str
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def fit_key(self) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
        """Contrasts with equal keys share one model fit (same formula, same samples)."""
        return self.design, tuple(sorted((k, tuple(sorted(v))) for k, v in self.samples.items()))


def parse_contrasts(entries: list[dict], default_design: str) -> list[Contrast]:
    """Turn the config's ``contrasts`` list into :class:`Contrast` objects."""
    return [Contrast(name=str(e["name"]), variable=str(e["variable"]), target=str(e["target"]),
                     reference=str(e["reference"]), design=str(e.get("design") or default_design),
                     samples={str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
                              for k, v in (e.get("samples") or {}).items()})
            for e in entries]


def design_variables(formula: str) -> list[str]:
    """Sample-sheet columns a formula uses, sorted.

    Raises
    ------
    InputError
        If the formula cannot be parsed.
    """
    try:
        return sorted(formulaic.Formula(formula).required_variables)
    except Exception as err:  # formulaic raises several syntax error types
        detail = str(err).splitlines()[0]
        raise InputError(f"config: design '{formula}' is not a valid formula ({detail}); write it like "
                         "'~ patient + site'") from err


def design_matrix(sheet: pd.DataFrame, formula: str) -> pd.DataFrame:
    """The model matrix formulaic (and so pydeseq2) builds for ``formula`` over ``sheet``."""
    return pd.DataFrame(formulaic.model_matrix(formula, sheet.astype(str)))


def dependent_columns(matrix: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """Columns of a design matrix that are linear combinations of earlier columns.

    Returns
    -------
    list of (str, list of str)
        Each redundant column with the earlier columns it is a combination of (all-zero columns have none).
    """
    values = matrix.to_numpy(dtype=float)
    kept: list[int] = []
    found = []
    for j in range(values.shape[1]):
        candidate = values[:, kept + [j]]
        if np.linalg.matrix_rank(candidate, tol=RANK_TOLERANCE * max(1.0, np.abs(values).max())) > len(kept):
            kept.append(j)
            continue
        if kept:
            coef, *_ = np.linalg.lstsq(values[:, kept], values[:, j], rcond=None)
            partners = [str(matrix.columns[k]) for k, c in zip(kept, coef) if abs(c) > 1e-6]
        else:
            partners = []
        found.append((str(matrix.columns[j]), partners))
    return found


def select_samples(sheet: pd.DataFrame, subset: dict[str, list[str]]) -> pd.DataFrame:
    """Rows of ``sheet`` whose values are among the allowed ones for every column of ``subset``."""
    mask = pd.Series(True, index=sheet.index)
    for column, allowed in subset.items():
        mask &= sheet[column].isin(allowed)
    return sheet.loc[mask]


def check_contrasts(contrasts: list[Contrast], sheet: pd.DataFrame, samples_path: str) -> list[str]:
    """Every problem with the contrasts and their designs, one line each (empty if none).

    Checks, per contrast: a safe, unique name; a subset over existing columns and values; design syntax
    and columns; no missing values in design columns; the variable in the design; both levels present and
    different; at least two samples per group; a full-rank design with residual degrees of freedom.
    """
    problems: list[str] = []
    seen: set[str] = set()
    checked_fits: dict[tuple, list[str]] = {}
    fit_users: dict[tuple, list[str]] = {}
    for c in contrasts:
        where = f"config: contrast '{c.name}'"
        if not is_safe_name(c.name):
            problems.append(f"{where}: the name is not a safe identifier (it is used in file paths); use only "
                            "letters, digits, '_', '-' and '.'")
        if c.name in seen:
            problems.append(f"{where}: the name is used by two contrasts; give each contrast a unique name")
        seen.add(c.name)
        bad_columns = [k for k in c.samples if k not in sheet.columns]
        if bad_columns:
            problems.append(f"{where}: `samples:` filters on column(s) {listing(bad_columns)} that are not in "
                            f"samples file '{samples_path}' (columns: {listing(list(sheet.columns), 20)})")
            continue
        for column, allowed in c.samples.items():
            absent = [v for v in allowed if v not in set(sheet[column].dropna())]
            if absent:
                problems.append(f"{where}: `samples:` value(s) {listing(absent)} do not occur in column "
                                f"'{column}' of samples file '{samples_path}' (values: "
                                f"{listing(sorted(sheet[column].dropna().unique()), 20)})")
        subset = select_samples(sheet, c.samples)
        try:
            variables = design_variables(c.design)
        except InputError as err:
            problems.append(f"{where}: {err}".replace("config: design", "design"))
            continue
        missing = [v for v in variables if v not in sheet.columns]
        if missing:
            problems.append(f"{where}: design '{c.design}' uses column(s) {listing(missing)} that are not in "
                            f"samples file '{samples_path}' (columns: {listing(list(sheet.columns), 20)}); "
                            "add the column or change the design")
            continue
        if c.variable not in sheet.columns:
            problems.append(f"{where}: variable '{c.variable}' is not a column of samples file "
                            f"'{samples_path}' (columns: {listing(list(sheet.columns), 20)})")
            continue
        if c.variable not in variables:
            problems.append(f"{where}: variable '{c.variable}' is not in its design '{c.design}'; add it to the "
                            "design (usually last, e.g. '~ patient + " + c.variable + "')")
            continue
        levels = sorted(subset[c.variable].dropna().unique())
        for role, level in (("target", c.target), ("reference", c.reference)):
            if level not in levels:
                problems.append(f"{where}: {role} level '{level}' does not occur in column '{c.variable}' of "
                                f"samples file '{samples_path}'"
                                + (" within the contrast's `samples:` subset" if c.samples else "")
                                + f" (levels: {listing(levels, 20)}); fix the spelling or the sheet")
        if c.target == c.reference:
            problems.append(f"{where}: target and reference are both '{c.target}'; compare two different levels")
            continue
        if c.target not in levels or c.reference not in levels:
            continue
        for level in (c.target, c.reference):
            n = int((subset[c.variable] == level).sum())
            if n < 2:
                problems.append(f"{where}: group '{level}' of '{c.variable}' has {n} sample(s); a contrast "
                                "needs at least 2 samples per group (replicates) to estimate variability")
        key = c.fit_key
        if key not in checked_fits:
            checked_fits[key] = _check_fit(subset, c.design, variables, samples_path)
            fit_users[key] = []
        fit_users[key].append(c.name)
    for key, fit_problems in checked_fits.items():  # once per model fit, naming every contrast it serves
        names = fit_users[key]
        where = f"config: contrast{'s' if len(names) > 1 else ''} {listing(names, 10)}"
        problems.extend(f"{where}: {p}" for p in fit_problems)
    return problems


def _check_fit(subset: pd.DataFrame, formula: str, variables: list[str], samples_path: str) -> list[str]:
    """Problems with fitting ``formula`` on ``subset``: missing values, rank, residual degrees of freedom."""
    problems = []
    for variable in variables:
        empty = subset.index[subset[variable].isna()]
        if len(empty):
            problems.append(f"design '{formula}': column '{variable}' of samples file '{samples_path}' is empty "
                            f"for sample(s) {listing(list(empty))}; fill it in (e.g. 'unknown') or drop the "
                            "sample(s)")
    if problems:
        return problems
    matrix = design_matrix(subset, formula)
    dependent = dependent_columns(matrix)
    if dependent:
        parts = [f"'{col}' = combination of {listing(partners, 8)}" if partners else f"'{col}' is all zero"
                 for col, partners in dependent]
        problems.append(f"design '{formula}' is not full rank over its {len(subset)} samples: "
                        f"{'; '.join(parts[:3])}{' and more' if len(parts) > 3 else ''} (confounded "
                        "variables); drop one of the confounded variables from the design or add samples "
                        "that separate them")
    elif matrix.shape[0] <= matrix.shape[1]:
        problems.append(f"design '{formula}' has {matrix.shape[1]} coefficients for {matrix.shape[0]} samples, "
                        "leaving no residual degrees of freedom to estimate dispersion; simplify the design")
    return problems
