"""All checks of a cohort's inputs, run by ``workflow/rules/common.smk`` before any job starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from target_rationale.cohort.design import Contrast, check_contrasts, design_variables, parse_contrasts
from target_rationale.cohort.ids import resolve_id_type
from target_rationale.cohort.tables import CountMatrix, match_samples, read_counts, read_sample_sheet
from target_rationale.core.errors import InputError


@dataclass(frozen=True)
class ValidatedInputs:
    """What the workflow needs to know about valid inputs to plan its jobs.

    Attributes
    ----------
    matrix : CountMatrix
        Counts in sample-sheet order.
    sheet : pandas.DataFrame
        The sample sheet, indexed by sample.
    id_type : str
        Resolved gene id type (``ensembl``, ``entrez`` or ``symbol``).
    contrasts : list of Contrast
        The configured contrasts, each with its design.
    """

    matrix: CountMatrix
    sheet: pd.DataFrame
    id_type: str
    contrasts: list[Contrast]


def validate_inputs(counts_path: str | Path, samples_path: str | Path, gene_id_type: str, design: str,
                    contrasts: list[dict]) -> ValidatedInputs:
    """Read and check counts, sample sheet, gene ids, design and contrasts.

    Parameters
    ----------
    counts_path, samples_path : str or Path
        The two input tables.
    gene_id_type : str
        ``auto``, ``ensembl``, ``entrez`` or ``symbol``.
    design : str
        Default design formula for contrasts without their own.
    contrasts : list of dict
        Config entries with ``name, variable, target, reference`` and optional ``design``, ``samples``.

    Returns
    -------
    ValidatedInputs

    Raises
    ------
    InputError
        With one line per problem found. Problems in one file are reported together with those in the
        other; checks that need both files run only when both could be read.
    """
    problems: list[str] = []
    matrix = sheet = None
    try:
        matrix = read_counts(counts_path)
    except InputError as err:
        problems += err.problems
    try:
        sheet = read_sample_sheet(samples_path)
    except InputError as err:
        problems += err.problems
    if problems:
        raise InputError(problems)
    assert matrix is not None and sheet is not None
    try:
        counts = match_samples(matrix.counts, sheet, counts_path, samples_path)
    except InputError as err:
        problems += err.problems
        counts = None
    try:
        id_type = resolve_id_type(gene_id_type, matrix.counts.index, counts_path)
    except InputError as err:
        problems += err.problems
        id_type = ""
    parsed = parse_contrasts(contrasts, design)
    problems += check_contrasts(parsed, sheet, str(samples_path))
    if problems:
        raise InputError(problems)
    matrix = CountMatrix(counts=counts, source_format=matrix.source_format, renamed=matrix.renamed)
    return ValidatedInputs(matrix=matrix, sheet=sheet, id_type=id_type, contrasts=parsed)


@dataclass(frozen=True)
class PlannedInputs:
    """What the workflow can know, before any job, about inputs that a job will create (an imported cohort).

    Stands in for :class:`ValidatedInputs` while planning the jobs; the ``cohort`` job runs
    :func:`validate_inputs` on the files once they exist, before any computation.

    Attributes
    ----------
    sheet : pandas.DataFrame
        No rows; its columns are the sample-sheet variables the designs and contrast subsets use.
    id_type : str
        The configured ``gene_id_type`` (``auto`` is resolved by the cohort job).
    contrasts : list of Contrast
        The configured contrasts, each with its design.
    matrix : None
        No counts yet.
    """

    sheet: pd.DataFrame
    id_type: str
    contrasts: list[Contrast]
    matrix: None = None


def plan_inputs(gene_id_type: str, design: str, contrasts: list[dict]) -> PlannedInputs:
    """Check what can be checked of the design and contrasts without the sample sheet.

    Parameters
    ----------
    gene_id_type : str
        ``auto``, ``ensembl``, ``entrez`` or ``symbol``.
    design : str
        Default design formula for contrasts without their own.
    contrasts : list of dict
        Config entries as for :func:`validate_inputs`.

    Returns
    -------
    PlannedInputs

    Raises
    ------
    InputError
        One line per problem, worded as :func:`target_rationale.design.check_contrasts` words it: a name used
        twice, a design that is not a formula, a variable missing from its design, target equal to reference.
    """
    parsed = parse_contrasts(contrasts, design)
    problems: list[str] = []
    seen: set[str] = set()
    columns: dict[str, None] = {}
    for c in parsed:
        where = f"config: contrast '{c.name}'"
        if c.name in seen:
            problems.append(f"{where}: the name is used by two contrasts; give each contrast a unique name")
        seen.add(c.name)
        columns.update(dict.fromkeys(c.samples))
        try:
            variables = design_variables(c.design)
        except InputError as err:
            problems.append(f"{where}: {err}".replace("config: design", "design"))
            continue
        columns.update(dict.fromkeys(variables))
        if c.variable not in variables:
            problems.append(f"{where}: variable '{c.variable}' is not in its design '{c.design}'; add it to the "
                            "design (usually last, e.g. '~ patient + " + c.variable + "')")
        elif c.target == c.reference:
            problems.append(f"{where}: target and reference are both '{c.target}'; compare two different levels")
    if problems:
        raise InputError(problems)
    sheet = pd.DataFrame(columns=list(columns), dtype=object)
    sheet.index.name = "sample"
    return PlannedInputs(sheet=sheet, id_type=gene_id_type, contrasts=parsed)
