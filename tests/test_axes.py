"""Target axes: config and schema, evidence lines, the flag rule, uniqueness, scores and the therapy rationale.

All inputs are hand-made; nothing runs the workflow.
"""

from __future__ import annotations

import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from scipy.stats import mannwhitneyu
from target_rationale.axes import (
    SCHEMA_PATH,
    Axis,
    FlagRule,
    Targets,
    axes_table,
    axis_scores,
    combine_votes,
    flag,
    gene_evidence,
    gene_vote,
    genes_table,
    hedges_g,
    load_targets,
    pathway_evidence,
    pathway_vote,
    rationale,
    rationale_markdown,
    score_contrast,
    score_vote,
    uniqueness,
)
from target_rationale.cohort import InputError
from target_rationale.design import Contrast

MET, PRIM = "liver_met_vs_normal", "primary_vs_normal"


def de_table(genes: dict[str, tuple[float, float]], liver: set[str] = frozenset()) -> pd.DataFrame:
    """A DE table from ``{symbol: (log2FoldChange, padj)}``."""
    rows = [{"gene_id": f"ID_{s}", "symbol": s, "baseMean": 100.0, "log2FoldChange": lfc, "lfcSE": 0.2,
             "stat": lfc / 0.2, "pvalue": padj, "padj": padj, "liver_signature": s in liver}
            for s, (lfc, padj) in genes.items()]
    return pd.DataFrame(rows)


def gsea_table(rows: list[tuple[str, float, float, str]]) -> pd.DataFrame:
    """A GSEA table from ``(term_id, nes, fdr, leading_edge)`` rows."""
    return pd.DataFrame([{"term_id": t, "term_name": f"name of {t}", "size": 20, "es": nes / 2, "nes": nes,
                          "pvalue": fdr / 2, "fdr": fdr, "leading_edge": edge} for t, nes, fdr, edge in rows])


def ora_table(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    """An ORA table from ``(term_id, fdr, genes)`` rows."""
    return pd.DataFrame([{"term_id": t, "term_name": t, "overlap": len(g.split(";")), "set_size": 20,
                          "pvalue": fdr / 2, "fdr": fdr, "genes": g, "odds_ratio": 3.0} for t, fdr, g in rows])


def genes_ev(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Hand-made gene evidence of one contrast x axis from ``(symbol, role, direction)`` rows."""
    return pd.DataFrame(rows, columns=["symbol", "role", "direction"]).assign(liver_signature=False, measured=True)


def write_targets(tmp_path, data: dict, name: str = "targets.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ---- config and schema -----------------------------------------------------------------------------------------


def test_shipped_targets_load_with_the_four_axes_the_five_drugs_and_the_default_rule() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml", contrasts=[PRIM, MET, "liver_met_vs_primary"])
    assert list(targets.axes) == ["EGFR", "VEGFR", "FGFR", "CSF1R"]
    assert set(targets.drugs) == {"surufatinib", "sorafenib", "gefitinib", "sunitinib", "everolimus"}
    assert targets.drugs["surufatinib"].targets == ("FLT1", "KDR", "FLT4", "FGFR1", "CSF1R")
    assert "hsa01521" in targets.axes["EGFR"].terms and "HALLMARK_ANGIOGENESIS" in targets.axes["VEGFR"].terms
    assert targets.axes["CSF1R"].genes["CSF1R"] == "receptor"  # listed as marker too; receptor wins
    assert targets.axes["VEGFR"].caveat and targets.axes["CSF1R"].caveat
    assert targets.flag == FlagRule()
    assert (targets.metastasis, targets.primary) == (MET, PRIM)


def test_schema_defaults_of_the_flag_rule_are_the_dataclass_defaults(tmp_path) -> None:
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    defaults = {k: v["default"] for k, v in schema["properties"]["flag"]["properties"].items()}
    assert defaults == vars(FlagRule())
    minimal = write_targets(tmp_path, {"axes": {"A": {"receptors": ["R"]}}, "drugs": {"d": {"targets": ["R"]}}})
    targets = load_targets(minimal)
    assert targets.flag == FlagRule()
    assert (targets.metastasis, targets.primary) == tuple(schema["properties"]["contrasts"]["default"].values())


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


# ---- evidence --------------------------------------------------------------------------------------------------


AXIS = Axis("EGFR", receptors=("EGFR", "ERBB2"), ligands=("EGF", "AREG"), terms=("GO:0007173", "hsa01521", "WP673"),
            markers=("KRT19",))


def test_gene_evidence_directions_and_unmeasured_genes_keep_their_row() -> None:
    table = de_table({"EGFR": (1.5, 0.001), "ERBB2": (-0.8, 0.01), "EGF": (2.0, 0.2), "KRT19": (0.5, np.nan),
                      "OTHER": (3.0, 1e-9)})
    ev = gene_evidence({MET: table}, AXIS, alpha=0.05).set_index("symbol")
    assert list(ev.index) == ["EGFR", "ERBB2", "EGF", "AREG", "KRT19"]
    assert list(ev["role"]) == ["receptor", "receptor", "ligand", "ligand", "marker"]
    assert list(ev["direction"]) == ["up", "down", "none", "none", "none"]
    assert not ev.loc["AREG", "measured"] and math.isnan(ev.loc["AREG", "log2FoldChange"])
    assert ev.loc["EGFR", "measured"] and ev.loc["EGFR", "padj"] == 0.001


def test_pathway_evidence_skips_term_ids_absent_from_every_loaded_collection() -> None:
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0007173", 2.1, 1e-5, "EGFR;AREG"), ("GO:9999999", 3.0, 1e-9, "X")]),
            (MET, "WikiPathways"): gsea_table([("WP673", -1.9, 0.01, "ERBB2")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0007173", 0.5, 0.9, "EGFR")])}
    ora = {(MET, "GO_BP", "up"): ora_table([("GO:0007173", 0.001, "AREG;EGFR")]),
           (MET, "GO_BP", "down"): ora_table([("GO:0007173", 1.0, "")])}
    ev = pathway_evidence(gsea, ora, AXIS, gsea_fdr=0.25, ora_fdr=0.05).set_index("contrast")
    met = ev.loc[MET]
    assert met["terms_found"] == "GO:0007173;WP673" and met["terms_skipped"] == "hsa01521"
    assert (met["best_term"], met["best_term_collection"], met["best_nes"], met["best_fdr"]) == \
        ("GO:0007173", "GO_BP", 2.1, 1e-5)
    assert (met["n_terms_up"], met["n_terms_down"]) == (1, 1)
    assert met["best_ora_up_fdr"] == 0.001 and met["best_ora_down_fdr"] == 1.0
    assert met["leading_edge"] == "AREG;EGFR;ERBB2"
    prim = ev.loc[PRIM]
    assert prim["terms_skipped"] == "hsa01521;WP673" and (prim["n_terms_up"], prim["n_terms_down"]) == (0, 0)


def test_hedges_g_and_mann_whitney_match_hand_computation_and_scipy() -> None:
    target, reference = [1.0, 2.0, 3.0, 5.0], [0.0, 0.5, 1.0]
    n1, n2 = 4, 3
    s1, s2 = np.var(target, ddof=1), np.var(reference, ddof=1)
    pooled = math.sqrt(((n1 - 1) * s1 + (n2 - 1) * s2) / (n1 + n2 - 2))
    expected_g = (np.mean(target) - np.mean(reference)) / pooled * (1 - 3 / (4 * (n1 + n2) - 9))
    assert hedges_g(target, reference) == pytest.approx(expected_g)
    assert math.isnan(hedges_g([1.0], reference))

    samples = [f"s{i}" for i in range(9)]
    sheet = pd.DataFrame({"sample": samples, "site": ["met"] * 4 + ["normal"] * 3 + ["met", "normal"],
                          "batch": ["a"] * 7 + ["b", "b"]})
    scores = pd.DataFrame({"EGFR": target + reference + [100.0, -100.0]}, index=samples)
    contrast = Contrast("met_vs_normal", "site", "met", "normal", "~ site", samples={"batch": ["a"]})
    row = score_contrast(scores, sheet, contrast).set_index("axis").loc["EGFR"]
    assert (row["n_target"], row["n_reference"]) == (4, 3)  # batch b left out by the contrast's subset
    assert row["score_diff"] == pytest.approx(np.mean(target) - np.mean(reference))
    assert row["score_hedges_g"] == pytest.approx(expected_g)
    assert row["score_p"] == pytest.approx(mannwhitneyu(target, reference, alternative="two-sided").pvalue)


def test_axis_scores_are_higher_where_the_axis_genes_are_planted_higher() -> None:
    rng = np.random.default_rng(1)
    n_genes, n_per_group = 300, 6
    base = rng.uniform(2, 12, n_genes)
    vst = base + rng.normal(0, 0.3, (2 * n_per_group, n_genes))
    symbols = [f"G{i}" for i in range(n_genes)]
    symbols[:6] = ["MET", "HGF", "CD68", "EGFR", "EGF", "AREG"]
    vst[:n_per_group, :3] += 2.0  # the MET axis (MET, HGF, marker CD68) is up in the first group
    qc = ad.AnnData(X=np.zeros_like(vst), obs=pd.DataFrame(index=[f"s{i}" for i in range(2 * n_per_group)]),
                    var=pd.DataFrame({"symbol": symbols}, index=[f"ENSG{i:05d}" for i in range(n_genes)]))
    qc.layers["vst"] = vst
    axes = [Axis("MET", ("MET",), ("HGF",), markers=("CD68",)), Axis("EGFR", ("EGFR",), ("EGF", "AREG", "NOPE")),
            Axis("GHOST", ("ABSENT",))]
    scores = axis_scores(qc, axes, seed=0)
    assert list(scores.columns) == ["MET", "EGFR", "GHOST"] and list(scores.index) == list(qc.obs_names)
    first, second = scores.iloc[:n_per_group], scores.iloc[n_per_group:]
    assert first["MET"].min() > second["MET"].max()
    assert first["MET"].mean() - second["MET"].mean() == pytest.approx(2.0, abs=0.5)
    assert abs(first["EGFR"].mean() - second["EGFR"].mean()) < 0.5
    assert scores["GHOST"].isna().all()
    assert scores.equals(axis_scores(qc, axes, seed=0))  # seeded


# ---- flag rule -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "rule", "expected"), [
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "up")], FlagRule(), "up"),
    ([("EGFR", "receptor", "down"), ("EGF", "ligand", "down"), ("AREG", "ligand", "down")], FlagRule(), "down"),
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "none")], FlagRule(), "none"),  # too few
    ([("EGF", "ligand", "up"), ("AREG", "ligand", "up")], FlagRule(), "none"),  # no receptor
    ([("EGF", "ligand", "up"), ("AREG", "ligand", "up")], FlagRule(min_receptors=0), "up"),
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "up"), ("AREG", "ligand", "down")], FlagRule(), "up"),
    ([("EGFR", "receptor", "up"), ("EGF", "ligand", "up"), ("ERBB2", "receptor", "down"), ("AREG", "ligand", "down")],
     FlagRule(), "none"),  # both directions reach min_genes: conflicting
    ([("EGFR", "receptor", "up"), ("CD68", "marker", "up"), ("CD163", "marker", "up")], FlagRule(), "none"),
])
def test_gene_vote(rows, rule, expected) -> None:
    assert gene_vote(genes_ev(rows), rule) == expected


@pytest.mark.parametrize(("ev", "rule", "expected"), [
    ({"n_terms_up": 1, "n_terms_down": 0}, FlagRule(), "up"),
    ({"n_terms_up": 0, "n_terms_down": 2}, FlagRule(), "down"),
    ({"n_terms_up": 1, "n_terms_down": 1}, FlagRule(), "none"),
    ({"n_terms_up": 2, "n_terms_down": 1}, FlagRule(min_terms=2), "up"),
    ({"n_terms_up": 1, "n_terms_down": 0}, FlagRule(min_terms=2), "none"),
    ({"n_terms_up": 0, "n_terms_down": 0}, FlagRule(), "none"),
    (None, FlagRule(), "none"),
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
    assert score_vote(ev, FlagRule(score_p=0.05)) == expected


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


def test_flag_combines_the_three_lines() -> None:
    up_genes = genes_ev([("EGFR", "receptor", "up"), ("EGF", "ligand", "up")])
    assert flag(up_genes, {"n_terms_up": 1, "n_terms_down": 0}, None) == "up"
    assert flag(up_genes, None, {"score_p": 0.001, "score_diff": 1.0}) == "up"
    assert flag(up_genes, {"n_terms_up": 0, "n_terms_down": 0}, {"score_p": 0.3, "score_diff": 1.0}) == "none"
    assert flag(up_genes, {"n_terms_up": 2, "n_terms_down": 0}, {"score_p": 0.001, "score_diff": -1.0}) == "none"
    assert flag(up_genes, None, None, FlagRule(min_lines=1)) == "up"


def test_uniqueness_labels() -> None:
    flags = pd.DataFrame({"contrast": [MET] * 5 + [PRIM] * 4,
                          "axis": ["A", "B", "C", "D", "E", "A", "B", "C", "D"],
                          "flag": ["up", "up", "down", "none", "up", "none", "up", "up", "up"]})
    result = uniqueness(flags, MET, PRIM)
    assert result.to_dict() == {"A": "unique", "B": "shared", "C": "opposite", "D": "none", "E": "unknown"}


# ---- tables and rationale --------------------------------------------------------------------------------------


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
    table = axes_table(de, gsea, {}, targets, scores, sheet, contrasts).set_index(["contrast", "axis"])
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
    genes = genes_table(de, targets)
    assert set(genes["axis"]) == {"MET", "EGFR"} and len(genes) == 8


def demo_axes_table() -> pd.DataFrame:
    """An axes table as the demo should give: all four axes up in metastases, only EGFR unique."""
    rows = []
    for axis, unique in (("EGFR", "unique"), ("VEGFR", "shared"), ("FGFR", "shared"), ("CSF1R", "shared")):
        rows.append({"contrast": MET, "axis": axis, "flag": "up", "unique": unique})
        rows.append({"contrast": PRIM, "axis": axis, "flag": "none" if axis == "EGFR" else "up", "unique": ""})
    return pd.DataFrame(rows)


def test_demo_conclusion_surufatinib_leaves_egfr_uncovered_and_gefitinib_completes_it() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    ranked = rationale(demo_axes_table(), targets)
    by_name = ranked.set_index("therapy")
    suru = by_name.loc["surufatinib"]
    assert suru["covers"].split(";") == ["VEGFR", "FGFR", "CSF1R"] and suru["uncovered"] == "EGFR"
    assert (suru["n_covered"], suru["n_flagged"], suru["covers_all"]) == (3, 4, False)
    assert "VEGFR: FLT1,KDR,FLT4" in suru["receptors_hit"] and "CSF1R: CSF1R" in suru["receptors_hit"]
    pair = by_name.loc["surufatinib + gefitinib"]
    assert pair["covers"].split(";") == ["EGFR", "VEGFR", "FGFR", "CSF1R"] and pair["uncovered"] == ""
    assert pair["covers_all"] and pair["n_drugs"] == 2 and not pair["redundant"]
    assert ranked.iloc[0]["therapy"] == "surufatinib + gefitinib"
    assert ranked.loc[ranked["covers_all"], "therapy"].tolist() == ["surufatinib + gefitinib"]
    assert by_name.loc["everolimus", "n_covered"] == 0
    assert by_name.loc["surufatinib + everolimus", "redundant"]
    # ranking: covered desc, then drugs asc, then name
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    keys = list(zip(-ranked["n_covered"], ranked["n_drugs"], ranked["therapy"]))
    assert keys == sorted(keys)
    assert len(ranked) == 5 + 10


def test_rationale_counts_only_axes_flagged_up_in_the_metastasis_contrast() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    table = demo_axes_table()
    table.loc[(table["contrast"] == MET) & (table["axis"] == "EGFR"), "flag"] = "down"
    ranked = rationale(table, targets).set_index("therapy")
    assert ranked.loc["surufatinib", "covers_all"] and ranked.loc["gefitinib", "n_covered"] == 0
    with pytest.raises(ValueError, match="not in the axes table"):
        rationale(table.loc[table["contrast"] == PRIM], targets)


def test_liver_caveat_names_liver_signature_genes_behind_the_evidence() -> None:
    targets = Targets(axes={"FGFR": Axis("FGFR", ("FGFR1",), ("FGF1",), terms=("GO:0008543",))},
                      drugs={}, metastasis=MET, primary=PRIM)
    de = {MET: de_table({"FGFR1": (1.0, 0.01), "FGF1": (1.0, 0.01), "ALB": (8.0, 1e-20)}, liver={"ALB"}),
          PRIM: de_table({"FGFR1": (1.0, 0.01), "FGF1": (1.0, 0.01)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0008543", 2.0, 0.01, "FGFR1;ALB;FGA")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0008543", 2.0, 0.01, "FGFR1")])}
    table = axes_table(de, gsea, {}, targets, liver_genes={"ALB", "FGA"}).set_index("contrast")
    assert "ALB, FGA" in table.loc[MET, "liver_caveat"] and table.loc[PRIM, "liver_caveat"] == ""
    assert table.loc[MET, "flag"] == "up" and table.loc[MET, "unique"] == "shared"
    assert math.isnan(table.loc[MET, "score_p"])  # no scores given: the score line abstains


def test_rationale_markdown_cites_the_numbers_then_therapies_then_caveats() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    egfr = Axis("EGFR", targets.axes["EGFR"].receptors, targets.axes["EGFR"].ligands, terms=("GO:0007173",))
    small = Targets(axes={"EGFR": egfr, "VEGFR": targets.axes["VEGFR"]}, drugs=targets.drugs)
    de = {PRIM: de_table({"EGFR": (0.1, 0.9), "FLT1": (1.0, 1e-3), "KDR": (1.0, 1e-3)}),
          MET: de_table({"EGFR": (1.2, 1e-4), "ERBB2": (1.0, 1e-3), "AREG": (1.4, 1e-3), "FLT1": (1.0, 1e-3),
                         "KDR": (1.0, 1e-3)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0007173", 2.1, 1e-5, "EGFR"), ("GO:0048010", 1.9, 1e-3, "KDR")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0007173", 0.2, 0.9, "EGFR"), ("GO:0048010", 1.9, 1e-3, "KDR")])}
    table = axes_table(de, gsea, {}, small)
    text = rationale_markdown(table, rationale(table, small), small)
    assert ("EGFR: up in liver_met_vs_normal (unique: not flagged in primary_vs_normal); 3 of 3 measured "
            "receptors/ligands up (EGFR, ERBB2, AREG), 0 down, 8 not measured [genes vote up]") in text
    assert "GO:0007173 NES 2.10 (FDR 1.0e-05, GO_BP)" in text
    assert "VEGFR: up in liver_met_vs_normal (shared: also up in primary_vs_normal)" in text
    assert text.index("## Axes") < text.index("## Therapies") < text.index("## Caveats")
    assert "3. surufatinib + gefitinib: covers 2 of 2" in text  # ties ranked by name
    assert "hsa04370" in text.split("## Caveats")[1]  # skipped gene sets are listed as caveats
