"""The score line (``targets.scores``): per-sample axis scores and their comparison between a contrast's groups."""

from __future__ import annotations

import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu
from target_rationale.cohort.design import Contrast
from target_rationale.targets.config import Axis
from target_rationale.targets.score_stats import hedges_g, score_contrast
from target_rationale.targets.scores import axis_scores


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
    assert row["score_test"] == "Mann-Whitney"  # no patient column


def test_score_comparison_is_paired_where_patients_have_both_samples() -> None:
    """Six patients with a metastasis and a normal sample, a seventh with a metastasis only: signed-rank on the
    six complete pairs (by hand: every difference positive, exact two-sided p = 2 / 2^6)."""
    samples = [f"m{i}" for i in range(7)] + [f"n{i}" for i in range(6)]
    sheet = pd.DataFrame({"sample": samples, "site": ["met"] * 7 + ["normal"] * 6,
                          "patient": [f"p{i}" for i in range(7)] + [f"p{i}" for i in range(6)]})
    normal = np.array([0.0, 5.0, -3.0, 2.0, 8.0, -6.0])
    met = normal + np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    scores = pd.DataFrame({"EGFR": list(met) + [0.0] + list(normal)}, index=samples)
    row = score_contrast(scores, sheet, Contrast("met_vs_normal", "site", "met", "normal", "~ patient + site"))
    row = row.set_index("axis").loc["EGFR"]
    assert row["score_test"] == "signed-rank, 6 pairs"
    assert row["score_p"] == pytest.approx(2 / 2 ** 6)
    unpaired = mannwhitneyu(list(met) + [0.0], normal, alternative="two-sided").pvalue
    assert unpaired > 0.5  # the patients' spread hides what pairing shows


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
