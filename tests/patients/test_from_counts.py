"""The patient stage's activity call from counts, through the workflow's own chain (host fractions, purification,
VST, axis scores, activity rule), on the demo design's simulator with the EGFR axis in half the metastases, and
its null twin with the axis in none: tumour and host expression, patient and batch effects, real HPA liver in
the metastases (5-30%) all as in the demo. The score-level rates are in benchmarks/patient_calls.py."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from conftest import REPO
from target_rationale.admixture.adjust import purify_cohort
from target_rationale.admixture.fractions import write_admixture
from target_rationale.admixture.reference import load_host_reference
from target_rationale.diffexp.qc import qc_matrix
from target_rationale.genesets.gmt import read_gmt
from target_rationale.patients.activity import activity_table
from target_rationale.patients.settings import Layout, PatientSettings
from target_rationale.targets.config import load_targets
from target_rationale.targets.scores import axis_scores

from simulate import PatientLayer, demo_design, prepare_gene_table, simulate_cohort

FOLDER = REPO / "resources" / "host_reference"
WHERE = Layout("site", "primary", "liver_metastasis", "normal_pancreas")
HOSTS = {"liver_metastasis": "liver", "primary": "exocrine_pancreas"}


def called(share: float, tmp_path) -> pd.DataFrame:
    """The EGFR activity table of a demo-design cohort (seed 4) whose metastases carry the axis in ``share``,
    with the truth beside each call."""
    genes = prepare_gene_table(pd.read_csv(REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz", sep="\t",
                                           dtype=str))
    design = replace(demo_design(), patient_layer=PatientLayer("egfr_axis", {"liver_metastasis": share}))
    cohort = simulate_cohort(genes, read_gmt(REPO / "resources" / "genesets" / "go_bp.gmt.gz"), design, seed=4)
    sheet = cohort.samples.set_index("sample")
    adata = cohort.to_anndata(genes, ["patient", "site", "batch"])
    reference = load_host_reference(FOLDER / "hpa_v23_host_ntpm.tsv.gz", FOLDER / "MANIFEST.yaml")
    table = write_admixture(adata, HOSTS, "site", reference, 1, tmp_path / f"admixture_{share}.tsv")
    qc = qc_matrix(purify_cohort(adata, table, reference), set(), seed=1)
    axes = load_targets(REPO / "config" / "targets.yaml").axes
    scores = axis_scores(qc, {"EGFR": axes["EGFR"]}, seed=1)
    activity = activity_table(scores, sheet, WHERE, PatientSettings.from_config(), seed=1).set_index("sample")
    truth = cohort.truth_samples.set_index("sample")["egfr_axis_active"]
    return activity.assign(truth=truth.reindex(activity.index).eq("yes"))


def test_activity_from_counts_finds_the_planted_metastases_and_its_null_twin_none(tmp_path) -> None:
    """Planted: 6 of 12 metastases carry the axis (+2.0 log2 over 77 genes, EGFR made by the liver host too);
    the cohort rule (4 normals) calls at least 5 of them and at most one other tumour. Null twin: no metastasis
    carries it; no tumour is called active."""
    planted = called(0.5, tmp_path)
    hits = int((planted["active"].astype(bool) & planted["truth"]).sum())
    false = int((planted["active"].astype(bool) & ~planted["truth"]).sum())
    assert planted["truth"].sum() == 6 and planted["rule"].iloc[0] == "cohort"
    assert hits >= 5 and false <= 1, planted[["site", "score", "active", "truth"]]
    null = called(0.0, tmp_path)
    assert not null["truth"].any() and not null["active"].astype(bool).any(), null[["site", "score", "active"]]
