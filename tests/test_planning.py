"""Planning the run (target_rationale.planning): fit plans, what each job reads, plot defaults from the axes."""

from __future__ import annotations

from conftest import REPO
from target_rationale.cohort.design import parse_contrasts
from target_rationale.core.schema import with_defaults
from target_rationale.planning import curve_terms, fit_name, highlight_genes, plan_fits
from target_rationale.targets.config import load_targets

TARGETS = load_targets(REPO / "config" / "targets.yaml")
CONFIG = {section: with_defaults(None, "config", section) for section in ("diffexp", "enrichment")}


def test_plot_defaults_follow_the_configured_axes() -> None:
    assert highlight_genes(CONFIG, TARGETS) == ["EGFR", "ERBB2", "ERBB3", "ERBB4", "FLT1", "KDR", "FLT4", "FGFR1",
                                                "FGFR2", "FGFR3", "FGFR4", "CSF1R"]
    terms = curve_terms(CONFIG, TARGETS)
    assert terms[:2] == ["GO:0007173", "GO:0038127"] and "WP4806" in terms and "GO:0036006" in terms
    assert len(terms) == len(set(terms))
    assert highlight_genes(CONFIG, None) == [] and curve_terms(CONFIG, None) == []


def test_configured_plot_lists_win() -> None:
    config = {"diffexp": {**CONFIG["diffexp"], "highlight": ["TP53"]},
              "enrichment": {**CONFIG["enrichment"], "curves": []}}
    assert highlight_genes(config, TARGETS) == ["TP53"] and curve_terms(config, TARGETS) == []


def test_contrasts_share_a_fit_only_with_the_same_design_subset_and_reference() -> None:
    contrasts = parse_contrasts([
        {"name": "p", "variable": "site", "target": "primary", "reference": "normal_pancreas"},
        {"name": "m", "variable": "site", "target": "liver_metastasis", "reference": "normal_pancreas"},
        {"name": "mp", "variable": "site", "target": "liver_metastasis", "reference": "primary"},
    ], "~ patient + site")
    assert [len(c) for c in plan_fits(contrasts, shrink=True).values()] == [2, 1]
    assert list(plan_fits(contrasts, shrink=False)) == [fit_name(contrasts[0], shrink=False)]
