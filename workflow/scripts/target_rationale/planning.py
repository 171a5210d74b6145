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

import re
from collections.abc import Iterable, Mapping

from target_rationale.cohort.design import Contrast, design_variables
from target_rationale.cohort.import_plan import cohort_config_problems, plan_import
from target_rationale.cohort.validation import plan_inputs, validate_inputs
from target_rationale.core.errors import InputError
from target_rationale.core.jobs import COMMAND_VARIABLE
from target_rationale.core.schema import config_problems, pick
from target_rationale.diffexp.settings import FitSettings, WaldSettings
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.genesets.sources.registry import cache_key
from target_rationale.paths import result
from target_rationale.targets.config import Targets, load_targets

__all__ = [
    "COMMAND_VARIABLE", "InputError", "cache_key", "cohort_config_problems", "config_problems", "curve_terms",
    "design_variables", "enrich_settings", "fit_name", "fit_settings", "highlight_genes", "load_targets",
    "plan_fits", "plan_import", "plan_inputs", "result", "validate_inputs", "wald_settings",
]


def fit_name(contrast: Contrast, shrink: bool) -> str:
    """A readable, path-safe name for the model fit a contrast needs.

    >>> fit_name(Contrast("c", "site", "liver_metastasis", "primary", "~ patient + site"), shrink=True)
    'patient+site__ref-site-primary'
    """
    parts = [re.sub(r"\s+", "", contrast.design).lstrip("~") or "1"]
    for column, values in sorted(contrast.samples.items()):
        parts.append(f"{column}-" + "-".join(sorted(values)))
    if shrink:
        parts.append(f"ref-{contrast.variable}-{contrast.reference}")
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", "__".join(parts))


def plan_fits(contrasts: Iterable[Contrast], shrink: bool) -> dict[str, list[Contrast]]:
    """Group contrasts by the fit they share: ``{fit name: [contrasts]}`` in config order."""
    fits: dict[str, list[Contrast]] = {}
    for contrast in contrasts:
        fits.setdefault(fit_name(contrast, shrink), []).append(contrast)
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


def enrich_settings(config: Mapping) -> dict:
    """The keys of ``enrichment:`` that rule ``enrich`` reads."""
    return pick(config["enrichment"], EnrichSettings)
