"""The demo conclusion, from the tables: a VEGFR/FGFR/CSF1R inhibitor leaves the EGFR axis uncovered in liver
metastases, and adding an EGFR inhibitor covers it (the trial's rationale, planted in the simulated demo); the
flags from the calibrated axis test with the direct contrast, stable when any one patient is left out."""

from __future__ import annotations

import pandas as pd
import pytest
from axis_inputs import THRESHOLDS
from conftest import DEFAULT_CONTRASTS, REPO
from target_rationale.cohort.design import parse_contrasts
from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.targets.axis_test import axis_tests, leave_one_out
from target_rationale.targets.config import load_targets
from target_rationale.targets.flags import axes_table, direct_contrast, loo_flags
from target_rationale.targets.rationale import rationale
from target_rationale.targets.scores import axis_scores


@pytest.mark.workflow
def test_demo_rationale_adds_an_egfr_inhibitor(demo_qc_adjusted, demo_de: dict[str, pd.DataFrame],
                                              demo_gsea: dict[str, pd.DataFrame]) -> None:
    """As the default run: DE tables adjusted for host tissue, axis scores and axis tests on the purified cohort's
    VST, all three contrasts (the direct one confirms EGFR's uniqueness and finds no VEGFR difference)."""
    targets = load_targets(REPO / "config" / "targets.yaml")
    liver = read_liver_signature(REPO / "resources" / "signatures" / "liver_hepatocyte.tsv")
    qc = demo_qc_adjusted
    contrasts = parse_contrasts(DEFAULT_CONTRASTS, "~ patient + site")
    axes = {name: list(axis.genes) for name, axis in targets.axes.items()}
    scores = axis_scores(qc, targets, seed=42)
    gsea = {(c, "GO_BP"): t for c, t in demo_gsea.items()}
    table = axes_table(demo_de, gsea, {}, targets, scores=scores, sheet=qc.obs, contrasts=contrasts,
                       liver_genes=liver, tests=axis_tests(qc, qc.obs, contrasts, axes),
                       loo_fits=loo_flags(leave_one_out(qc, qc.obs, contrasts, axes), targets,
                                          direct_contrast(contrasts, targets.metastasis, targets.primary)),
                       **THRESHOLDS)
    metastasis = table[table["contrast"] == "liver_met_vs_normal"].set_index("axis")
    primary = table[table["contrast"] == "primary_vs_normal"].set_index("axis")
    assert metastasis["flag"].to_dict() == {"EGFR": "up", "VEGFR": "up", "FGFR": "up", "CSF1R": "up"}
    assert primary.loc["EGFR", "flag"] == "none"
    assert metastasis.loc["EGFR", "unique"] == "unique"
    assert metastasis.loc["VEGFR", "unique"] == "shared"
    # EGFR at Holm p ~1e-3 (the others < 1e-6): one metastasis of 12 lacks it (the demo's patient layer)
    assert (metastasis["test_p_holm"] < 0.01).all()
    fits = int(qc.obs["patient"].nunique())
    assert (metastasis["loo_fits"] == fits).all()
    assert (metastasis["unique_loo_agree"] >= 0.9 * fits).all()  # issue 16: stable in >= 90% of the fits

    ranked = rationale(table, targets).set_index("therapy")
    assert ranked.loc["surufatinib", "covers"].split(";") == ["VEGFR", "FGFR", "CSF1R"]
    assert ranked.loc["surufatinib", "uncovered"] == "EGFR"
    assert ranked.loc["gefitinib", "covers"] == "EGFR"
    assert bool(ranked.loc["surufatinib + gefitinib", "covers_all"])
    assert ranked.loc["surufatinib + gefitinib", "rank"] == 1
