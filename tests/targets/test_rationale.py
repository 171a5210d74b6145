"""The therapy rationale (``targets.rationale``): drugs and pairs ranked by the flagged axes they cover, and the
readable account, from hand-made axes tables and the shipped ``config/targets.yaml``."""

from __future__ import annotations

import pandas as pd
import pytest
from axis_inputs import MET, PRIM, de_table, gsea_table
from conftest import REPO
from target_rationale.targets.config import Axis, FlagRule, Targets, load_targets
from target_rationale.targets.flags import axes_table
from target_rationale.targets.rationale import rationale, rationale_markdown, refit_counts


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


def test_rationale_markdown_cites_the_numbers_then_therapies_then_caveats() -> None:
    targets = load_targets(REPO / "config" / "targets.yaml")
    egfr = Axis("EGFR", targets.axes["EGFR"].receptors, targets.axes["EGFR"].ligands, terms=("GO:0007173",))
    small = Targets(axes={"EGFR": egfr, "VEGFR": targets.axes["VEGFR"]}, drugs=targets.drugs,
                    flag=FlagRule.from_config(), metastasis=MET, primary=PRIM)
    de = {PRIM: de_table({"EGFR": (0.1, 0.9), "FLT1": (1.0, 1e-3), "KDR": (1.0, 1e-3)}),
          MET: de_table({"EGFR": (1.2, 1e-4), "ERBB2": (1.0, 1e-3), "AREG": (1.4, 1e-3), "FLT1": (1.0, 1e-3),
                         "KDR": (1.0, 1e-3)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0007173", 2.1, 1e-5, "EGFR"), ("GO:0048010", 1.9, 1e-3, "KDR")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0007173", 0.2, 0.9, "EGFR"), ("GO:0048010", 1.9, 1e-3, "KDR")])}
    table = axes_table(de, gsea, {}, small)
    text = rationale_markdown(table, rationale(table, small), small)
    assert ("EGFR: up in liver_met_vs_normal (unique: not flagged in primary_vs_normal); 3 of 3 measured "
            "receptors/ligands up (EGFR, ERBB2, AREG), 0 down, 8 not measured [genes vote up]") in text
    assert "GO:0007173 NES 2.10 (term-test FDR 1.0e-05, GO_BP)" in text
    assert "VEGFR: up in liver_met_vs_normal (shared: also up in primary_vs_normal)" in text
    assert text.index("## Axes") < text.index("## Therapies") < text.index("## Caveats")
    assert "3. surufatinib + gefitinib: covers 2 of 2" in text  # ties ranked by name
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
