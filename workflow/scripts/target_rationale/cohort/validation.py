"""All checks of a cohort's inputs, run by ``workflow/rules/common.smk`` before any job starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from target_rationale.cohort.design import (
    Contrast,
    check_contrasts,
    contrast_name_problems,
    design_problem,
    design_problems,
    design_variables,
    own_design_problem,
    parse_contrasts,
    select_samples,
)
from target_rationale.cohort.ids import resolve_id_type
from target_rationale.cohort.tables import CountMatrix, match_samples, read_counts, read_sample_sheet
from target_rationale.core.errors import MAX_LISTED, InputError, listing
from target_rationale.core.schema import defaults

#: Fewest genes a model fit may keep after the pre-filter. Found by running the whole workflow on a 12-sample
#: cohort with 1, 2, 3 ... genes passing the filter: with 1 gene pydeseq2's dispersion trend fails ("array must
#: not contain infs or NaNs"); with 2 the fit, Wald test and VST run but GSEA cannot rank fewer than 3 genes
#: (engines/gsea.py). Far more genes are needed for a meaningful analysis; this only keeps jobs from crashing.
MIN_GENES_TESTED = 3


@dataclass(frozen=True)
class ValidatedInputs:
    """What the workflow needs to know about valid inputs to plan its jobs.

    Attributes
    ----------
    matrix : CountMatrix or None
        Counts in sample-sheet order (None once checked: :meth:`without_counts`).
    sheet : pandas.DataFrame
        The sample sheet, indexed by sample.
    id_type : str
        Resolved gene id type (``ensembl``, ``entrez`` or ``symbol``).
    contrasts : list of Contrast
        The configured contrasts, each with its design.
    """

    matrix: CountMatrix | None
    sheet: pd.DataFrame
    id_type: str
    contrasts: list[Contrast]

    def without_counts(self) -> ValidatedInputs:
        """The same inputs without the count matrix: what planning keeps once the counts are checked (the jobs
        read them from file), so that Snakemake's process does not hold them through the run."""
        return replace(self, matrix=None)


def validate_inputs(counts_path: str | Path, samples_path: str | Path, gene_id_type: str, design: str,
                    contrasts: list[dict], min_library_size: int | None = None) -> ValidatedInputs:
    """Read and check counts, sample sheet, gene ids, design and contrasts.

    Parameters
    ----------
    counts_path, samples_path : str or Path
        The two input tables.
    gene_id_type : str
        ``auto``, ``ensembl``, ``entrez`` or ``symbol``.
    design : str
        Default design formula for contrasts without their own (checked even if every contrast has its own).
    contrasts : list of dict
        Config entries with ``name, variable, target, reference`` and optional ``design``, ``samples``.
    min_library_size : int, optional
        Fewest reads (summed over genes) a sample may have; default the config schema's ``min_library_size``.

    Returns
    -------
    ValidatedInputs

    Raises
    ------
    InputError
        With one line per problem found. Problems in one file are reported together with those in the
        other; checks that need both files run only when both could be read.
    """
    problems: list[str] = design_problems(design, contrasts)  # first: such designs never reach formulaic
    matrix = sheet = None
    try:
        matrix = read_counts(counts_path)
    except InputError as err:
        problems += err.problems
    try:
        sheet = read_sample_sheet(samples_path)
    except InputError as err:
        problems += err.problems
    if matrix is None or sheet is None:
        raise InputError(problems)
    try:
        counts = match_samples(matrix.counts, sheet, counts_path, samples_path)
    except InputError as err:
        problems += err.problems
        counts = None
    else:
        problems += library_size_problems(counts, counts_path, samples_path, min_library_size)
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


def library_size_problems(counts: pd.DataFrame, counts_path: str | Path, samples_path: str | Path,
                          min_library_size: int | None = None) -> list[str]:
    """Samples with fewer reads than ``min_library_size`` (one line naming them and their reads, or none).

    A sample without reads has no size factor (pydeseq2's median of ratios divides by it), so its jobs would
    fail deep inside; a tiny library is as uninformative.

    Parameters
    ----------
    counts : pandas.DataFrame
        Genes x samples.
    counts_path, samples_path : str or Path
        For the message.
    min_library_size : int, optional
        Default: the config schema's ``min_library_size``.
    """
    if min_library_size is None:
        min_library_size = defaults("config")["min_library_size"]
    reads = counts.sum(axis=0)
    small = reads[reads < min_library_size]
    if small.empty:
        return []
    named = ", ".join(f"'{sample}' ({int(n)} reads)" for sample, n in small.iloc[:MAX_LISTED].items())
    named += f" and {len(small) - MAX_LISTED} more" if len(small) > MAX_LISTED else ""
    return [f"counts file '{counts_path}': sample(s) {named} have fewer reads than min_library_size = "
            f"{min_library_size}; remove them (their rows in samples file '{samples_path}' and their columns in "
            "the counts file), or lower `min_library_size` in the config"]


def filter_problems(counts: pd.DataFrame, sheet: pd.DataFrame, fits: Mapping[str, list[Contrast]], min_count: int,
                    min_samples: int | None, counts_path: str | Path = "") -> list[str]:
    """Model fits that would keep fewer than :data:`MIN_GENES_TESTED` genes after the DE pre-filter.

    The pre-filter is :func:`target_rationale.diffexp.model.prefilter` as :func:`.model.fit_model` applies it:
    a gene is kept if it has at least ``min_count`` reads in at least ``min_samples`` samples of the fit (its
    contrasts' ``samples:`` subset); ``min_samples`` None means the smallest target or reference group of the
    fit's contrasts (:func:`.model.smallest_group`). Written here, without pydeseq2, so that the workflow checks
    it before any job.

    Parameters
    ----------
    counts : pandas.DataFrame
        Genes x samples (validated).
    sheet : pandas.DataFrame
        The sample sheet, indexed by sample.
    fits : mapping of str to list of Contrast
        ``{fit name: contrasts}`` as ``planning.plan_fits`` groups them.
    min_count, min_samples : int, int or None
        ``diffexp.min_count`` and ``diffexp.min_samples``.
    counts_path : str or Path
        For the message.

    Returns
    -------
    list of str
        One line per fit short of genes, naming its contrasts, the genes kept and the fix.
    """
    problems = []
    for contrasts in fits.values():
        subset = select_samples(sheet, contrasts[0].samples)
        n_samples = min_samples or int(min((subset[c.variable] == level).sum() for c in contrasts
                                           for level in (c.target, c.reference)))
        kept = int(((counts.loc[:, subset.index] >= min_count).sum(axis=1) >= n_samples).sum())
        if kept >= MIN_GENES_TESTED:
            continue
        names = [c.name for c in contrasts]
        where = f"counts file '{counts_path}'" if counts_path else "counts"
        problems.append(f"config: contrast{'s' if len(names) > 1 else ''} {listing(names, 10)}: only {kept} of "
                        f"the {len(counts)} genes of {where} have >= {min_count} reads (diffexp.min_count) in >= "
                        f"{n_samples} of the {len(subset)} samples of {'their' if len(names) > 1 else 'its'} model "
                        f"fit (diffexp.min_samples"
                        f"{'' if min_samples else ': null, the smallest compared group'}); the fit needs at least "
                        f"{MIN_GENES_TESTED}: lower diffexp.min_count or diffexp.min_samples, or give a count "
                        "matrix with more genes")
    return problems


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
        One line per problem, worded as :func:`target_rationale.design.check_contrasts` words it: a design
        outside the allowed grammar, a name that is unsafe or used twice, a design that is not a formula, a
        variable missing from its design, target equal to reference.
    """
    parsed = parse_contrasts(contrasts, design)
    problem = design_problem(design)
    problems: list[str] = [problem] if problem else []
    seen: set[str] = set()
    columns: dict[str, None] = {}
    for index, c in enumerate(parsed):
        where = f"config: contrast '{c.name}'"
        problems += contrast_name_problems(c.name, seen)
        seen.add(c.name)
        columns.update(dict.fromkeys(c.samples))
        problem = own_design_problem(contrasts[index], index)
        if problem or design_problem(c.design):  # never handed to formulaic; the top-level design reported once
            problems += [problem] if problem else []
            continue
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
