"""Differential expression: pydeseq2 as the workflow calls it, against R DESeq2 references and planted truth."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, load_cohort
from target_rationale.cohort.design import Contrast, parse_contrasts
from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.diffexp.model import fit_model, prefilter, results_table, smallest_group, wald_test
from target_rationale.diffexp.qc import qc_matrix
from target_rationale.diffexp.settings import FitSettings, WaldSettings
from target_rationale.planning import plan_fits

REFERENCE = REPO / "tests" / "reference"
LIVER = read_liver_signature(REPO / "resources" / "signatures" / "liver_hepatocyte.tsv")
CONTRASTS = [
    {"name": "primary_vs_normal", "variable": "site", "target": "primary", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_normal", "variable": "site", "target": "liver_metastasis", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_primary", "variable": "site", "target": "liver_metastasis", "reference": "primary"},
]


def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"deseq2_{name}.tsv", sep="\t", index_col="gene_id")


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@pytest.fixture(scope="module")
def tiny() -> ad.AnnData:
    return load_cohort(REPO / "tests" / "data")


@pytest.fixture(scope="module")
def tiny_results(tiny: ad.AnnData) -> dict[str, pd.DataFrame]:
    """The three tiny contrasts with the default settings (shrinkage on: two fits)."""
    fit_settings = FitSettings.from_config({})
    wald_settings = WaldSettings.from_config({})
    contrasts = parse_contrasts(CONTRASTS, "~ patient + site")
    tables = {}
    for members in plan_fits(contrasts, shrink=True).values():
        dds = fit_model(tiny, members, fit_settings, n_cpus=1)
        for contrast in members:
            tables[contrast.name] = results_table(wald_test(dds, contrast, wald_settings, 1), tiny.var, LIVER)
    tables["_size_factors"] = pd.Series(np.asarray(dds.obs["size_factors"]), index=dds.obs_names)
    return tables


# ---- planning and pre-filtering ----------------------------------------------------------------------------


def test_prefilter_hand_computed() -> None:
    counts = pd.DataFrame({"g1": [10, 10, 0, 0], "g2": [9, 50, 50, 0], "g3": [0, 0, 0, 100]})
    assert prefilter(counts, min_count=10, min_samples=2).tolist() == [True, True, False]
    sheet = pd.DataFrame({"site": ["a", "a", "b", "b", "b", "c"]})
    assert smallest_group(sheet, [Contrast("x", "site", "b", "a", "~site")]) == 2
    assert smallest_group(sheet, [Contrast("x", "site", "b", "c", "~site")]) == 1


def test_results_table_columns_order_and_liver_flag(tiny_results: dict[str, pd.DataFrame]) -> None:
    table = tiny_results["liver_met_vs_primary"]
    assert list(table.columns) == ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue",
                                   "padj", "log2FoldChange_shrunk", "liver_signature"]
    padj = table["padj"].dropna().to_numpy()
    assert (np.diff(padj) >= 0).all() and table["padj"].isna().sum() == len(table) - len(padj)
    assert table.loc[table["symbol"] == "ALB", "liver_signature"].item()
    assert not table.loc[table["symbol"] == "EGFR", "liver_signature"].item()
    assert set(table.loc[table["liver_signature"], "symbol"]) <= LIVER


# ---- against R DESeq2 ------------------------------------------------------------------------------------


def test_size_factors_equal_r(tiny_results: dict[str, pd.DataFrame]) -> None:
    r = pd.read_csv(REFERENCE / "size_factors.tsv", sep="\t", index_col="sample")["size_factor"]
    ours = tiny_results["_size_factors"].loc[r.index]
    np.testing.assert_allclose(ours.to_numpy(), r.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", [c["name"] for c in CONTRASTS])
def test_contrasts_match_r_deseq2(tiny_results: dict[str, pd.DataFrame], name: str) -> None:
    ours = tiny_results[name].set_index("gene_id")
    r = reference(name)
    assert set(ours.index) == set(r.index)  # same pre-filter: 471 genes
    both = ours.join(r, rsuffix="_r").dropna(subset=["log2FoldChange", "log2FoldChange_r"])
    assert np.corrcoef(both["log2FoldChange"], both["log2FoldChange_r"])[0, 1] >= 0.999
    calls = set(ours.index[ours["padj"] < 0.05])
    calls_r = set(r.index[r["padj"] < 0.05])
    assert len(calls_r) > 50
    assert jaccard(calls, calls_r) >= 0.95


def test_shrunken_lfc_agrees_in_sign_with_r_normal_prior(tiny_results: dict[str, pd.DataFrame]) -> None:
    """R has only the normal prior here (no apeglm in Debian): compare sign and rank, not values."""
    ours = tiny_results["liver_met_vs_normal"].set_index("gene_id")["log2FoldChange_shrunk"]
    r = reference("liver_met_vs_normal_shrunk_normal")["log2FoldChange"]
    both = pd.concat([ours, r], axis=1, keys=["ours", "r"]).dropna()
    strong = both[both["r"].abs() > 0.5]
    assert (np.sign(strong["ours"]) == np.sign(strong["r"])).all()
    assert both.corr(method="spearman").iloc[0, 1] > 0.95


def test_paired_subset_design_matches_r(tiny: ad.AnnData) -> None:
    """3 residual degrees of freedom: R estimates the dispersion prior variance by simulation and fits its trend
    on the genes above 100 x minDisp; the default engine does the same (tests/diffexp/test_parity.py), so the
    prior variance, the trend and the calls are R's."""
    contrast = parse_contrasts([{"name": "sub", "variable": "site", "target": "liver_metastasis",
                                 "reference": "primary", "samples": {"site": ["primary", "liver_metastasis"]}}],
                               "~ patient + site")[0]
    fit_settings = FitSettings.from_config({"shrink": False})
    wald_settings = WaldSettings.from_config({"shrink": False})
    dds = fit_model(tiny, [contrast], fit_settings, n_cpus=1)
    assert dds.n_obs == 8
    trend = pd.read_csv(REFERENCE / "trend.tsv", sep="\t").query("design == 'subset_primary_liver_met'")
    trend = trend.set_index("parameter")["value"]
    assert abs(float(dds.uns["prior_disp_var"]) - trend["dispPriorVar"]) <= 1e-6
    np.testing.assert_allclose(dds.uns["trend_coeffs"], trend[["asymptDisp", "extraPois"]], rtol=1e-5)
    ours = results_table(wald_test(dds, contrast, wald_settings, 1), tiny.var, LIVER).set_index("gene_id")
    r = reference("subset_liver_met_vs_primary")
    assert set(ours.index) == set(r.index)
    both = ours.join(r, rsuffix="_r").dropna(subset=["log2FoldChange", "log2FoldChange_r"])
    assert np.corrcoef(both["log2FoldChange"], both["log2FoldChange_r"])[0, 1] >= 0.9999
    calls, calls_r = set(ours.index[ours["padj"] < 0.05]), set(r.index[r["padj"] < 0.05])
    assert len(calls_r) > 50 and len(calls ^ calls_r) <= max(2, 0.03 * len(calls_r))
    assert (ours["padj"].isna() == r.loc[ours.index, "padj"].isna()).all()


# ---- planted truth ---------------------------------------------------------------------------------------


def auc(scores_positive: np.ndarray, scores_negative: np.ndarray) -> float:
    """Area under the ROC curve: probability that a positive outscores a negative (ties count half)."""
    pos, neg = np.asarray(scores_positive)[:, None], np.asarray(scores_negative)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


@pytest.mark.workflow
def test_planted_genes_are_recovered_on_the_demo_cohort(demo_de: dict[str, pd.DataFrame]) -> None:
    truth = pd.read_csv(REPO / "resources" / "demo" / "truth_genes.tsv", sep="\t", index_col="gene_id")
    for name, table in demo_de.items():
        table = table.set_index("gene_id")
        expected = truth[f"lfc_{name}"]
        planted = expected.index[(expected.abs() >= 1) & ~truth["programme"].str.contains("liver_admixture")]
        null = table.index.difference(truth.index)
        stat = table["stat"].abs()
        assert auc(stat.reindex(planted).dropna(), stat.loc[null]) >= 0.95, name
        # Direction: planted genes called significant move the planted way.
        called = table.loc[table.index.intersection(planted)]
        called = called[called["padj"] < 0.05]
        assert len(called) > 100
        assert (np.sign(called["log2FoldChange"]) == np.sign(expected.loc[called.index])).mean() > 0.99


def test_liver_admixture_score_tracks_the_planted_fraction() -> None:
    demo = load_cohort(REPO / "resources" / "demo")
    qc = qc_matrix(demo, LIVER, seed=42)
    truth = pd.read_csv(REPO / "resources" / "demo" / "truth_samples.tsv", sep="\t", index_col="sample")
    score = qc.obs["liver_score"]
    metastases = truth.index[truth["liver_fraction"] > 0]
    others = truth.index[truth["liver_fraction"] == 0]
    assert len(metastases) == 12
    assert score.loc[metastases].min() > score.loc[others].max() + 2
    for column in ("liver_score", "liver_count_share"):
        assert qc.obs.loc[metastases, column].corr(truth.loc[metastases, "liver_fraction"],
                                                   method="spearman") >= 0.9, column
    assert set(qc.layers) == {"counts", "normalized", "vst"}
    np.testing.assert_allclose(qc.layers["normalized"] * qc.obs["size_factor"].to_numpy()[:, None],
                               qc.layers["counts"], rtol=1e-9)
