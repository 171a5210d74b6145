"""Designs and contrasts: which samples, which formula, and whether the model can be fitted.

All sample-sheet variables are categorical (text). A design is written in a small subset of formulaic's syntax
(:func:`parse_design`), checked before formulaic (and so pydeseq2) ever sees it: formulaic evaluates terms as
Python, so ``~ {__import__('os').system(...)}`` would run code while the workflow is merely parsed.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import formulaic
import numpy as np
import pandas as pd

from target_rationale.cohort.tables import name_problem
from target_rationale.core.errors import InputError, listing

#: Tolerance for linear dependence between design-matrix columns.
RANK_TOLERANCE = 1e-8


#: What a design may say, token by token: spaces, a sample-sheet column (a letter, then letters, digits and
#: ``_``, as the sheets the workflow imports name their columns), the intercept ``0`` / ``1``, and the operators
#: ``~ + - : *``. Everything else (calls such as ``C(x)`` or ``np.log(x)``, ``{...}`` Python blocks, ``**``,
#: parentheses, quotes) is refused before formulaic sees the string.
_DESIGN_TOKEN = re.compile(r"(?P<space>\s+)|(?P<column>[A-Za-z][A-Za-z0-9_]*)|(?P<intercept>[01](?![A-Za-z0-9_.]))"
                           r"|(?P<operator>[~+\-:*])")

#: The allowed grammar, as error messages state it.
DESIGN_GRAMMAR = ("write '~' then sample-sheet columns (a letter, then letters, digits, '_') joined by '+', with "
                  "'a:b' or 'a*b' for interactions and '1', '0' or '- 1' for the intercept, e.g. "
                  "'~ patient + site'")


class DesignSyntaxError(ValueError):
    """A design outside the allowed grammar (:func:`parse_design`); the message says where and why."""


def parse_design(formula: str) -> list[str]:
    """The sample-sheet columns of a design, after checking it against the allowed grammar.

    The grammar (whitespace is free anywhere)::

        design  := '~' [ '-' '1' | item ] { ('+' item | '-' '1') }
        item    := '0' | '1' | product
        product := column { (':' | '*') column }
        column  := a letter, then letters, digits or '_' (not a Python keyword)

    so ``~ patient + site``, ``~ 0 + site``, ``~ site - 1``, ``~ batch*site`` and ``~ batch:site + patient``
    are designs; a left-hand side, function calls (``C(site)``, ``np.log(x)``), ``{...}`` blocks, ``I(...)``,
    ``**``, ``/``, ``|``, parentheses, quotes and numbers other than the intercept are not. Every column is
    categorical already, so ``C()`` is not needed; reference levels come from the contrasts.

    Parameters
    ----------
    formula : str
        The design as configured.

    Returns
    -------
    list of str
        The columns it names, in order of first appearance.

    Raises
    ------
    DesignSyntaxError
        Naming the first offending character or token and its position (1-based).
    """
    if not isinstance(formula, str):
        raise DesignSyntaxError(f"it is a {type(formula).__name__}, not a text")
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(formula):
        match = _DESIGN_TOKEN.match(formula, position)
        if match is None:
            raise DesignSyntaxError(f"{formula[position]!r} at character {position + 1} is not allowed")
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group(), position + 1))
        position = match.end()
    if not tokens or tokens[0][1] != "~":
        raise DesignSyntaxError("it must start with '~' (the counts are the response; nothing goes before '~')")
    columns: dict[str, None] = {}
    index = 1
    if index == len(tokens):
        raise DesignSyntaxError("'~' is followed by no term")

    def take(kinds: tuple[str, ...], texts: tuple[str, ...] = ()) -> tuple[str, str, int]:
        nonlocal index
        if index == len(tokens):
            raise DesignSyntaxError("it ends with an operator")
        kind, text, at = tokens[index]
        if kind not in kinds and text not in texts:
            raise DesignSyntaxError(f"{text!r} at character {at} is not allowed there")
        index += 1
        return kind, text, at

    first = True
    while index < len(tokens):
        sign = "+"
        if not first or tokens[index][1] == "-":
            sign = take((), ("+", "-") if not first else ("-",))[1]
        if sign == "-":
            kind, text, at = take((), ("1",))
            first = False
            continue
        kind, text, at = take(("column", "intercept"))
        while kind == "column":
            if keyword.iskeyword(text):
                raise DesignSyntaxError(f"{text!r} at character {at} is a Python keyword, not a column name")
            columns[text] = None
            if index < len(tokens) and tokens[index][1] in (":", "*"):
                index += 1
                kind, text, at = take(("column",))
            else:
                break
        first = False
    return list(columns)


def design_problem(formula: str, key: str = "design", contrast: str | None = None) -> str | None:
    """The one-line problem of a design outside the allowed grammar (:func:`parse_design`), or None.

    Parameters
    ----------
    formula : str
        The design.
    key : str
        Where it is configured: ``design`` or ``contrasts[2].design``.
    contrast : str, optional
        The name of the contrast whose own design it is.
    """
    try:
        parse_design(formula)
    except DesignSyntaxError as err:
        where = f"config: contrast '{contrast}': design" if contrast is not None else "config: design"
        detail = f"{key}: {err}" if key != "design" else str(err)
        shown = str(formula).replace("\r", "\\r").replace("\n", "\\n")  # one line per problem
        return f"{where} '{shown}' is not a valid formula ({detail}); {DESIGN_GRAMMAR}"
    return None


def own_design_problem(entry: Mapping, index: int) -> str | None:
    """:func:`design_problem` of the config's ``contrasts[index]`` if it gives a ``design`` of its own."""
    if not isinstance(entry, Mapping) or not entry.get("design"):
        return None
    return design_problem(entry["design"], f"contrasts[{index}].design", str(entry.get("name")))


def design_problems(design: str | None, contrasts: list[dict]) -> list[str]:
    """Problems of the top-level ``design`` (unless None) and of every contrast's own ``design``, one per key."""
    problems = [design_problem(design)] if design is not None else []
    problems += [own_design_problem(entry, i) for i, entry in enumerate(contrasts)]
    return [p for p in problems if p]


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
        If the formula is outside the allowed grammar (:func:`parse_design`; checked before formulaic sees it)
        or formulaic cannot parse it.
    """
    problem = design_problem(formula)
    if problem:
        raise InputError(problem)
    try:
        return sorted(formulaic.Formula(formula).required_variables)
    except Exception as err:  # formulaic raises several syntax error types
        detail = str(err).splitlines()[0]
        raise InputError(f"config: design '{formula}' is not a valid formula ({detail}); write it like "
                         "'~ patient + site'") from err


def design_matrix(sheet: pd.DataFrame, formula: str) -> pd.DataFrame:
    """The model matrix formulaic (and so pydeseq2) builds for ``formula`` over ``sheet``.

    Raises
    ------
    InputError
        If the formula is outside the allowed grammar (:func:`parse_design`).
    """
    problem = design_problem(formula)
    if problem:
        raise InputError(problem)
    return pd.DataFrame(formulaic.model_matrix(formula, sheet.astype(str)))


def contrast_vector(columns: Sequence[str], contrast: Contrast) -> np.ndarray:
    """The contrast ``target - reference`` over a treatment-coded design's columns (formulaic's names,
    ``site[T.primary]``; the baseline level has no column and counts as 0).

    Raises
    ------
    ValueError
        If neither level has a column (the variable is not in the design).
    """
    vector = np.zeros(len(columns))
    names = list(columns)
    for level, sign in ((contrast.target, 1.0), (contrast.reference, -1.0)):
        column = f"{contrast.variable}[T.{level}]"
        if column in names:
            vector[names.index(column)] = sign
    if not vector.any():
        raise ValueError(f"contrast {contrast.name}: design '{contrast.design}' has no column for "
                         f"{contrast.variable} = {contrast.target} or {contrast.reference}")
    return vector


def contrast_design_matrix(sheet: pd.DataFrame, contrast: Contrast, available: Iterable[str]
                           ) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """The samples, design matrix and contrast vector of one contrast, as its DE fit has them.

    Parameters
    ----------
    sheet : pandas.DataFrame
        Sample sheet indexed by sample.
    contrast : Contrast
        Its ``samples`` subset and ``design`` formula are used.
    available : iterable of str
        Samples that have data (others in the sheet are left out).

    Returns
    -------
    (list of str, pandas.DataFrame, numpy.ndarray)
        Samples in sheet order, formulaic's model matrix over them, :func:`contrast_vector`.
    """
    subset = select_samples(sheet, contrast.samples)
    present = set(available)
    samples = [s for s in subset.index if s in present]
    design = design_matrix(subset.loc[samples], contrast.design)
    return samples, design, contrast_vector(design.columns, contrast)


def direct_between(contrasts: Iterable[Contrast], first: str, second: str) -> str | None:
    """The contrast that compares ``second``'s target with ``first``'s target directly (same variable; target =
    ``second``'s target, reference = ``first``'s), or None. For ``primary_vs_normal`` and
    ``liver_met_vs_normal``: ``liver_met_vs_primary``."""
    definitions = {c.name: c for c in contrasts}
    a, b = definitions.get(first), definitions.get(second)
    if a is None or b is None or a.variable != b.variable:
        return None
    for contrast in definitions.values():
        if contrast.variable == a.variable and contrast.target == b.target and contrast.reference == a.target:
            return contrast.name
    return None


def direct_comparison(contrasts: Iterable[Contrast], compared: Sequence[str]) -> dict[str, str] | None:
    """For two compared contrasts, the direct contrast between their targets, either way round:
    ``{"contrast": name, "stronger_if_up": <compared contrast whose target is its target>, "stronger_if_down":
    <the other>}``; None with another number of compared contrasts or no such contrast."""
    if len(compared) != 2:
        return None
    contrasts = list(contrasts)
    for first, second in (tuple(compared), tuple(reversed(compared))):
        name = direct_between(contrasts, first, second)
        if name is not None:
            return {"contrast": name, "stronger_if_up": second, "stronger_if_down": first}
    return None


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

    A contrast whose design is outside the allowed grammar (:func:`parse_design`) is skipped after its name
    checks, so that the design never reaches formulaic; :func:`design_problems` reports it, once per config key
    (``design`` or ``contrasts[i].design``), and callers run it first.
    """
    problems: list[str] = []
    seen: set[str] = set()
    checked_fits: dict[tuple, list[str]] = {}
    fit_users: dict[tuple, list[str]] = {}
    for c in contrasts:
        where = f"config: contrast '{c.name}'"
        problems += contrast_name_problems(c.name, seen)
        seen.add(c.name)
        if design_problem(c.design):
            continue
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


def contrast_name_problems(name: str, seen: set[str]) -> list[str]:
    """Problems of a contrast's name: not a safe file-name part (:func:`.tables.name_problem`), or in ``seen``."""
    where = f"config: contrast {name!r}"
    problems = []
    problem = name_problem(name)
    if problem:
        problems.append(f"{where}: the name {problem} (it is used in file paths)")
    if name in seen:
        problems.append(f"{where}: the name is used by two contrasts; give each contrast a unique name")
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
