"""Gene and pathway evidence lines of a target axis (``targets.evidence``), from hand-made tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from axis_inputs import MET, PRIM, de_table, gsea_table, ora_table
from target_rationale.targets.config import Axis
from target_rationale.targets.evidence import gene_evidence, pathway_evidence, with_term_tests

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


def test_pathway_line_on_the_term_tests_takes_their_fdr_and_direction() -> None:
    """With the camera tables merged in, a term GSEA calls (FDR 1e-5) but camera does not (0.3) is not counted,
    and a term camera calls down counts down whatever GSEA's NES sign; GSEA's FDR stays as gsea_fdr."""
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0007173", 2.1, 1e-5, "EGFR;AREG"), ("GO:0038127", 1.2, 0.2, "EGFR")])}
    camera = {(MET, "GO_BP"): pd.DataFrame({"term_id": ["GO:0007173", "GO:0038127"], "fdr": [0.3, 0.001],
                                            "direction": ["up", "down"]})}
    axis = Axis("EGFR", ("EGFR",), ("AREG",), terms=("GO:0007173", "GO:0038127"))
    merged = with_term_tests(gsea, camera)
    assert merged[(MET, "GO_BP")].set_index("term_id").loc["GO:0007173", "gsea_fdr"] == 1e-5
    met = pathway_evidence(merged, {}, axis, gsea_fdr=0.05, ora_fdr=0.05).set_index("contrast").loc[MET]
    assert (met["n_terms_up"], met["n_terms_down"], met["terms_down"]) == (0, 1, "GO:0038127")
    assert met["best_term"] == "GO:0038127" and met["best_fdr"] == 0.001
