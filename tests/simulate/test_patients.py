"""Tests of the simulator's patient layer (simulate.patients): a programme active in a stated share of tumours,
clinical columns tied to it, and a cohort whose inactive tumours lack the programme's effect."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from target_rationale.genesets.gmt import read_gmt

from simulate import CLINICAL_COLUMNS, PatientLayer, demo_design, prepare_gene_table, simulate_cohort
from simulate.patients import clinical_columns, draw_activity

REPO = Path(__file__).resolve().parents[2]
GENE_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
EGFR_CORE = ["EGFR", "ERBB2", "ERBB3", "EGF", "TGFA", "AREG", "EREG", "HBEGF"]


def sheet(patients: int) -> pd.DataFrame:
    """Each patient with a primary and a liver metastasis."""
    return pd.DataFrame([{"sample": f"p{i}_{site}", "patient": f"p{i}", "site": site}
                         for i in range(patients) for site in ("primary", "liver_metastasis")])


def test_activity_draws_the_stated_share_of_the_listed_site_only() -> None:
    samples = sheet(12)
    active = draw_activity(samples, PatientLayer("egfr_axis", {"liver_metastasis": 0.75}), np.random.default_rng(1))
    met = (samples["site"] == "liver_metastasis").to_numpy()
    assert active[met].sum() == 9 and active[~met].all()
    none = draw_activity(samples, PatientLayer("egfr_axis", {"primary": 0.0}), np.random.default_rng(1))
    assert not none[~met].any() and none[met].all()


def test_clinical_columns_follow_the_decisive_tumour_with_the_planted_rates() -> None:
    """2,000 patients, half with an active metastasis: glycosylation near 70% / 15%, the death rate ratio
    (deaths per month at risk, the exponential's maximum-likelihood rate) near the planted 3; each patient's
    columns the same on all their samples; its null twin (hazard ratio 1, equal glycosylation) shows neither."""
    samples = sheet(2000)
    met = (samples["site"] == "liver_metastasis").to_numpy()
    active = np.where(met, np.arange(len(samples)) % 4 == 1, True)  # every other metastasis
    layer = PatientLayer("egfr_axis", {"liver_metastasis": 0.5})
    clinical = clinical_columns(samples, active, layer, np.random.default_rng(2))
    assert list(clinical.columns) == list(CLINICAL_COLUMNS)
    assert (clinical.groupby(samples["patient"]).nunique() == 1).all().all()
    per_patient = clinical.loc[met].assign(on=active[met])

    def rates(table: pd.DataFrame) -> tuple[float, float, float]:
        high = table.groupby("on")["high_glycosylation"].apply(lambda v: (v == "yes").mean())
        rate = table.groupby("on").apply(lambda t: t["os_event"].sum() / t["os_months"].sum(), include_groups=False)
        return float(high[True]), float(high[False]), float(rate[True] / rate[False])

    on_high, off_high, ratio = rates(per_patient)
    assert on_high == pytest.approx(0.7, abs=1e-3) and off_high == pytest.approx(0.15, abs=1e-3)  # exact shares
    assert ratio == pytest.approx(3.0, rel=0.2)
    twin = clinical_columns(samples, active, replace(layer, hazard_ratio=1.0, glycosylation=(0.3, 0.3)),
                            np.random.default_rng(2))
    on_high, off_high, ratio = rates(twin.loc[met].assign(on=active[met]))
    assert abs(on_high - off_high) < 0.06 and ratio == pytest.approx(1.0, abs=0.15)


@pytest.mark.skipif(not (GENE_MAP.exists() and GO_BP.exists()), reason="repository gene resources not built")
def test_inactive_tumours_lack_the_programme_and_a_full_share_changes_nothing() -> None:
    """The demo design: the EGFR core genes are higher in the metastases carrying the axis than in the one
    without it (planted +2.0 log2 over normal), which sits with the primaries; with a share of 1 every metastasis
    carries it and the counts are those of the design without a layer (the layer's own random stream)."""
    genes = prepare_gene_table(pd.read_csv(GENE_MAP, sep="\t", dtype=str))
    sets = read_gmt(GO_BP)
    design = demo_design()
    cohort = simulate_cohort(genes, sets, design, seed=5)
    truth = cohort.truth_samples.set_index("sample")
    assert (truth["egfr_axis_active"] == "yes").sum() == 11 and set(CLINICAL_COLUMNS) <= set(cohort.samples.columns)
    cpm = np.log2(cohort.counts / cohort.counts.sum() * 1e6 + 1)
    ids = genes.set_index("symbol").loc[EGFR_CORE, "gene_id"]
    core = cpm.loc[cpm.index.intersection(ids)].mean()
    on = truth.index[truth["egfr_axis_active"] == "yes"]
    off = truth.index[(truth["egfr_axis_active"] == "no") & (truth["site"] == "liver_metastasis")]
    primaries = truth.index[truth["site"] == "primary"]
    assert len(off) == 1 and core[on].mean() - core[off].mean() > 0.8
    assert abs(core[off].mean() - core[primaries].mean()) < 0.6
    full = simulate_cohort(genes, sets, replace(design, patient_layer=PatientLayer(
        "egfr_axis", {"liver_metastasis": 1.0})), seed=5)
    plain = simulate_cohort(genes, sets, replace(design, patient_layer=None), seed=5)
    assert full.counts.equals(plain.counts)
