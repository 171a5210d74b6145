"""Tests of the simulator's host-admixture model (simulate.host) and of the admixture designs (simulate.admixture)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from target_rationale.genesets.gmt import read_gmt

from simulate import (
    EXOCRINE_HOST,
    LIVER_HOST,
    TARGET_AXIS_GENES,
    CohortDesign,
    HostAdmixture,
    HostTissue,
    admixture_host,
    admixture_null_design,
    admixture_planted_design,
    demo_design,
    prepare_gene_table,
    sample_sheet,
    shipped_host_reference,
    simulate_cohort,
    tiny_design,
)

REPO = Path(__file__).resolve().parents[2]
GENE_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"

pytestmark = pytest.mark.skipif(not (GENE_MAP.exists() and GO_BP.exists()),
                                reason="repository gene resources not built")

SEED = 11


@pytest.fixture(scope="module")
def universe() -> tuple[pd.DataFrame, dict]:
    """The real protein-coding universe (Ensembl ids map onto the host reference) and GO BP."""
    genes = prepare_gene_table(pd.read_csv(GENE_MAP, sep="\t", dtype=str))
    return genes, read_gmt(GO_BP)


@pytest.fixture(scope="module")
def null(universe):
    genes, sets = universe
    return simulate_cohort(genes, sets, admixture_null_design(8), seed=SEED)


@pytest.fixture(scope="module")
def planted(universe):
    genes, sets = universe
    return simulate_cohort(genes, sets, admixture_planted_design(8), seed=SEED)


def _by_symbol(cohort) -> pd.DataFrame:
    return cohort.truth_host_genes.set_index("symbol")


# ---- opt-in: the demo design uses it, the tiny one keeps the original model ---------------------------------------


def test_host_model_is_opt_in():
    assert CohortDesign(name="x", patients=(("P1", ("primary",)),), programmes=()).host is None
    # the demo carries the host model (liver 5-30%, exocrine pancreas 0-20%); the tiny cohort keeps the original
    # model (test_simulate.py regenerates it byte-identically)
    demo = demo_design().host
    assert demo is not None and demo.liver.fraction_range == (0.05, 0.30) and demo.pancreas is not None
    assert tiny_design().host is None


def test_original_model_has_no_host_truth(universe):
    genes, sets = universe
    sim = simulate_cohort(genes.head(3000), sets, replace(tiny_design(), subsample=None), seed=1)
    assert sim.truth_host_genes is None and sim.host_share is None
    assert "host_fraction" not in sim.truth_samples.columns


# ---- fractions and cell mixes -------------------------------------------------------------------------------------


def test_fractions_in_range_and_mixes_sum_to_one(null):
    ts = null.truth_samples
    met, pri, nor = (ts["site"] == s for s in ("liver_metastasis", "primary", "normal_pancreas"))
    assert ts.loc[met, "liver_fraction"].between(0.10, 0.50).all()
    assert ts.loc[pri, "exocrine_fraction"].between(0.0, 0.20).all()
    assert (ts.loc[nor, "host_fraction"] == 0).all() and (ts.loc[nor, "host_tissue"] == "none").all()
    assert (ts.loc[met, "host_tissue"] == "liver").all() and (ts.loc[pri, "host_tissue"] == "exocrine_pancreas").all()
    assert ts.loc[met, "liver_fraction"].max() - ts.loc[met, "liver_fraction"].min() > 0.15  # they do vary
    liver_mix = ts.filter(like="liver_mix_")
    exo_mix = ts.filter(like="exocrine_pancreas_mix_")
    assert list(liver_mix.columns) == [f"liver_mix_{p}" for p in LIVER_HOST.profiles]
    np.testing.assert_allclose(liver_mix[met].sum(axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(exo_mix[pri].sum(axis=1), 1.0, atol=1e-3)
    assert (liver_mix[~met].to_numpy() == 0).all()
    # per-sample mixes vary around the documented proportions; hepatocytes dominate
    hep = liver_mix.loc[met, "liver_mix_hepatocytes"]
    assert hep.std() > 0.02 and abs(hep.mean() - 0.60) < 0.1 and (hep > 0.3).all()


def test_fraction_range_is_configurable(universe):
    genes, sets = universe
    design = replace(admixture_null_design(4), host=admixture_host((0.2, 0.3), (0.05, 0.1)))
    ts = simulate_cohort(genes, sets, design, seed=2).truth_samples
    assert ts.loc[ts["site"] == "liver_metastasis", "liver_fraction"].between(0.2, 0.3).all()
    assert ts.loc[ts["site"] == "primary", "exocrine_fraction"].between(0.05, 0.1).all()
    assert LIVER_HOST.fraction_range == (0.05, 0.5)  # the model's default range


def test_host_tissue_is_checked(universe):
    with pytest.raises(ValueError, match="sum to 1"):
        HostTissue("liver", (("hepatocytes", 0.5), ("liver", 0.2)))
    with pytest.raises(ValueError, match="low <= high"):
        HostTissue("liver", (("hepatocytes", 1.0),), fraction_range=(0.5, 0.2))
    genes, sets = universe
    bad = replace(admixture_null_design(2), host=HostAdmixture(liver=HostTissue("liver", (("stellate", 1.0),))))
    with pytest.raises(KeyError, match="stellate"):
        simulate_cohort(genes, sets, bad, seed=1)


# ---- the host is the real, perturbed reference ---------------------------------------------------------------------


def test_reference_mapped_by_id_then_symbol(null):
    th = null.truth_host_genes
    counts = th["matched_by"].value_counts()
    assert counts["id"] / len(th) > 0.98 and counts.get("symbol", 0) > 0
    unmapped = th[th["matched_by"] == "none"]
    # genes the reference lacks are carried by the host at their baseline share: neutral to admixture
    np.testing.assert_allclose(unmapped["liver_cpm"], unmapped["normal_cpm"], rtol=1e-3, atol=1e-3)
    assert (unmapped["perturbation"] == 0).all()


def test_liver_host_is_the_perturbed_reference(null):
    th = null.truth_host_genes
    ok = (th["matched_by"] != "none") & (th["liver_reference_cpm"] >= 1)
    log_ratio = np.log(th.loc[ok, "liver_cpm"] / th.loc[ok, "liver_reference_cpm"])
    assert 0.45 < log_ratio.std() < 0.55  # lognormal sd 0.5
    assert np.corrcoef(log_ratio, th.loc[ok, "perturbation"])[0, 1] > 0.99  # one draw per gene
    # the baseline is perturbed independently
    mapped = th["matched_by"] != "none"
    assert 0.45 < th.loc[mapped, "baseline_perturbation"].std() < 0.55
    assert abs(np.corrcoef(th.loc[mapped, "perturbation"], th.loc[mapped, "baseline_perturbation"])[0, 1]) < 0.05
    # the reference's liver at the mean mix is what HPA says: ALB and APOA1 among its top genes
    reference = shipped_host_reference()
    alb = reference.rows_for(["ALB"]).index[0]
    assert th.set_index("gene_id").loc[alb, "liver_reference_cpm"] > 1e4


def test_host_share_of_hepatocyte_genes_follows_the_fraction(null):
    th = null.truth_host_genes.set_index("gene_id")
    ts = null.truth_samples.set_index("sample")
    mets = ts.index[ts["site"] == "liver_metastasis"]
    albumin_like = th.index[(th["liver_share"] > 0.99) & (th["liver_cpm"] >= 100)]
    assert len(albumin_like) >= 20
    observed = null.counts.loc[albumin_like, mets].sum() / null.counts[mets].sum()
    expected = ts.loc[mets, "liver_fraction"] * th.loc[albumin_like, "liver_cpm"].sum() / 1e6
    ratio = observed / expected
    assert ratio.between(0.6, 1.6).all(), ratio.round(2).to_dict()
    assert np.corrcoef(observed, ts.loc[mets, "liver_fraction"])[0, 1] > 0.9
    share = null.host_share
    assert (share.loc[albumin_like, mets] > 0.98).all().all()
    assert (share.loc[:, ts.index[ts["site"] == "normal_pancreas"]] == 0).all().all()


def test_tumour_expresses_host_genes_and_islet_genes_are_tumour_genes(null):
    th = _by_symbol(null)
    for gene in ("EGFR", "KDR", "CSF1R", "CD68", "INS", "GCG", "CHGA", "SST"):
        assert th.loc[gene, "metastasis_tumour_cpm"] >= 1, gene
        assert th.loc[gene, "primary_tumour_cpm"] >= 1, gene
    for gene in ("INS", "GCG", "CHGA", "SST"):
        assert th.loc[gene, "liver_share"] < 0.01 and th.loc[gene, "exocrine_pancreas_share"] < 0.01, gene
    # at f = 0.3 and the mean cell mix, both the tumour and the liver contribute to the axis receptors
    f = 0.3
    for gene in ("EGFR", "KDR", "CSF1R"):
        h, t = th.loc[gene, "liver_cpm"], th.loc[gene, "metastasis_tumour_cpm"]
        assert 0.1 < f * h / ((1 - f) * t + f * h) < 0.9, gene
    # acinar enzymes in primaries come from the exocrine host
    assert th.loc["PRSS1", "exocrine_pancreas_share"] > 0.5


# ---- noise ----------------------------------------------------------------------------------------------------------


def test_dispersions_like_a_real_tumour_cohort(null, universe):
    th = null.truth_host_genes.set_index("gene_id")
    expressed = null.counts.mean(axis=1) >= 10
    assert 0.07 <= th.loc[expressed, "dispersion"].median() <= 0.15
    # a moment estimate on replicate-like samples (normal pancreas, no patient or batch effects) agrees
    genes, sets = universe
    design = replace(admixture_null_design(2), patients=tuple((f"R{i:02d}", ("normal_pancreas",)) for i in range(40)),
                     patient_effect_fraction=0.0, batch_effect_fraction=0.0)
    sim = simulate_cohort(genes, sets, design, seed=5)
    counts = sim.counts.to_numpy(dtype=float)
    size = counts.sum(axis=0) / counts.sum(axis=0).mean()
    norm = counts / size
    mean, var = norm.mean(axis=1), norm.var(axis=1, ddof=1)
    ok = mean >= 10
    estimate = (var[ok] - mean[ok] * np.mean(1 / size)) / mean[ok] ** 2
    assert 0.07 <= np.median(estimate) <= 0.15


def test_reproducible_by_seed(universe, null):
    genes, sets = universe
    again = simulate_cohort(genes, sets, admixture_null_design(8), seed=SEED)
    for name in ("counts", "truth_genes", "truth_programmes", "truth_samples", "truth_host_genes", "host_share"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(null, name))
    other = simulate_cohort(genes, sets, admixture_null_design(8), seed=SEED + 1)
    assert not other.counts.equals(null.counts)
    assert not other.truth_host_genes["perturbation"].equals(null.truth_host_genes["perturbation"])


# ---- the two designs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("design_fn", [admixture_null_design, admixture_planted_design])
def test_designs_paired_and_full_rank(design_fn):
    sheet = sample_sheet(design_fn(6))
    assert (sheet.groupby("patient")["site"].apply(set).map(lambda s: {"primary", "liver_metastasis"} <= s)).all()
    assert sheet["site"].value_counts().to_dict() == {"primary": 6, "liver_metastasis": 6, "normal_pancreas": 3}
    x = pd.get_dummies(sheet[["patient", "site"]], drop_first=True, dtype=float)
    x.insert(0, "intercept", 1.0)
    assert np.linalg.matrix_rank(x.to_numpy()) == x.shape[1]
    assert (sheet["simulated"] == "yes").all()


def test_null_design_has_no_tumour_difference_between_primary_and_metastasis(null):
    tg = null.truth_genes
    assert (tg["lfc_liver_met_vs_primary"] == 0).all()
    assert (tg["lfc_primary_vs_normal"] == tg["lfc_liver_met_vs_normal"]).all()
    axis = tg[tg["symbol"].isin(TARGET_AXIS_GENES)]
    assert (axis[["lfc_primary_vs_normal", "lfc_liver_met_vs_normal"]] == 0).all().all()
    tp = null.truth_programmes.set_index("programme")
    assert set(tp["groups"]) == {"both_tumours", "metastasis_contamination", "primary_contamination"}
    assert tp.loc["liver_admixture", "expected_class"] == "artefact:liver_admixture"
    # admixture alone makes liver genes come out up in metastases
    alb = tg.set_index("symbol").loc["ALB"]
    assert "liver_admixture" in alb["programme"] and alb["expected_lfc_liver_met_vs_primary"] > 1


def test_planted_design_lists_egfr_kdr_csf1r(planted, null):
    tg = planted.truth_genes.set_index("symbol")
    for gene, programme in (("EGFR", "egfr_axis"), ("KDR", "vegfr_axis"), ("CSF1R", "csf1r_axis")):
        assert programme in tg.loc[gene, "programme"]
        assert tg.loc[gene, "lfc_primary_vs_normal"] == 0
        assert tg.loc[gene, "lfc_liver_met_vs_normal"] > 0.3
        assert tg.loc[gene, "lfc_liver_met_vs_primary"] == tg.loc[gene, "lfc_liver_met_vs_normal"]
    tp = planted.truth_programmes.set_index("programme")
    for programme in ("egfr_axis", "vegfr_axis", "csf1r_axis"):
        assert tp.loc[programme, "expected_class"] == "unique:liver_met_vs_normal"
        assert abs(tp.loc[programme, "mean_lfc_liver_met"] - 1.0) < 0.2
        assert tp.loc[programme, "mean_lfc_primary"] == 0
    # same seed: the same hosts and fractions as the null, only the planted tumour effects added
    pd.testing.assert_frame_equal(planted.truth_samples.drop(columns="library_size"),
                                  null.truth_samples.drop(columns="library_size"))
    assert (planted.truth_host_genes["perturbation"] == null.truth_host_genes["perturbation"]).all()


def test_exocrine_host_can_be_switched_off(universe):
    genes, sets = universe
    design = replace(admixture_null_design(3), host=HostAdmixture(pancreas=None))
    sim = simulate_cohort(genes, sets, design, seed=3)
    ts = sim.truth_samples
    assert (ts.loc[ts["site"] == "primary", "host_fraction"] == 0).all()
    assert "exocrine_admixture" not in set(sim.truth_programmes["programme"])
    assert EXOCRINE_HOST.fraction_range == (0.0, 0.2)


# ---- the benchmark cohort writer ----------------------------------------------------------------------------------


def test_make_admixture_cohort_writes_a_workflow_ready_cohort(tmp_path):
    spec = importlib.util.spec_from_file_location("make_admixture_cohort",
                                                  REPO / "benchmarks" / "make_admixture_cohort.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.make_admixture_cohort("admixture_planted", 3, seed=4, out=tmp_path / "a")
    names = {p.name for p in out.iterdir()}
    assert {"counts.tsv.gz", "samples.tsv", "truth_genes.tsv", "truth_programmes.tsv", "truth_samples.tsv",
            "truth_host_genes.tsv.gz", "host_share.tsv.gz", "config.yaml", "design.yaml"} <= names
    samples = pd.read_csv(out / "samples.tsv", sep="\t")
    assert (samples["simulated"] == "yes").all()
    counts = pd.read_csv(out / "counts.tsv.gz", sep="\t", index_col="gene_id", nrows=5)
    assert list(counts.columns) == samples["sample"].tolist()
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["design"] == "~ patient + site"
    assert [c["name"] for c in config["contrasts"]] == ["primary_vs_normal", "liver_met_vs_normal",
                                                        "liver_met_vs_primary"]
    meta = yaml.safe_load((out / "design.yaml").read_text())
    assert meta["design"] == "admixture_planted" and meta["seed"] == 4 and "EGFR" in meta["planted_truth"]
    again = module.make_admixture_cohort("admixture_planted", 3, seed=4, out=tmp_path / "b")
    for name in names:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    with pytest.raises(ValueError, match="unknown design"):
        module.admixture_design("admixture_other", 3)


def test_host_variants_leave_out_the_pan_tissue_stroma_or_fix_the_mix():
    spec = importlib.util.spec_from_file_location("make_admixture_cohort",
                                                  REPO / "benchmarks" / "make_admixture_cohort.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    design = module.admixture_design("admixture_null", 3)
    assert module.with_host_variant(design, "design") is design
    liver = dict(module.with_host_variant(design, "no_pan_stroma").host.liver.components)
    # 0.60 / 0.20 / 0.08 / 0.04 of the design's liver, over the 0.92 left without endothelium and fibroblasts
    assert liver == pytest.approx({"hepatocytes": 0.60 / 0.92, "liver": 0.20 / 0.92, "kupffer_cells": 0.08 / 0.92,
                                   "cholangiocytes": 0.04 / 0.92})
    assert dict(design.host.liver.components)["endothelial_cells"] == 0.04  # the design itself is untouched
    fixed = module.with_host_variant(design, "fixed_mix").host.liver
    assert fixed.components == design.host.liver.components and fixed.concentration == 1e6
    assert design.host.liver.concentration == 30.0
    with pytest.raises(ValueError, match="unknown host variant"):
        module.with_host_variant(design, "no_liver")
