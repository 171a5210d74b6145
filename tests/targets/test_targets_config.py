"""Target axes configuration (``targets.config``): the shipped file, the schema as the one source of defaults, and
one line per schema problem naming the key.

All inputs are hand-made; nothing runs the workflow.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, replace

import pandas as pd
import pytest
import yaml
from axis_inputs import MET, PRIM, THRESHOLDS, write_targets
from conftest import REPO
from target_rationale.cohort.design import Contrast
from target_rationale.cohort.ids import cohort_symbols, map_to_symbols, read_gene_id_map
from target_rationale.core.errors import InputError
from target_rationale.core.schema import with_defaults
from target_rationale.targets.config import (
    SCHEMA_PATH,
    FlagRule,
    Targets,
    infer_direct,
    load_targets,
    symbol_problems,
)


def test_shipped_targets_load_with_the_four_axes_the_five_drugs_and_the_default_rule() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml", contrasts=[PRIM, MET, "liver_met_vs_primary"])
    assert list(targets.axes) == ["EGFR", "VEGFR", "FGFR", "CSF1R"]
    assert set(targets.drugs) == {"surufatinib", "sorafenib", "gefitinib", "sunitinib", "everolimus"}
    assert targets.drugs["surufatinib"].targets == ("FLT1", "KDR", "FLT4", "FGFR1", "CSF1R")
    assert "hsa01521" in targets.axes["EGFR"].terms and "HALLMARK_ANGIOGENESIS" in targets.axes["VEGFR"].terms
    assert targets.axes["CSF1R"].genes["CSF1R"] == "receptor"  # listed as marker too; receptor wins
    assert targets.axes["VEGFR"].caveat and targets.axes["CSF1R"].caveat
    share, source = targets.axes["EGFR"].reference_prevalence
    assert share == 0.212 and "Xiao" in source
    assert targets.axes["VEGFR"].reference_prevalence is None
    assert targets.flag == FlagRule.from_config()
    assert (targets.metastasis, targets.primary) == (MET, PRIM)


def test_the_schema_is_the_one_source_of_the_flag_rule_and_contrast_defaults(tmp_path) -> None:
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    defaults = {k: v["default"] for k, v in schema["properties"]["flag"]["properties"].items()}
    assert vars(FlagRule.from_config()) == defaults
    assert FlagRule.from_config({"min_lines": 3}) == FlagRule(**{**defaults, "min_lines": 3})
    for cls in (FlagRule, Targets):  # no default written twice: the dataclasses declare none
        assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(cls)), cls
    minimal = write_targets(tmp_path, {"axes": {"A": {"receptors": ["R"]}}, "drugs": {"d": {"targets": ["R"]}}})
    targets = load_targets(minimal)
    assert targets.flag == FlagRule(**defaults)
    assert (targets.metastasis, targets.primary) == tuple(schema["properties"]["contrasts"]["default"].values())
    assert targets.metastasis_vs_primary is None  # found among the workflow's contrasts, with a deprecation line
    # a section given is the roles: a role it leaves out is not named (no cohort without normals gets the
    # demo's tumour-vs-normal names by default)
    partial = write_targets(tmp_path, {"axes": {"A": {"receptors": ["R"]}}, "drugs": {"d": {"targets": ["R"]}},
                                       "flag": {"score_p": 0.01},
                                       "contrasts": {"metastasis_vs_primary": "met_vs_prim"}}, "partial.yaml")
    targets = load_targets(partial)
    assert targets.flag == FlagRule(**{**defaults, "score_p": 0.01})
    assert (targets.metastasis, targets.primary, targets.metastasis_vs_primary) == (None, None, "met_vs_prim")
    assert targets.judged == "met_vs_prim" and not targets.compares
    assert targets.roles == {"met_vs_prim": "metastasis_vs_primary"}


@pytest.mark.parametrize(("data", "expected"), [
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"note": "no targets"}}},
     "drugs.crizotinib: missing required key(s) 'targets'"),
    ({"axes": {"MET": {"receptors": []}}, "drugs": {"crizotinib": {"targets": ["MET"]}}},
     "axes.MET.receptors: must list at least one gene symbol"),
    ({"axes": {"MET": {"receptors": ["MET"], "ligand": ["HGF"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}}},
     "axes.MET: unknown key(s) 'ligand'"),
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}},
      "flag": {"min_lines": 4}}, "flag.min_lines: 4 is greater than the maximum of 3"),
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}},
      "flag": {"score_p": "0.05"}}, "flag.score_p: '0.05' is not of type 'number'"),
    ({"axes": {"bad name": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}}},
     "axes: name 'bad name' is not allowed"),
    ({"drugs": {"crizotinib": {"targets": ["MET"]}}}, "(top level): missing required key(s) 'axes'"),
    ({"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}},
      "contrasts": {"metastasis": "a", "primary": "a"}}, "contrasts: metastasis and primary are both 'a'"),
])
def test_schema_problems_name_the_key(tmp_path, data, expected) -> None:
    path = write_targets(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert any(expected in line and line.startswith(f"targets file '{path}': ") for line in err.value.problems), \
        err.value.problems


def test_every_problem_gets_its_own_line_and_unknown_contrasts_are_named(tmp_path) -> None:
    bad = write_targets(tmp_path, {"axes": {"MET": {"receptors": ["MET"], "extra": 1}},
                                   "drugs": {"crizotinib": {}}})
    with pytest.raises(InputError) as err:
        load_targets(bad)
    assert len(err.value.problems) == 2
    good = write_targets(tmp_path, {"axes": {"MET": {"receptors": ["MET"]}},
                                    "drugs": {"crizotinib": {"targets": ["MET"]}},
                                    "contrasts": {"metastasis": "met_vs_normal", "primary": "prim_vs_normal"}},
                         "good.yaml")
    with pytest.raises(InputError, match=r"contrasts.metastasis: 'met_vs_normal' is not a contrast"):
        load_targets(good, contrasts=["prim_vs_normal", "other"])


CONTRASTS = [Contrast(PRIM, "site", "primary", "normal", "~ site"),
             Contrast(MET, "site", "liver_metastasis", "normal", "~ site"),
             Contrast("liver_met_vs_primary", "site", "liver_metastasis", "primary", "~ site"),
             Contrast("primary_vs_liver_met", "site", "primary", "liver_metastasis", "~ site")]
MINIMAL = {"axes": {"MET": {"receptors": ["MET"]}}, "drugs": {"crizotinib": {"targets": ["MET"]}}}


@pytest.mark.parametrize(("roles", "expected"), [
    ({}, "contrasts: name `metastasis` (metastasis vs normal tissue) or `metastasis_vs_primary` (a cohort without "
         "normal tissue): the stage judges axes in one of them"),
    ({"primary": PRIM}, "contrasts: `primary` is compared with `metastasis`, which is not named"),
    ({"metastasis": MET, "primary": PRIM, "metastasis_vs_primary": MET},
     f"contrasts: metastasis and metastasis_vs_primary are both '{MET}'"),
    ({"metastasis": MET, "primary": PRIM, "metastasis_vs_primary": "primary_vs_liver_met"},
     "contrasts.metastasis_vs_primary: 'primary_vs_liver_met' compares 'primary' with 'liver_metastasis'; name the "
     "contrast of 'liver_metastasis' (metastasis' target) vs 'primary' (primary's target)"),
    ({"metastasis_vs_primary": "met_vs_prim"}, "contrasts.metastasis_vs_primary: 'met_vs_prim' is not a contrast"),
], ids=["none", "primary-alone", "same-contrast", "reversed", "unknown"])
def test_roles_that_cannot_work_are_named_in_the_file_or_in_the_config(tmp_path, roles, expected) -> None:
    path = write_targets(tmp_path, {**MINIMAL, "contrasts": roles})
    with pytest.raises(InputError) as err:
        load_targets(path, contrasts=CONTRASTS)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(f"targets file '{path}': {expected}"), \
        err.value.problems
    # the same roles given by the workflow config's target_contrasts replace a good section, and are reported there
    good = write_targets(tmp_path, {**MINIMAL, "contrasts": {"metastasis": MET, "primary": PRIM}}, "good.yaml")
    with pytest.raises(InputError) as err:
        load_targets(good, contrasts=CONTRASTS, roles=roles)
    assert err.value.problems[0].startswith(f"config: target_{expected}"), err.value.problems


def test_a_cohort_without_normals_names_only_the_direct_contrast_and_old_files_find_it_with_a_deprecation(
        tmp_path) -> None:
    shipped = REPO / "config" / "targets.yaml"
    only = load_targets(shipped, contrasts=CONTRASTS, roles={"metastasis_vs_primary": "liver_met_vs_primary"})
    assert (only.metastasis, only.primary, only.judged, only.compares) == (None, None, "liver_met_vs_primary", False)
    assert infer_direct(only, CONTRASTS) == (only, None)
    full = load_targets(shipped, contrasts=CONTRASTS)
    assert (full.metastasis_vs_primary, full.compares, full.judged) == ("liver_met_vs_primary", True, MET)
    old = load_targets(write_targets(tmp_path, {**MINIMAL, "contrasts": {"metastasis": MET, "primary": PRIM}}),
                       contrasts=CONTRASTS)
    found, note = infer_direct(old, CONTRASTS)
    assert old.metastasis_vs_primary is None and found.metastasis_vs_primary == "liver_met_vs_primary"
    assert note == ("targets contrasts: metastasis_vs_primary is not named, so 'liver_met_vs_primary' (found by its "
                    "levels) is used; name it (`metastasis_vs_primary: liver_met_vs_primary`): finding it by its "
                    "levels will be removed")
    assert infer_direct(old, CONTRASTS[:2]) == (old, None)  # no such contrast: a difference in significance


def test_symbols_no_gene_of_the_cohort_can_carry_are_named_with_their_key_and_fix() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml", contrasts=[PRIM, MET, "liver_met_vs_primary"])
    shipped = {s for axis in targets.axes.values() for s in axis.genes} | \
        {s for drug in targets.drugs.values() for s in drug.targets}
    id_map = read_gene_id_map(REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz")
    assert symbol_problems(targets, set(id_map["symbol"])) == []  # every shipped symbol is one of the shipped map
    known = shipped - {"EREG", "KDR"} | {"EGRF_LIKE"}
    edited = replace(targets, axes={"EGFR": replace(targets.axes["EGFR"], receptors=("EGFR", "egfr", "EGRF", "egfr")),
                                    "VEGFR": targets.axes["VEGFR"]},
                     drugs={"gefitinib": targets.drugs["gefitinib"], "sorafenib": targets.drugs["sorafenib"]})
    assert symbol_problems(edited, known) == [
        "axes.EGFR.receptors: 'egfr', 'EGRF' are not a symbol of the gene id map or of the counts' genes; "
        "write 'egfr' -> 'EGFR' (symbols are case-sensitive); fix the spelling (HGNC symbols), add the gene to the "
        "gene_id_map, or remove it",
        "axes.EGFR.ligands: 'EREG' is not a symbol of the gene id map or of the counts' genes; fix the "
        "spelling (HGNC symbols), add the gene to the gene_id_map, or remove it",
        "axes.VEGFR.receptors: 'KDR' is not a symbol of the gene id map or of the counts' genes; fix the "
        "spelling (HGNC symbols), add the gene to the gene_id_map, or remove it",
        "drugs.sorafenib.targets: 'KDR' is not a symbol of the gene id map or of the counts' genes; fix the "
        "spelling (HGNC symbols), add the gene to the gene_id_map, or remove it"]
    assert symbol_problems(edited, known | {"egfr", "EGRF", "KDR", "EREG"}) == []


def test_the_cohort_carries_the_maps_symbols_and_its_unmapped_ids_not_its_mapped_ids() -> None:
    id_map = read_gene_id_map(REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz")
    ids = ["ENSG00000146648.17", "ENSG00000900001"]  # EGFR (versioned), and an id the map does not know
    known = cohort_symbols(ids, "ensembl", id_map)
    assert {"EGFR", "KDR", "ENSG00000900001"} <= known and not {"ENSG00000146648.17", "ENSG00000146648"} & known
    assert {"FIGF_OLD", "EGFR"} <= cohort_symbols(["FIGF_OLD", "EGFR"], "symbol", id_map)
    for id_type, ids in (("ensembl", ids + ["ENSG00000141510", "ENSG00000999999.2"]), ("entrez", ["1956", "999999999"]),
                         ("symbol", ["EGFR", "NOT_A_GENE"])):  # the symbols the tables will carry, and the map's
        assert cohort_symbols(ids, id_type, id_map) == set(id_map["symbol"]) - {""} | set(
            map_to_symbols(pd.Index(ids), id_type, id_map)["symbol"]), id_type


def test_the_thresholds_these_tests_pass_are_the_schemas_defaults() -> None:
    diffexp, enrichment = with_defaults(None, "config", "diffexp"), with_defaults(None, "config", "enrichment")
    assert THRESHOLDS == {"alpha": diffexp["alpha"], "gsea_fdr": enrichment["gsea_fdr"],
                          "ora_fdr": enrichment["ora_fdr"]}
