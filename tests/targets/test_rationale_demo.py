"""The demo conclusion, from the tables: a VEGFR/FGFR/CSF1R inhibitor leaves the EGFR axis uncovered in liver
metastases, and adding an EGFR inhibitor covers it (the trial's rationale, planted in the simulated demo)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DEFAULT_CONTRASTS, REPO
from target_rationale.cohort.design import parse_contrasts
from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.diffexp.qc import qc_matrix
from target_rationale.targets.config import load_targets
from target_rationale.targets.flags import axes_table
from target_rationale.targets.rationale import rationale
from target_rationale.targets.scores import axis_scores


@pytest.mark.workflow
def test_demo_rationale_adds_an_egfr_inhibitor(demo_adjusted, demo_de: dict[str, pd.DataFrame],
                                              demo_gsea: dict[str, pd.DataFrame]) -> None:
    """As the default run: DE tables adjusted for host tissue, axis scores on the purified cohort's VST."""
    targets = load_targets(REPO / "config" / "targets.yaml")
    liver = read_liver_signature(REPO / "resources" / "signatures" / "liver_hepatocyte.tsv")
    demo = demo_adjusted
    qc = qc_matrix(demo, liver, seed=42)
    scores = axis_scores(qc, targets, seed=42)
    compared = {c: demo_de[c] for c in ("primary_vs_normal", "liver_met_vs_normal")}
    table = axes_table(compared, {(c, "GO_BP"): t for c, t in demo_gsea.items()}, {}, targets, scores=scores,
                       sheet=demo.obs, contrasts=parse_contrasts(DEFAULT_CONTRASTS, "~ patient + site"),
                       liver_genes=liver)
    metastasis = table[table["contrast"] == "liver_met_vs_normal"].set_index("axis")
    primary = table[table["contrast"] == "primary_vs_normal"].set_index("axis")
    assert metastasis["flag"].to_dict() == {"EGFR": "up", "VEGFR": "up", "FGFR": "up", "CSF1R": "up"}
    assert primary.loc["EGFR", "flag"] == "none"
    assert metastasis.loc["EGFR", "unique"] == "unique"
    assert metastasis.loc["VEGFR", "unique"] == "shared"

    ranked = rationale(table, targets).set_index("therapy")
    assert ranked.loc["surufatinib", "covers"].split(";") == ["VEGFR", "FGFR", "CSF1R"]
    assert ranked.loc["surufatinib", "uncovered"] == "EGFR"
    assert ranked.loc["gefitinib", "covers"] == "EGFR"
    assert bool(ranked.loc["surufatinib + gefitinib", "covers_all"])
    assert ranked.loc["surufatinib + gefitinib", "rank"] == 1
