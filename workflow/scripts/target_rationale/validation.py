"""All checks of a cohort's inputs, run by ``workflow/rules/common.smk`` before any job starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .cohort import CountMatrix, InputError, match_samples, read_counts, read_sample_sheet
from .design import Contrast, check_contrasts, parse_contrasts
from .gene_ids import resolve_id_type


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


def config_problems(config: dict, schema: dict) -> list[str]:
    """One line per way ``config`` breaks the JSON ``schema`` (unknown keys, wrong types, bad values).

    ``snakemake.utils.validate`` stops at the first error and prints the whole schema; this names each key.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        key = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                      for i, p in enumerate(error.absolute_path)) or "(top level)"
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            problems.append(f"config: unknown key(s) {', '.join(repr(u) for u in unknown)} at {key}; allowed "
                            f"keys are {', '.join(allowed)} (see config/README.md)")
        elif error.validator == "oneOf":
            forms = "; ".join(_describe_branch(branch) for branch in error.validator_value)
            problems.append(f"config: {key} = {error.instance!r} fits none of the allowed forms ({forms}); see "
                            "config/README.md")
        elif error.validator == "enum":
            problems.append(f"config: {key} = {error.instance!r} is not allowed; use one of "
                            f"{', '.join(map(str, error.validator_value))}")
        else:
            problems.append(f"config: {key}: {error.message}")
    return problems


def _describe_branch(schema: dict) -> str:
    """``{source: kegg_rest, organism?, base_url?}``: one allowed form of a ``oneOf`` config entry."""
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    parts = []
    for name, spec in properties.items():
        if "const" in spec:
            parts.append(f"{name}: {spec['const']}")
        else:
            parts.append(name if name in required else f"{name}?")
    return "{" + ", ".join(parts) + "}"
