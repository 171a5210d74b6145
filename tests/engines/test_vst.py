"""engines.vst (DESeq2's blind vst() on the vectorised engine) against R DESeq2 1.38.3.

References (``tests/reference/parity/``, made by ``deseq2_parity.R``): ``vst.tsv.gz`` from ``vst(blind = TRUE)`` on
the seven parity scenarios (R's trend on its 1,000 genes is parametric in all seven) and on ``vst_local_fallback``
(where R's parametric fit fails and it integrates its local fit); ``vst_local.tsv.gz`` from ``vst(blind = TRUE,
fitType = "local")`` on three; ``vst_all.tsv.gz`` from ``varianceStabilizingTransformation(blind = TRUE)`` (the
trend on every gene, what :func:`blind_vst` does where ``vst()`` would stop). R's tables have 10 significant digits,
so values of 10-20 carry up to 5e-9 of rounding: the measured differences (max / median, log2 units) are that
rounding, and up to 1.0e-8 / 4.9e-9 where the trend is local.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from target_rationale.engines.nbinom import FastDeseqDataSet, VectorizedInference
from target_rationale.engines.vst import NSUB, blind_vst, fmm_spline, vst_subset

PARITY = REPO / "tests" / "reference" / "parity"
SCENARIOS = ["two_vs_two", "three_vs_three", "paired", "batch_site", "covariate", "trend_failure",
             "replace_outliers", "vst_local_fallback"]
LOCAL = ["two_vs_two", "paired", "trend_failure"]
#: Bounds on |ours - R| (log2): measured at most 1.04e-8 (max) and 4.9e-9 (median), on vst_local_fallback without
#: numpy's AVX-512 loops (that scenario has its own bounds below).
MAX_DIFF, MEDIAN_DIFF = 2e-8, 1e-8
#: vst_local_fallback's bounds: its values move with the last bits of numpy's exp/log, which differ between CPU
#: feature sets. Our own values on one machine with numpy's AVX-512 loops and without them
#: (``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"``) differ by up to 1.6e-7 (median 7.9e-8), and
#: against R by 1.7e-7 / 8.5e-8 with them (R's reference was made without).
FALLBACK_MAX_DIFF, FALLBACK_MEDIAN_DIFF = 4e-7, 2e-7


def cohort(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Counts (samples x genes with a count, as R's transform is given them) and the size factors of all genes."""
    counts = pd.read_csv(PARITY / name / "counts.tsv.gz", sep="\t", index_col="gene_id").T
    counts = counts.loc[:, counts.sum(axis=0) > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = FastDeseqDataSet(counts=counts, metadata=pd.DataFrame({"all": "all"}, index=counts.index),
                               design="~ 1", inference=VectorizedInference(n_cpus=1), quiet=True)
        dds.fit_size_factors()
    return counts, dds.obs["size_factors"].to_numpy(float)


def differences(ours: pd.DataFrame, reference: str, name: str) -> np.ndarray:
    r = pd.read_csv(PARITY / name / reference, sep="\t", index_col="gene_id")
    assert set(ours.columns) == set(r.index)
    return (ours.T.loc[r.index, r.columns] - r).abs().to_numpy()


@pytest.mark.parametrize("name", SCENARIOS)
def test_blind_vst_is_r_vst(name: str) -> None:
    """R's vst(blind = TRUE): the same trend (type; coefficients to R's 10 digits) and values."""
    counts, size_factors = cohort(name)
    ours, trend = blind_vst(counts, size_factors)
    r_trend = pd.read_csv(PARITY / name / "vst_trend.tsv", sep="\t", index_col="parameter")["value"]
    assert trend.fit_type == r_trend["fitType"] and not trend.all_genes and len(trend.genes) == NSUB
    if trend.fit_type == "parametric":
        np.testing.assert_allclose(trend.coefficients, r_trend[["asymptDisp", "extraPois"]].astype(float),
                                   rtol=1e-9)
    difference = differences(ours, "vst.tsv.gz", name)
    max_diff, median_diff = (FALLBACK_MAX_DIFF, FALLBACK_MEDIAN_DIFF) if name == "vst_local_fallback" else (
        MAX_DIFF, MEDIAN_DIFF)
    assert difference.max() <= max_diff and np.median(difference) <= median_diff, (
        difference.max(), np.median(difference))


@pytest.mark.parametrize("name", LOCAL)
def test_local_vst_is_r_local_vst(name: str) -> None:
    """R's vst(blind = TRUE, fitType = "local"): locfit trend, numerical integral, fmm spline, quantile scaling."""
    counts, size_factors = cohort(name)
    ours, trend = blind_vst(counts, size_factors, fit_type="local")
    assert trend.fit_type == "local"
    difference = differences(ours, "vst_local.tsv.gz", name)
    assert difference.max() <= MAX_DIFF and np.median(difference) <= MEDIAN_DIFF, (
        difference.max(), np.median(difference))


def test_too_few_genes_fits_all_as_variance_stabilizing_transformation() -> None:
    """Where vst() would stop (here: fewer genes than nsub), R's varianceStabilizingTransformation(blind = TRUE)."""
    counts, size_factors = cohort("two_vs_two")
    ours, trend = blind_vst(counts, size_factors, nsub=counts.shape[1] + 1)
    assert trend.all_genes and len(trend.genes) == counts.shape[1] and trend.fit_type == "parametric"
    difference = differences(ours, "vst_all.tsv.gz", "two_vs_two")
    assert difference.max() <= MAX_DIFF and np.median(difference) <= MEDIAN_DIFF


def test_vst_subset_rules() -> None:
    """DESeq2's subset: means above 5 only, ordered (ties in order), round(seq(1, n, length = nsub)) with R's
    round half to even; None where vst() stops."""
    means = np.array([9.0, 1.0, 6.0, 8.0, 6.0, 30.0, 5.0, 7.0])
    # above 5, by mean: positions 2, 4 (tied 6), 7, 3, 0, 5; seq(1, 6, length = 3) = 1, 3.5, 6 -> 1, 4, 6
    assert vst_subset(means, 3).tolist() == [2, 3, 5]
    # seq(1, 4, length = 3) = 1, 2.5, 4: R's round(2.5) is 2, so the 2nd smallest (0-based rounding: the 3rd)
    assert vst_subset(np.array([9.0, 6.0, 8.0, 7.0]), 3).tolist() == [1, 3, 0]
    assert vst_subset(means, 7) is None
    assert vst_subset(np.arange(10.0), 5) is None  # 10 genes but only 4 with a mean above 5


def test_fmm_spline_is_r_splinefun() -> None:
    """R 4.2.2's splinefun (fmm) by hand, values printed with options(digits = 17):
    x <- c(0, 1, 2.5, 3, 4.5, 6); y <- c(1, 3, 2, 5, 4, 0); splinefun(x, y)(c(-1, 0.5, 2.75, 3, 5, 7))
    splinefun(c(0, 1, 3), c(2, 0, 1))(c(-1, 2, 4)); splinefun(c(0, 2), c(1, 2))(c(-1, 3))
    splinefun(c(2, 0, 1, 1, 3), c(1, 0, 2, 4, 5))(c(0.5, 2.5))  # unsorted, a tie (mean y)"""
    six = fmm_spline(np.array([0, 1, 2.5, 3, 4.5, 6]), np.array([1, 3, 2, 5, 4, 0]))
    np.testing.assert_allclose(six(np.array([-1, 0.5, 2.75, 3, 5, 7])),
                               [-14.2750508750508764, 3.1093813593813593, 3.4730667480667479, 5.0,
                                2.0787952787952788, 4.0822140822140831], rtol=1e-15)
    np.testing.assert_allclose(fmm_spline(np.array([0, 1, 3]), np.array([2, 0, 1]))(np.array([-1, 2, 4])),
                               [5.66666666666666696, -0.33333333333333337, 4.0], rtol=1e-15)
    np.testing.assert_allclose(fmm_spline(np.array([0, 2]), np.array([1, 2]))(np.array([-1, 3])), [0.5, 2.5])
    np.testing.assert_allclose(fmm_spline(np.array([2, 0, 1, 1, 3]), np.array([1, 0, 2, 4, 5]))(
        np.array([0.5, 2.5])), [2.8124999999999996, 1.5625], rtol=1e-15)


def test_fmm_spline_reproduces_a_cubic() -> None:
    """The fmm end conditions match the cubic through the end points: a cubic is reproduced, beyond the knots too."""
    x = np.array([0.0, 0.3, 1.1, 1.5, 2.8, 3.0, 4.7])
    cubic = np.poly1d([0.5, -2.0, 1.0, 3.0])
    u = np.linspace(-1, 6, 29)
    np.testing.assert_allclose(fmm_spline(x, cubic(x))(u), cubic(u), rtol=1e-10, atol=1e-10)
