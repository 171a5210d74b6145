"""Planning the run (target_rationale.planning): fit plans, what each job reads, plot defaults from the axes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from target_rationale.cohort.design import Contrast, parse_contrasts
from target_rationale.cohort.validation import validate_inputs
from target_rationale.core.errors import InputError
from target_rationale.core.schema import with_defaults
from target_rationale.planning import (
    curve_terms,
    de_threads,
    fit_name,
    highlight_genes,
    plan_fits,
    resolve_path,
    targets_symbol_check,
)
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


CONTRASTS = [
    {"name": "primary_vs_normal", "variable": "site", "target": "primary", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_normal", "variable": "site", "target": "liver_metastasis", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_primary", "variable": "site", "target": "liver_metastasis", "reference": "primary"},
    {"name": "sub", "variable": "site", "target": "liver_metastasis", "reference": "primary",
     "samples": {"site": ["primary", "liver_metastasis"]}},
]


def readable(name: str) -> str:
    """A fit name without its hash."""
    return name.rsplit("-", 1)[0]


def test_fits_are_shared_by_design_and_split_by_reference_only_when_shrinking() -> None:
    contrasts = parse_contrasts(CONTRASTS, "~ patient + site")
    assert {readable(k): [c.name for c in v] for k, v in plan_fits(contrasts, shrink=False).items()} == {
        "patient+site": ["primary_vs_normal", "liver_met_vs_normal", "liver_met_vs_primary"],
        "patient+site__site-liver_metastasis-primary": ["sub"],
    }
    assert [readable(k) for k in plan_fits(contrasts, shrink=True)] == [
        "patient+site__ref-site-normal_pancreas", "patient+site__ref-site-primary",
        "patient+site__site-liver_metastasis-primary__ref-site-primary"]
    assert re.fullmatch(r"site-[0-9a-f]{8}", fit_name(Contrast("c", "site", "a", "b", "~site"), shrink=False))
    assert fit_name(Contrast("c", "site", "a", "b", "~ site"), shrink=False) == fit_name(
        Contrast("d", "site", "x", "b", "~site"), shrink=False)  # blanks and the target level do not matter


@pytest.mark.parametrize(("a", "b"), [
    (Contrast("a", "site", "t", "r", "~ patient + site", {"site": ["a-b"]}),
     Contrast("b", "site", "t", "r", "~ patient + site", {"site": ["a", "b"]})),
    (Contrast("a", "site", "t", "r", "~ C(batch) + site"), Contrast("b", "site", "t", "r", "~ C_batch_ + site")),
    (Contrast("a", "site", "t", "normal pancreas", "~ site"), Contrast("b", "site", "t", "normal_pancreas", "~ site")),
], ids=["subset values", "design", "reference"])
def test_fits_that_read_alike_but_differ_never_share_a_name(a: Contrast, b: Contrast) -> None:
    """The readable names coincide (the old names did too, and the second contrast was fitted with the first
    one's settings); the full definitions differ, so the names do."""
    assert readable(fit_name(a, shrink=True)) == readable(fit_name(b, shrink=True))
    assert fit_name(a, shrink=True) != fit_name(b, shrink=True)
    assert len(plan_fits([a, b], shrink=True)) == 2


def test_long_definitions_give_short_names() -> None:
    long = Contrast("c", "site", "t", "r", "~ " + " + ".join(f"covariate_{i}" for i in range(30)) + " + site")
    assert len(fit_name(long, shrink=True)) <= 80 + 9


def test_large_matrices_fit_on_two_threads_one_at_a_time() -> None:
    """The DE jobs take two threads from 20 million counts (one large fit at a time, with one fit's memory);
    the demo's size, a 40,000 x 54 cohort and an import whose size is not known yet keep one."""
    assert de_threads((60_000, 1_000)) == 2 and de_threads((20_000, 1_000)) == 2
    assert de_threads((40_000, 54)) == 1 and de_threads((19_999, 1_000)) == 1 and de_threads(None) == 1


def test_planning_keeps_no_counts_once_they_are_checked() -> None:
    """What planning keeps through the run after the checks: the sheet, id type and contrasts, not the
    matrix (the jobs read it from file)."""
    inputs = validate_inputs(REPO / "resources" / "demo" / "counts.tsv.gz", REPO / "resources" / "demo" / "samples.tsv",
                             "auto", "~ patient + site", [{"name": "liver_met_vs_primary", "variable": "site",
                                                          "target": "liver_metastasis", "reference": "primary"}])
    light = inputs.without_counts()
    assert inputs.matrix is not None and light.matrix is None
    assert light.sheet.equals(inputs.sheet) and light.id_type == inputs.id_type
    assert light.contrasts == inputs.contrasts


def test_config_paths_resolve_from_the_working_directory_first_then_the_workflow(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch
                                                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    shipped = "config/targets.yaml"
    assert resolve_path(shipped, REPO) == str(REPO / shipped)  # not here: the workflow's own
    (tmp_path / "config").mkdir()
    (tmp_path / shipped).write_text("axes: {}\n")
    assert resolve_path(shipped, REPO) == shipped  # the working directory's wins
    assert resolve_path("missing.yaml", REPO) == "missing.yaml"  # left for the caller's "does not exist"
    assert resolve_path(str(REPO / "README.md"), tmp_path) == str(REPO / "README.md")


def test_the_cohort_jobs_symbol_check_names_a_typo_and_passes_the_shipped_file(tmp_path: Path) -> None:
    gene_map = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
    assert targets_symbol_check(None, gene_map) is None and targets_symbol_check("", gene_map) is None
    check = targets_symbol_check(str(REPO / "config" / "targets.yaml"), gene_map)
    assert check(["1956", "60"], "entrez") == []
    data = yaml.safe_load((REPO / "config" / "targets.yaml").read_text(encoding="utf-8"))
    data["drugs"]["gefitinib"]["targets"] = ["egfr"]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    problems = targets_symbol_check(str(tmp_path / "targets.yaml"), gene_map)(["1956"], "entrez")
    assert problems == [f"targets file '{tmp_path / 'targets.yaml'}': drugs.gefitinib.targets: 'egfr' is not a "
                        "symbol of the gene id map or of the counts' genes; write 'egfr' -> 'EGFR' (symbols are "
                        "case-sensitive)"]
    # a file the job cannot read is the parse's own one-line error, not a check skipped
    with pytest.raises(InputError, match="targets file '.*absent.yaml' does not exist"):
        targets_symbol_check(str(tmp_path / "absent.yaml"), gene_map)(["1956"], "entrez")
