"""The therapy rationale (``targets.rationale``): drugs and pairs ranked by the flagged axes they cover, and the
readable account, from hand-made axes tables and the shipped ``config/targets.yaml``."""

from __future__ import annotations

import pandas as pd
import pytest
from axis_inputs import MET, PRIM, THRESHOLDS, de_table, gsea_table
from conftest import REPO
from target_rationale.targets.config import Axis, Drug, FlagRule, Targets, load_targets
from target_rationale.targets.flags import axes_table
from target_rationale.targets.rationale import rationale, rationale_markdown, refit_counts

#: Receptors with evidence of their own per axis, as in the demo (EGFR, ERBB2, ERBB3 up in liver metastases; FLT4
#: and FGFR3/4 too weakly to count here, which leaves sorafenib's and sunitinib's FLT4 hit uncounted).
DEMO_SUPPORTED = {"EGFR": "EGFR;ERBB2;ERBB3", "VEGFR": "FLT1;KDR", "FGFR": "FGFR1;FGFR2", "CSF1R": "CSF1R"}


def demo_axes_table() -> pd.DataFrame:
    """An axes table as the demo should give: all four axes up in metastases, only EGFR unique, CSF1R's
    macrophage markers up with it (microenvironment)."""
    rows = []
    for axis, unique in (("EGFR", "unique"), ("VEGFR", "shared"), ("FGFR", "shared"), ("CSF1R", "shared")):
        rows.append({"contrast": MET, "axis": axis, "flag": "up", "unique": unique,
                     "compartment": "microenvironment" if axis == "CSF1R" else "no_marker_shift",
                     "test_p_holm": 1e-6, "receptors_supported": DEMO_SUPPORTED[axis]})
        rows.append({"contrast": PRIM, "axis": axis, "flag": "none" if axis == "EGFR" else "up", "unique": ""})
    return pd.DataFrame(rows)


def test_demo_conclusion_surufatinib_leaves_egfr_uncovered_and_gefitinib_completes_it() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    ranked = rationale(demo_axes_table(), targets)
    by_name = ranked.set_index("therapy")
    suru = by_name.loc["surufatinib"]
    assert suru["covers"].split(";") == ["VEGFR", "FGFR", "CSF1R"] and suru["uncovered"] == "EGFR"
    assert (suru["n_covered"], suru["n_flagged"], suru["covers_all"]) == (3, 4, False)
    # only receptors with evidence count: FLT4 is hit but was not up
    assert suru["receptors_hit"] == "VEGFR: FLT1,KDR; FGFR: FGFR1; CSF1R: CSF1R"
    assert suru["unsupported_hits"] == "VEGFR: FLT4"
    # EGFR unique weighs 2, VEGFR and FGFR shared 1, CSF1R shared and microenvironment 0.5
    assert (suru["coverage"], suru["max_coverage"]) == (2.5, 4.5)
    pair = by_name.loc["surufatinib + gefitinib"]
    assert pair["covers"].split(";") == ["EGFR", "VEGFR", "FGFR", "CSF1R"] and pair["uncovered"] == ""
    assert pair["covers_all"] and pair["n_drugs"] == 2 and not pair["redundant"] and pair["coverage"] == 4.5
    assert ranked.iloc[0]["therapy"] == "surufatinib + gefitinib" and ranked.iloc[0]["rank"] == 1
    assert ranked.loc[ranked["covers_all"], "therapy"].tolist() == ["surufatinib + gefitinib"]
    assert pair["why"] == ("covers EGFR (unique to metastasis; weight 2) through EGFR; VEGFR (shared; weight 1) "
                           "through FLT1, KDR; FGFR (shared; weight 1) through FGFR1; CSF1R (shared, "
                           "microenvironment; weight 0.5) through CSF1R: coverage 4.5 of 4.5 with 2 drug(s), "
                           "evidence 24.0; hits VEGFR: FLT4 without evidence (not counted)")
    # sunitinib + gefitinib (EGFR, VEGFR, CSF1R: 3.5) comes before gefitinib alone (2) and surufatinib (2.5)
    order = ranked["therapy"].tolist()
    assert order.index("gefitinib + sunitinib") < order.index("surufatinib") < order.index("gefitinib")
    assert pd.isna(by_name.loc["everolimus", "rank"]) and by_name.loc["everolimus", "n_covered"] == 0
    assert by_name.loc["surufatinib + everolimus", "redundant"]
    assert pd.isna(by_name.loc["surufatinib + everolimus", "rank"])  # surufatinib alone does as much
    keys = list(zip(-ranked["coverage"], ranked["n_drugs"], -ranked["evidence"]))
    assert keys == sorted(keys)
    assert len(ranked) == 5 + 10


def test_a_drug_hitting_only_receptors_without_evidence_covers_nothing_and_no_therapy_is_named() -> None:
    """FGFR flagged up on FGFR2 alone: surufatinib's FGFR1 is no reason to give it; no drug hits FGFR2, so no
    therapy is ranked or named, in the table or the text."""
    targets = load_targets(REPO / "config" / "targets.yaml")
    table = demo_axes_table()
    met = table["contrast"] == MET
    table.loc[met & (table["axis"] != "FGFR"), "flag"] = "none"
    table.loc[met & (table["axis"] == "FGFR"), "receptors_supported"] = "FGFR2"
    ranked = rationale(table, targets).set_index("therapy")
    assert ranked.loc["surufatinib", "n_covered"] == 0 and ranked.loc["surufatinib", "covers"] == ""
    assert ranked.loc["surufatinib", "unsupported_hits"] == "FGFR: FGFR1"
    assert ranked.loc["surufatinib", "why"] == ("covers no flagged axis through a receptor with evidence; hits "
                                                "FGFR: FGFR1 without evidence (not counted)")
    assert ranked["rank"].isna().all()


def test_no_therapy_is_named_in_the_text_when_none_covers_a_flagged_axis() -> None:
    """From DE and GSEA tables: FGFR flagged up (FGFR2 and FGF2 up, its gene set up) while FGFR1 did not move;
    the only drug hits FGFR1."""
    fgfr = Axis("FGFR", ("FGFR1", "FGFR2"), ("FGF2",), terms=("GO:0008543",))
    targets = Targets(axes={"FGFR": fgfr}, drugs={"surufatinib": Drug("surufatinib", ("FGFR1", "KDR"))},
                      flag=FlagRule.from_config(), metastasis=MET, primary=PRIM, metastasis_vs_primary=None)
    de = {c: de_table({"FGFR1": (0.1, 0.8), "FGFR2": (1.5, 1e-6), "FGF2": (1.1, 1e-3)}) for c in (PRIM, MET)}
    gsea = {(c, "GO_BP"): gsea_table([("GO:0008543", 2.0, 1e-4, "FGFR2;FGF2")]) for c in (PRIM, MET)}
    table = axes_table(de, gsea, {}, targets, **THRESHOLDS)
    row = table.set_index(["contrast", "axis"]).loc[(MET, "FGFR")]
    assert (row["flag"], row["receptors_supported"], row["unique"]) == ("up", "FGFR2", "shared")
    ranked = rationale(table, targets)
    assert ranked["rank"].isna().all() and ranked.loc[0, "unsupported_hits"] == "FGFR: FGFR1"
    therapies = rationale_markdown(table, ranked, targets).split("## Therapies")[1].split("## Caveats")[0]
    assert "No configured drug targets a receptor with evidence of a flagged axis: no therapy is named." in therapies
    assert "surufatinib" not in therapies


def test_ranking_weighs_unique_over_shared_and_tumour_over_microenvironment_and_breaks_ties_by_evidence() -> None:
    """Hand-made axes, one drug per axis, drugs named against the expected order (so name order would fail)."""
    axes = {name: Axis(name, (f"{name}R",)) for name in ("A", "B", "C", "D", "E")}
    drugs = {f"drug_{z}": Drug(f"drug_{z}", (f"{axis}R",)) for z, axis in zip("zyxwv", "ABCDE")}
    drugs["drug_u"] = Drug("drug_u", ("ER",))  # hits exactly what drug_v hits: an exact tie
    targets = Targets(axes=axes, drugs=drugs, flag=FlagRule.from_config(), metastasis=MET, primary=PRIM,
                      metastasis_vs_primary=None)
    specs = {"A": ("unique", "no_markers", 1e-3),            # weight 2
             "B": ("shared", "no_markers", 1e-8),            # weight 1, strong evidence
             "C": ("shared", "no_markers", 1e-3),            # weight 1, weaker evidence
             "D": ("shared", "microenvironment", 1e-12),     # weight 0.5
             "E": ("shared_stronger_in_metastasis", "no_markers", 1e-3)}  # weight 1.5
    table = pd.DataFrame([{"contrast": MET, "axis": a, "flag": "up", "unique": u, "compartment": c,
                           "test_p_holm": p, "receptors_supported": f"{a}R"} for a, (u, c, p) in specs.items()])
    singles = rationale(table, targets).query("n_drugs == 1")
    assert singles["therapy"].tolist() == ["drug_z", "drug_v", "drug_u", "drug_y", "drug_x", "drug_w"]
    assert singles["coverage"].tolist() == [2.0, 1.5, 1.5, 1.0, 1.0, 0.5]
    rank = singles["rank"].tolist()  # ranks over all therapies: pairs come in between
    assert rank[1] == rank[2] and rank[0] < rank[1] < rank[3] < rank[4] < rank[5]  # the exact tie shares a rank
    assert singles.set_index("therapy").loc["drug_y", "evidence"] == pytest.approx(8.0)


def test_rationale_counts_only_axes_flagged_up_in_the_metastasis_contrast() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    table = demo_axes_table()
    table.loc[(table["contrast"] == MET) & (table["axis"] == "EGFR"), "flag"] = "down"
    ranked = rationale(table, targets).set_index("therapy")
    assert ranked.loc["surufatinib", "covers_all"] and ranked.loc["gefitinib", "n_covered"] == 0
    with pytest.raises(ValueError, match="not in the axes table"):
        rationale(table.loc[table["contrast"] == PRIM], targets)


def test_rationale_markdown_cites_the_numbers_then_therapies_then_caveats() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    egfr = Axis("EGFR", targets.axes["EGFR"].receptors, targets.axes["EGFR"].ligands, terms=("GO:0007173",))
    small = Targets(axes={"EGFR": egfr, "VEGFR": targets.axes["VEGFR"]}, drugs=targets.drugs,
                    flag=FlagRule.from_config(), metastasis=MET, primary=PRIM, metastasis_vs_primary=None)
    de = {PRIM: de_table({"EGFR": (0.1, 0.9), "FLT1": (1.0, 1e-3), "KDR": (1.0, 1e-3)}),
          MET: de_table({"EGFR": (1.2, 1e-4), "ERBB2": (1.0, 1e-3), "AREG": (1.4, 1e-3), "FLT1": (1.0, 1e-3),
                         "KDR": (1.0, 1e-3)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0007173", 2.1, 1e-5, "EGFR"), ("GO:0048010", 1.9, 1e-3, "KDR")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0007173", 0.2, 0.9, "EGFR"), ("GO:0048010", 1.9, 1e-3, "KDR")])}
    table = axes_table(de, gsea, {}, small, **THRESHOLDS)
    assert table.set_index(["contrast", "axis"]).loc[(MET, "EGFR"), "receptors_supported"] == "EGFR;ERBB2"
    text = rationale_markdown(table, rationale(table, small), small)
    assert ("EGFR: up in liver_met_vs_normal (unique: not flagged in primary_vs_normal); 3 of 3 measured "
            "receptors/ligands up (EGFR, ERBB2, AREG), 0 down, 8 not measured [genes vote up]") in text
    assert "GO:0007173 NES 2.10 (term-test FDR 1.0e-05, GO_BP)" in text
    assert "VEGFR: up in liver_met_vs_normal (shared: also up in primary_vs_normal)" in text
    assert text.index("## Axes") < text.index("## Therapies") < text.index("## Caveats")
    # the vote flags (no test table) carry no Holm p: evidence 0, so the three pairs covering EGFR through EGFR
    # and VEGFR through FLT1, KDR share rank 1 and keep config order, whatever their names; gefitinib + everolimus
    # (redundant) is not ranked
    assert "1. surufatinib + gefitinib: covers EGFR (unique to metastasis; weight 2) through EGFR" in text
    assert "1. sorafenib + gefitinib: covers EGFR" in text and "1. gefitinib + sunitinib: covers EGFR" in text
    assert text.index("1. surufatinib + gefitinib") < text.index("1. sorafenib + gefitinib") < \
        text.index("1. gefitinib + sunitinib") < text.index("4. gefitinib: covers EGFR")
    assert "hsa04370" in text.split("## Caveats")[1]  # skipped gene sets are listed as caveats


def test_refit_counts_name_each_refit_that_ran() -> None:
    """The agreement of leave-one-out and bootstrap refits, as the axis sentences, the therapy line and the report
    cite it; a refit that did not run (no fits, or NA) is left out."""
    row = {"contrast": MET, "axis": "EGFR", "flag": "up", "unique": "unique", "loo_fits": 14, "unique_loo_agree": 13,
           "flag_loo_agree": 14, "boot_fits": 99, "unique_boot_agree": 97, "flag_boot_agree": 98}
    assert refit_counts(row, "unique_{kind}_agree") == ["13/14 leave-one-patient-out fits",
                                                        "97/99 bootstrap resamples of the patients"]
    assert refit_counts({**row, "boot_fits": 0}, "flag_{kind}_agree") == ["14/14 leave-one-patient-out fits"]
    assert refit_counts({**row, "loo_fits": pd.NA, "unique_boot_agree": pd.NA}, "unique_{kind}_agree") == []


def test_without_normal_tissue_the_axes_are_judged_in_metastasis_vs_primary() -> None:
    """Only ``metastasis_vs_primary`` named: its rows carry the role, no shared / unique label, and the
    therapies cover what is up in metastases relative to primaries."""
    direct = "liver_met_vs_primary"
    shipped = load_targets(REPO / "config" / "targets.yaml")
    targets = Targets(axes={"EGFR": shipped.axes["EGFR"]}, drugs=shipped.drugs, flag=FlagRule.from_config(),
                      metastasis=None, primary=None, metastasis_vs_primary=direct)
    de = {direct: de_table({"EGFR": (1.2, 1e-4), "ERBB3": (1.0, 1e-3), "AREG": (1.4, 1e-3)})}
    gsea = {(direct, "GO_BP"): gsea_table([("GO:0007173", 2.1, 1e-5, "EGFR")])}
    table = axes_table(de, gsea, {}, targets, **THRESHOLDS)
    row = table.iloc[0]
    assert (row["contrast"], row["role"], row["flag"], row["unique"]) == (direct, "metastasis_vs_primary", "up", "")
    assert row["receptors_supported"] == "EGFR;ERBB3"
    ranked = rationale(table, targets)
    assert ranked.loc[0, "therapy"] == "gefitinib" and ranked.loc[0, "why"].startswith(
        "covers EGFR (up; weight 1) through EGFR")
    text = rationale_markdown(table, ranked, targets)
    assert text.split("\n")[2].startswith(f"Axes are judged in `{direct}`: up in metastases relative to primaries "
                                          "(the cohort has no normal tissue, so shared / unique are not called).")
    assert f"- EGFR: up in {direct}; 3 of 3 measured receptors/ligands up" in text
