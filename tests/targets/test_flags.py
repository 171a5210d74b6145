"""The flag rule (``targets.flags``): the calibrated test's flags (Holm, effect floor), the three votes and their
combination, uniqueness with and without the direct contrast, the liver caveat and the axes table, from hand-made
evidence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from axis_inputs import MET, PRIM, THRESHOLDS, de_table, genes_ev, gsea_table, write_targets
from target_rationale.cohort.design import Contrast
from target_rationale.targets.config import Axis, FlagRule, Targets, load_targets
from target_rationale.targets.evidence import genes_table
from target_rationale.targets.flags import (
    axes_table,
    calibrated_flags,
    combine_votes,
    compartment,
    direct_contrast,
    flag,
    gene_vote,
    holm,
    markers_moved,
    pathway_vote,
    score_vote,
    uniqueness,
)
from target_rationale.targets.rationale import rationale

DEFAULT = FlagRule.from_config()


@pytest.mark.parametrize(("rows", "rule", "expected"), [
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "up")], DEFAULT, "up"),
    ([("EGFR", "receptor", "down"), ("EGF", "ligand", "down"), ("AREG", "ligand", "down")], DEFAULT, "down"),
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "none")], DEFAULT, "none"),  # too few
    ([("EGF", "ligand", "up"), ("AREG", "ligand", "up")], DEFAULT, "none"),  # no receptor
    ([("EGF", "ligand", "up"), ("AREG", "ligand", "up")], FlagRule.from_config({"min_receptors": 0}), "up"),
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "up"), ("AREG", "ligand", "down")], DEFAULT, "up"),
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "up"), ("ERBB2", "receptor", "down"), ("AREG", "ligand", "down")],
     DEFAULT, "none"),  # both directions reach min_genes: conflicting
    ([("EGFR", "receptor", "up"), ("CD68", "marker", "up"), ("CD163", "marker", "up")], DEFAULT, "none"),
])
def test_gene_vote(rows, rule, expected) -> None:
    assert gene_vote(genes_ev(rows), rule) == expected


@pytest.mark.parametrize(("ev", "rule", "expected"), [
    ({"n_terms_up": 1, "n_terms_down": 0}, DEFAULT, "up"),
    ({"n_terms_up": 0, "n_terms_down": 2}, DEFAULT, "down"),
    ({"n_terms_up": 1, "n_terms_down": 1}, DEFAULT, "none"),
    ({"n_terms_up": 2, "n_terms_down": 1}, FlagRule.from_config({"min_terms": 2}), "up"),
    ({"n_terms_up": 1, "n_terms_down": 0}, FlagRule.from_config({"min_terms": 2}), "none"),
    ({"n_terms_up": 0, "n_terms_down": 0}, DEFAULT, "none"),
    (None, DEFAULT, "none"),
])
def test_pathway_vote(ev, rule, expected) -> None:
    assert pathway_vote(ev, rule) == expected


@pytest.mark.parametrize(("ev", "expected"), [
    ({"score_p": 0.01, "score_diff": 0.8}, "up"),
    ({"score_p": 0.01, "score_diff": -0.8}, "down"),
    ({"score_p": 0.05, "score_diff": 0.8}, "none"),  # not below the threshold
    ({"score_p": np.nan, "score_diff": 0.8}, "none"),
    (None, "none"),
])
def test_score_vote(ev, expected) -> None:
    assert score_vote(ev, FlagRule.from_config({"score_p": 0.05})) == expected


@pytest.mark.parametrize(("votes", "min_lines", "expected"), [
    (["up", "up", "none"], 2, "up"),
    (["up", "up", "up"], 2, "up"),
    (["down", "none", "down"], 2, "down"),
    (["up", "none", "none"], 2, "none"),
    (["up", "up", "down"], 2, "none"),  # an opposite vote vetoes
    (["down", "down", "up"], 1, "none"),
    (["up", "none", "none"], 1, "up"),
    (["up", "up", "none"], 3, "none"),
])
def test_combine_votes(votes, min_lines, expected) -> None:
    assert combine_votes(votes, min_lines) == expected


def test_votes_without_a_rule_use_the_schema_defaults() -> None:
    two_genes = genes_ev([("EGFR", "receptor", "up"), ("EGF", "ligand", "up")])
    one_gene = genes_ev([("EGFR", "receptor", "up"), ("EGF", "ligand", "none")])
    assert (gene_vote(two_genes), gene_vote(one_gene)) == ("up", "none")  # min_genes 2
    assert pathway_vote({"n_terms_up": 1, "n_terms_down": 0}) == "up"  # min_terms 1
    assert (score_vote({"score_p": 0.049, "score_diff": 1.0}), score_vote({"score_p": 0.05, "score_diff": 1.0})) == \
        ("up", "none")  # score_p 0.05
    assert (combine_votes(["up", "up", "none"]), combine_votes(["up", "none", "none"])) == ("up", "none")  # 2 lines


def test_flag_combines_the_three_lines() -> None:
    up_genes = genes_ev([("EGFR", "receptor", "up"), ("EGF", "ligand", "up")])
    assert flag(up_genes, {"n_terms_up": 1, "n_terms_down": 0}, None) == "up"
    assert flag(up_genes, None, {"score_p": 0.001, "score_diff": 1.0}) == "up"
    assert flag(up_genes, {"n_terms_up": 0, "n_terms_down": 0}, {"score_p": 0.3, "score_diff": 1.0}) == "none"
    assert flag(up_genes, {"n_terms_up": 2, "n_terms_down": 0}, {"score_p": 0.001, "score_diff": -1.0}) == "none"
    assert flag(up_genes, None, None, FlagRule.from_config({"min_lines": 1})) == "up"


def test_uniqueness_labels() -> None:
    flags = pd.DataFrame({"contrast": [MET] * 5 + [PRIM] * 4,
                          "axis": ["A", "B", "C", "D", "E", "A", "B", "C", "D"],
                          "flag": ["up", "up", "down", "none", "up", "none", "up", "up", "up"]})
    result = uniqueness(flags, MET, PRIM)
    assert result.to_dict() == {"A": "unique", "B": "shared", "C": "opposite", "D": "none", "E": "unknown"}


def test_uniqueness_with_the_direct_contrast_names_every_class() -> None:
    """Flags vs normal in metastases and primaries, and metastasis vs primary (DIRECT). A2 is the
    difference-in-significance trap: flagged in metastases only, but metastases do not differ from primaries."""
    direct = "met_vs_prim"
    rows = {  # axis: (metastasis, primary, direct)
        "A1": ("up", "none", "up"), "A2": ("up", "none", "none"), "A3": ("up", "none", "down"),
        "B1": ("up", "up", "none"), "B2": ("up", "up", "up"), "B3": ("up", "up", "down"),
        "B4": ("down", "down", "down"), "C": ("down", "up", "down"), "D": ("none", "up", "down")}
    flags = pd.DataFrame([(c, axis, f) for axis, fs in rows.items() for c, f in zip((MET, PRIM, direct), fs)],
                         columns=["contrast", "axis", "flag"])
    result = uniqueness(flags, MET, PRIM, direct)
    assert result.to_dict() == {"A1": "unique", "A2": "unconfirmed", "A3": "unconfirmed", "B1": "shared",
                                "B2": "shared_stronger_in_metastasis", "B3": "shared_stronger_in_primary",
                                "B4": "shared_stronger_in_metastasis", "C": "opposite", "D": "none"}
    contrasts = [Contrast(PRIM, "site", "primary", "normal", "~ site"),
                 Contrast(MET, "site", "liver_metastasis", "normal", "~ site"),
                 Contrast("prim_vs_met", "site", "primary", "liver_metastasis", "~ site"),
                 Contrast(direct, "site", "liver_metastasis", "primary", "~ site")]
    assert direct_contrast(contrasts, MET, PRIM) == direct
    assert direct_contrast(contrasts[:3], MET, PRIM) is None  # the reverse orientation is not the direct test


def test_holm_by_hand() -> None:
    p = pd.Series([0.01, 0.04, np.nan, 0.03, 0.5], index=list("abcde"))
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): 0.04, 0.09, max(0.09, 0.08) = 0.09, 0.5
    expected = pd.Series([0.04, 0.09, np.nan, 0.09, 0.5], index=list("abcde"))
    pd.testing.assert_series_equal(holm(p), expected)


def test_calibrated_flags_need_holm_and_the_effect_floor() -> None:
    tests = pd.DataFrame({"contrast": ["c"] * 4, "axis": ["big", "tiny", "weak", "down"],
                          "test_effect": [1.0, 0.1, 1.0, -0.5], "test_p": [1e-4, 1e-6, 0.02, 1e-3]})
    flagged = calibrated_flags(tests).set_index("axis")
    # Holm: 1e-6 x 4, 1e-4 x 3, 1e-3 x 2, 0.02 x 1 -> weak 0.02 < 0.05, but 'tiny' is under min_effect 0.2
    assert flagged["flag"].to_dict() == {"big": "up", "tiny": "none", "weak": "up", "down": "down"}
    strict = calibrated_flags(tests, FlagRule.from_config({"alpha": 0.01})).set_index("axis")
    assert strict.loc["weak", "flag"] == "none" and strict.loc["big", "flag"] == "up"


def test_flags_come_from_the_test_when_there_is_one() -> None:
    targets = Targets(axes={"FGFR": Axis("FGFR", ("FGFR1",), ("FGF1",), terms=("GO:0008543",))},
                      drugs={}, flag=FlagRule.from_config(), metastasis=MET, primary=PRIM, metastasis_vs_primary=None)
    de = {MET: de_table({"FGFR1": (1.0, 0.01), "FGF1": (1.0, 0.01)}),
          PRIM: de_table({"FGFR1": (1.0, 0.01), "FGF1": (1.0, 0.01)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0008543", 2.0, 0.01, "FGFR1")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0008543", 2.0, 0.01, "FGFR1")])}
    tests = pd.DataFrame({"contrast": [PRIM, MET], "axis": ["FGFR", "FGFR"], "test_n_genes": [2, 2],
                          "test_effect": [0.8, 0.9], "test_t": [1.0, 9.0], "test_df": [10, 10],
                          "test_p": [0.3, 1e-5]})
    table = axes_table(de, gsea, {}, targets, tests=tests, **THRESHOLDS).set_index("contrast")
    assert table.loc[PRIM, "vote_flag"] == "up" and table.loc[PRIM, "flag"] == "none"  # votes are evidence only
    assert table.loc[MET, "flag"] == "up" and table.loc[MET, "unique"] == "unique"
    assert table.loc[MET, "test_p_holm"] == pytest.approx(2e-5)


def test_user_added_axis_and_drug_flow_through_the_axes_table_and_the_rationale(tmp_path) -> None:
    path = write_targets(tmp_path, {
        "axes": {"MET": {"receptors": ["MET"], "ligands": ["HGF"], "terms": ["GO:0048012", "hsa_absent"]},
                 "EGFR": {"receptors": ["EGFR"], "ligands": ["EGF"], "terms": ["GO:0007173"]}},
        "drugs": {"crizotinib": {"targets": ["MET", "ALK", "ROS1"], "note": "MET inhibitor"},
                  "gefitinib": {"targets": ["EGFR"]}},
        "contrasts": {"metastasis": MET, "primary": PRIM}})
    targets = load_targets(path, contrasts=[MET, PRIM])
    de = {PRIM: de_table({"MET": (0.1, 0.9), "HGF": (0.2, 0.8), "EGFR": (1.0, 0.01), "EGF": (1.1, 0.01)}),
          MET: de_table({"MET": (2.0, 1e-6), "HGF": (1.5, 1e-4), "EGFR": (1.0, 0.01), "EGF": (1.1, 0.01)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0048012", 2.0, 0.001, "MET;HGF"), ("GO:0007173", 1.8, 0.01, "EGFR")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0048012", 0.3, 0.9, "MET"), ("GO:0007173", 1.7, 0.02, "EGFR")])}
    samples = [f"p{i}" for i in range(4)] + [f"m{i}" for i in range(4)] + [f"n{i}" for i in range(4)]
    sheet = pd.DataFrame({"sample": samples, "site": ["primary"] * 4 + ["liver_metastasis"] * 4 + ["normal"] * 4})
    scores = pd.DataFrame({"MET": [0.0, 0.1, -0.1, 0.05, 2.0, 2.1, 1.9, 2.2, 0.0, 0.1, -0.1, 0.05],
                           "EGFR": [1.0, 1.1, 0.9, 1.2, 1.0, 1.1, 0.9, 1.2, 0.0, 0.1, -0.1, 0.05]}, index=samples)
    contrasts = [Contrast(PRIM, "site", "primary", "normal", "~ site"),
                 Contrast(MET, "site", "liver_metastasis", "normal", "~ site")]
    table = axes_table(de, gsea, {}, targets, scores, sheet, contrasts, **THRESHOLDS).set_index(["contrast", "axis"])
    met = table.loc[(MET, "MET")]
    assert (met["flag"], met["unique"]) == ("up", "unique")
    assert (met["vote_genes"], met["vote_pathway"], met["vote_score"]) == ("up", "up", "up")
    assert met["receptors_up"] == "MET" and met["ligands_up"] == "HGF" and met["n_genes_up"] == 2
    assert met["terms_skipped"] == "hsa_absent" and met["n_terms_found"] == 1 and met["best_term"] == "GO:0048012"
    assert table.loc[(PRIM, "MET"), "flag"] == "none" and table.loc[(PRIM, "MET"), "unique"] == ""
    assert table.loc[(MET, "EGFR"), "unique"] == "shared"
    assert list(table.reset_index()["contrast"]) == [PRIM, PRIM, MET, MET]  # the DE tables' order

    ranked = rationale(table.reset_index(), targets).set_index("therapy")
    assert ranked.loc["crizotinib", "covers"] == "MET" and ranked.loc["crizotinib", "uncovered"] == "EGFR"
    assert ranked.loc["crizotinib + gefitinib", "covers_all"]
    assert ranked.index[0] == "crizotinib + gefitinib"
    genes = genes_table(de, targets, 0.05)
    assert set(genes["axis"]) == {"MET", "EGFR"} and len(genes) == 8


def test_liver_caveat_names_liver_signature_genes_behind_the_evidence() -> None:
    targets = Targets(axes={"FGFR": Axis("FGFR", ("FGFR1",), ("FGF1",), terms=("GO:0008543",))},
                      drugs={}, flag=FlagRule.from_config(), metastasis=MET, primary=PRIM, metastasis_vs_primary=None)
    de = {MET: de_table({"FGFR1": (1.0, 0.01), "FGF1": (1.0, 0.01), "ALB": (8.0, 1e-20)}, liver={"ALB"}),
          PRIM: de_table({"FGFR1": (1.0, 0.01), "FGF1": (1.0, 0.01)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0008543", 2.0, 0.01, "FGFR1;ALB;FGA")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0008543", 2.0, 0.01, "FGFR1")])}
    table = axes_table(de, gsea, {}, targets, liver_genes={"ALB", "FGA"}, **THRESHOLDS).set_index("contrast")
    assert "ALB, FGA" in table.loc[MET, "liver_caveat"] and table.loc[PRIM, "liver_caveat"] == ""
    assert table.loc[MET, "flag"] == "up" and table.loc[MET, "unique"] == "shared"
    assert math.isnan(table.loc[MET, "score_p"])  # no scores given: the score line abstains


def test_compartment_needs_the_markers_to_move_the_flags_way_and_one_of_them_significantly() -> None:
    assert compartment("up", 1.5, 0.2) == "microenvironment"
    assert compartment("up", 0.27, 0.2, markers_moved=False) == "no_marker_shift"  # a mean of non-significant genes
    assert compartment("up", -0.5, 0.2) == "no_marker_shift" and compartment("down", -0.5, 0.2) == "microenvironment"
    assert compartment("up", float("nan"), 0.2) == "no_markers" and compartment("none", 1.5, 0.2) == ""
    assert markers_moved({"markers_up": "CD68;CD163", "markers_down": ""}, "up")
    assert not markers_moved({"markers_up": "", "markers_down": "VWF"}, "up")
    assert not markers_moved({"markers_up": "CD68"}, "none")
