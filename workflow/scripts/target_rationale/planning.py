"""Planning the run: all that ``workflow/rules/common.smk`` imports.

Parsing the workflow (every ``snakemake`` call, dry runs included) validates the config and the inputs and plans
the jobs from them; this module gathers what that needs, and nothing that only jobs need (no scanpy, anndata,
pydeseq2, gseapy, matplotlib or requests), so that parsing stays fast:

* config problems (``core.schema``), the cohort's import plan and the validation of counts and sample sheet;
* the model fits the contrasts need (:func:`plan_fits`);
* which config keys each job reads (:func:`fit_settings`, :func:`wald_settings`, :func:`enrich_settings`), so a
  change reruns exactly the jobs it affects;
* the target axes (``targets.config``), and what their genes and terms imply for plots (:func:`highlight_genes`,
  :func:`curve_terms`);
* the output paths (``paths``) and the cache keys of online gene-set collections.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from target_rationale.admixture.reference import load_host_reference
from target_rationale.cohort.design import Contrast, design_variables, direct_comparison
from target_rationale.cohort.ids import ID_MAP_FIX, cohort_symbols, gene_id_map_problems, read_gene_id_map
from target_rationale.cohort.import_plan import cohort_config_problems, plan_import
from target_rationale.cohort.validation import filter_problems, plan_inputs, validate_inputs
from target_rationale.core.errors import InputError
from target_rationale.core.jobs import COMMAND_VARIABLE
from target_rationale.core.schema import config_problems, pick
from target_rationale.diffexp.settings import FitSettings, WaldSettings
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.genesets.sources.registry import cache_key, online_collections
from target_rationale.paths import result
from target_rationale.patients.settings import PatientSettings, covariate_problems, survival_problems
from target_rationale.patients.settings import layout as patient_layout
from target_rationale.targets.config import ROLE_KEYS as TARGET_ROLE_KEYS
from target_rationale.targets.config import Targets, infer_direct, load_targets, symbol_problems

__all__ = [
    "COMMAND_VARIABLE", "InputError", "TARGET_ROLE_KEYS", "plan_admixture", "cache_key", "cohort_config_problems",
    "config_problems", "curve_terms", "design_variables", "direct_comparison", "enrich_settings", "filter_problems",
    "fit_name", "fit_settings", "gene_id_map_problems", "highlight_genes", "infer_direct", "load_targets",
    "online_collections", "patient_layout", "patient_sheet_problems", "PatientSettings", "pick", "plan_fits",
    "plan_import", "plan_inputs", "result", "de_threads", "release_memory", "resolve_path",
    "target_symbol_problems", "targets_symbol_check", "TARGETS_CHECK_VARIABLE", "validate_inputs", "wald_settings",
]


#: Count-matrix cells (genes x samples) from which the DE jobs take two threads (:func:`de_threads`).
LARGE_MATRIX = 20_000_000


def de_threads(shape: tuple[int, int] | None) -> int:
    """Threads of a fit or Wald-test job for a count matrix of ``shape`` (None: not known before the jobs, as
    for an imported cohort): 2 from :data:`LARGE_MATRIX` cells, else 1 (``--set-threads`` overrides it).

    The engine's results are the same for any number of threads. A large fit on two threads takes the time of
    two fits side by side on one thread each (94 s against 159 s for one fit at 60,000 genes x 1,000 samples on
    2 cores) and needs the memory of one (~5 GB at that size) instead of two; small jobs gain nothing from a
    second thread and run side by side with the plots.
    """
    return 2 if shape is not None and shape[0] * shape[1] >= LARGE_MATRIX else 1


def release_memory() -> None:
    """Give memory freed in this process back to the system: collect garbage, then glibc's ``malloc_trim`` (a
    no-op elsewhere). Reading a large count matrix leaves the allocator holding the parser's buffers: at 60,000
    genes x 1,000 samples Snakemake's process stays at ~1.1 GB through the run without this, ~0.2 GB with it."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


#: Longest readable part of a fit's name (the hash after it keeps names unique and file names short).
FIT_PREFIX_LENGTH = 80


def fit_definition(contrast: Contrast, shrink: bool) -> dict:
    """What makes a model fit: the design (blanks removed), the sample subset (values sorted), and, when LFCs are
    shrunk, the compared variable's reference level (pydeseq2 shrinks one coefficient, so it sets the base level).
    Contrasts with equal definitions share one fit; any difference gives another fit."""
    return {"design": re.sub(r"\s+", "", contrast.design),
            "samples": {column: sorted(values) for column, values in sorted(contrast.samples.items())},
            "reference": [contrast.variable, contrast.reference] if shrink else None}


def fit_name(contrast: Contrast, shrink: bool) -> str:
    """A path-safe name for the fit a contrast needs: a readable prefix and a hash of the full definition.

    The readable part alone can coincide for different fits (``C(batch)`` vs a column ``C_batch_``, subset values
    ``[a-b]`` vs ``[a, b]``, references ``normal pancreas`` vs ``normal_pancreas``); the hash cannot.

    >>> fit_name(Contrast("c", "site", "liver_metastasis", "primary", "~ patient + site"), shrink=True)
    'patient+site__ref-site-primary-6e36485a'
    """
    definition = fit_definition(contrast, shrink)
    parts = [definition["design"].lstrip("~") or "1"]
    parts += [f"{column}-" + "-".join(values) for column, values in definition["samples"].items()]
    if shrink:
        parts.append(f"ref-{contrast.variable}-{contrast.reference}")
    readable = re.sub(r"[^A-Za-z0-9_.+-]", "_", "__".join(parts))[:FIT_PREFIX_LENGTH]
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def plan_fits(contrasts: Iterable[Contrast], shrink: bool) -> dict[str, list[Contrast]]:
    """Group contrasts by the fit they share: ``{fit name: [contrasts]}`` in config order.

    Raises
    ------
    RuntimeError
        If two different fit definitions got one name (a hash collision: never expected, but never silent).
    """
    fits: dict[str, list[Contrast]] = {}
    definitions: dict[str, dict] = {}
    for contrast in contrasts:
        name, definition = fit_name(contrast, shrink), fit_definition(contrast, shrink)
        if definitions.setdefault(name, definition) != definition:
            raise RuntimeError(f"fits {definitions[name]} and {definition} got the same name {name!r}")
        fits.setdefault(name, []).append(contrast)
    return fits


def fit_settings(config: Mapping) -> dict:
    """The keys of ``diffexp:`` that rule ``fit`` reads."""
    return pick(config["diffexp"], FitSettings)


def wald_settings(config: Mapping) -> dict:
    """The keys of ``diffexp:`` that rule ``contrast`` reads."""
    return pick(config["diffexp"], WaldSettings)


def highlight_genes(config: Mapping, targets: Targets | None) -> list[str]:
    """The symbols labelled on MA and volcano plots: ``diffexp.highlight``, or (null) the axes' receptors."""
    if config["diffexp"]["highlight"] is not None:
        return list(config["diffexp"]["highlight"])
    return _unique(gene for axis in (targets.axes.values() if targets else []) for gene in axis.receptors)


def curve_terms(config: Mapping, targets: Targets | None) -> list[str]:
    """The terms drawn as enrichment curves: ``enrichment.curves``, or (null) the axes' terms."""
    if config["enrichment"]["curves"] is not None:
        return list(config["enrichment"]["curves"])
    return _unique(term for axis in (targets.axes.values() if targets else []) for term in axis.terms)


def _unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))


def plan_admixture(section: Mapping, sheet: pd.DataFrame | None, reference: str, samples_path: str,
                   configured: bool) -> tuple[bool, list[str]]:
    """Whether the host-tissue stage runs, and the problems with the ``admixture:`` section (one line each).

    ``sheet`` is the validated sample sheet, or None for an import that has not run yet (then the levels are
    checked by the first run after the import). The host reference is checked against its manifest. A section the
    user wrote (``configured``) must fit the sheet; the defaults (``site`` levels ``liver_metastasis`` and
    ``primary``) turn the stage off quietly for a cohort that has no such column or levels.
    """
    hosts, variable = section["hosts"], section["variable"]
    if not hosts:
        return False, []
    if not configured and sheet is not None and (
            variable not in sheet.columns or not set(hosts) & set(sheet[variable].dropna().astype(str))):
        return False, []
    problems = []
    if sheet is not None and variable not in sheet.columns:
        problems.append(f"config: admixture.variable: column {variable!r} is not in samples file '{samples_path}' "
                        f"(columns: {', '.join(map(repr, sheet.columns))}); name the column whose levels "
                        "admixture.hosts lists")
    elif sheet is not None:
        levels = sorted(set(sheet[variable].dropna().astype(str)))
        for level in hosts:
            if level not in levels:
                problems.append(f"config: admixture.hosts: {level!r} is not a value of column {variable!r} in "
                                f"samples file '{samples_path}' (values: {', '.join(map(repr, levels))}); list "
                                "levels of that column, or set `admixture: {hosts: {}}` for a cohort without host "
                                "tissue")
    try:
        load_host_reference(reference, Path(reference).parent / "MANIFEST.yaml")
    except InputError as error:
        problems += [f"config: admixture.reference: {problem}" for problem in error.problems]
    return True, problems


def enrich_settings(config: Mapping) -> dict:
    """The keys of ``enrichment:`` that rule ``enrich`` reads."""
    return pick(config["enrichment"], EnrichSettings)


def patient_sheet_problems(sheet: pd.DataFrame, section: Mapping, sheet_name: str) -> list[str]:
    """One line per sample-sheet column the ``patients:`` section names and the sheet cannot give (covariates,
    survival time and event)."""
    settings = PatientSettings.from_config(section)
    return covariate_problems(sheet, settings.covariates, sheet_name) + \
        survival_problems(sheet, settings.survival, sheet_name)


def resolve_path(path: str | Path, workflow_root: str | Path) -> str:
    """A path of the config: as given if it exists from the working directory (or is absolute, or does not exist
    inside the workflow's folder either), else inside the workflow's folder ``workflow_root`` (the shipped
    ``config/targets.yaml`` from another working directory)."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists() or not (Path(workflow_root) / candidate).exists():
        return str(candidate)
    return str(Path(workflow_root) / candidate)


#: Environment variable through which the parse hands the ``cohort`` job the targets file whose symbols it could
#: not check (a ``cohort:`` import that has not run yet): not a param, so editing the file reruns nothing.
TARGETS_CHECK_VARIABLE = "TARGET_RATIONALE_TARGETS_TO_CHECK"


def targets_symbol_check(targets_file: str | None, gene_id_map: str | Path
                         ) -> Callable[[Iterable[str], str], list[str]] | None:
    """The check of a targets file's symbols (:func:`target_symbol_problems`) as a function of the counts' gene
    ids and their resolved id type, for the ``cohort`` job of an import, whose ids the parse could not know.

    Parameters
    ----------
    targets_file : str or None
        The targets file as the parse resolved it (:data:`TARGETS_CHECK_VARIABLE`); None or empty: nothing to
        check.
    gene_id_map : str or Path
        The gene id map.

    Returns
    -------
    callable or None
        ``check(count_ids, id_type) -> problems``; it reads the file when called (a missing file is the parse's
        one-line error); None without a file.
    """
    if not targets_file:
        return None
    return lambda count_ids, id_type: target_symbol_problems(load_targets(targets_file), targets_file, gene_id_map,
                                                             count_ids, id_type)


def target_symbol_problems(targets: Targets, targets_file: str, gene_id_map: str | Path, count_ids: Iterable[str],
                           id_type: str) -> list[str]:
    """One line per gene symbol of the targets file that no gene of the cohort can carry (neither a symbol of the
    gene id map nor a symbol the counts' ids map to: :func:`target_rationale.cohort.ids.cohort_symbols`;
    :func:`target_rationale.targets.config.symbol_problems`), or the one line of a gene id map that cannot be
    read (a row with more fields than the header, say)."""
    try:
        id_map = read_gene_id_map(gene_id_map)
    except (InputError, ValueError, UnicodeDecodeError, OSError, EOFError) as err:  # ParserError is a ValueError
        reason = " ".join(str(err).split())[:200]
        return [f"config: gene_id_map: file '{gene_id_map}' cannot be read ({reason}); {ID_MAP_FIX}"]
    known = cohort_symbols(count_ids, id_type, id_map)
    return [f"targets file '{targets_file}': {line}" for line in symbol_problems(targets, known)]
