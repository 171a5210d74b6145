"""The vectorised inference (engines.nbinom) against DESeq2's rules gene by gene and pydeseq2's own routines
(R DESeq2 itself: tests/diffexp/test_parity.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pydeseq2 import utils
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from scipy.stats import nbinom
from target_rationale.engines.dispersion_fit import dlog_posterior, line_search, log_posterior
from target_rationale.engines.nbinom import FastDeseqDataSet, VectorizedInference


@pytest.fixture(scope="module")
def problem() -> dict:
    """60 simulated NB genes x 12 samples, design intercept + batch + 2 site coefficients."""
    rng = np.random.default_rng(3)
    n, genes = 12, 60
    design = np.column_stack([np.ones(n), np.tile([0.0, 1.0], 6), np.repeat([0.0, 1.0, 0.0], 4),
                              np.repeat([0.0, 0.0, 1.0], 4)])
    size_factors = rng.uniform(0.6, 1.5, n)
    beta = np.column_stack([rng.uniform(0, 9, genes), rng.normal(0, 0.3, genes), rng.normal(0, 1.5, genes),
                            rng.normal(0, 1.5, genes)])
    mu = size_factors[:, None] * np.exp(design @ beta.T)
    disp = rng.uniform(0.01, 0.6, genes)
    counts = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp)).astype(float)
    counts[:, 0] = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2]  # nearly empty gene
    return {"design": design, "sf": size_factors, "counts": counts, "disp": disp}


def deseq2_fit_beta(y: np.ndarray, sf: np.ndarray, x: np.ndarray, alpha: float, tol: float = 1e-8) -> np.ndarray:
    """DESeq2's ``fitBeta`` for one gene, line by line (C++ in DESeq2 1.38): the vectorised IRLS's reference."""
    ridge = np.diag(np.full(x.shape[1], 1e-6 / np.log(2) ** 2))
    q, r = np.linalg.qr(x)
    beta = np.linalg.solve(r, q.T @ np.log(y / sf + 0.1))
    mu = np.maximum(sf * np.exp(x @ beta), 0.5)
    dev_old = 0.0
    for t in range(100):
        w = mu / (1.0 + alpha * mu)
        z = np.log(mu / sf) + (y - mu) / mu
        beta = np.linalg.solve((x.T * w) @ x + ridge, (x.T * w) @ z)
        mu = np.maximum(sf * np.exp(x @ beta), 0.5)
        dev = -2.0 * nbinom.logpmf(y, 1 / alpha, 1 / (1 + alpha * mu)).sum()
        if t > 0 and abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            break
        dev_old = dev
    return beta


def test_irls_is_deseq2s_fit_beta_gene_by_gene(problem: dict) -> None:
    ours = VectorizedInference(n_cpus=2).irls(problem["counts"], problem["sf"], problem["design"], problem["disp"],
                                              min_mu=0.5, beta_tol=1e-8)
    assert ours[3].all()
    for g in range(1, problem["counts"].shape[1]):  # gene 0 is nearly empty: it diverges (the optim fallback)
        beta = deseq2_fit_beta(problem["counts"][:, g], problem["sf"], problem["design"], problem["disp"][g])
        np.testing.assert_allclose(ours[0][g], beta, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours[1][:, g], problem["sf"] * np.exp(problem["design"] @ beta), rtol=1e-9)


def deseq2_fit_disp(y: np.ndarray, mu: np.ndarray, x: np.ndarray, a: float, prior_mean: float | None,
                    prior_var: float, min_log_alpha: float) -> tuple[float, int]:
    """DESeq2's ``fitDisp`` for one gene, line by line (C++ in DESeq2 1.38): log alpha and steps taken."""
    def lp(value: float) -> float:
        return log_posterior(np.array([value]), y[:, None], mu[:, None], x,
                             None if prior_mean is None else np.array([prior_mean]), prior_var)[0]

    def dlp(value: float) -> float:
        return dlog_posterior(np.array([value]), y[:, None], mu[:, None], x,
                              None if prior_mean is None else np.array([prior_mean]), prior_var)[0]

    current, slope, kappa, accepts = lp(a), dlp(a), 1.0, 0
    for t in range(100):
        if a + kappa * slope < -30.0:
            kappa = (-30.0 - a) / slope
        if a + kappa * slope > 10.0:
            kappa = (10.0 - a) / slope
        theta = -lp(a + kappa * slope)
        if theta <= -current - kappa * 1e-4 * slope ** 2:
            accepts += 1
            a = a + kappa * slope
            new = lp(a)
            if new - current < 1e-6 or a < min_log_alpha:
                return a, t + 1
            current, slope = new, dlp(a)
            kappa = min(kappa * 1.1, 1.0)
            if accepts % 5 == 0:
                kappa /= 2.0
        else:
            kappa /= 2.0
    return a, 100


@pytest.mark.parametrize("prior", [False, True], ids=["gene-wise", "MAP"])
def test_line_search_is_deseq2s_fit_disp_gene_by_gene(problem: dict, prior: bool) -> None:
    counts, design = problem["counts"], problem["design"]
    mu = np.maximum(VectorizedInference().irls(counts, problem["sf"], design, problem["disp"], 0.5, 1e-8)[1], 0.5)
    start = np.log(np.linspace(0.02, 2.0, counts.shape[1]))
    prior_mean = np.log(np.full(counts.shape[1], 0.1)) if prior else None
    ours, steps, _, _ = line_search(counts, mu, design, start, prior_mean, 0.25, np.log(1e-9))
    assert ((steps > 1) & (steps < 100)).mean() > 0.9  # most settle; the rest go to the grid
    for g in range(counts.shape[1]):
        theirs, their_steps = deseq2_fit_disp(counts[:, g], mu[:, g], design, start[g],
                                              None if prior_mean is None else prior_mean[g], 0.25, np.log(1e-9))
        assert steps[g] == their_steps
        # 1e-11: numpy's AVX-512 exp/log loops move the result by up to 1.2e-12 (under 1e-12 without them)
        assert ours[g] == pytest.approx(theirs, abs=1e-11)


def test_wald_test_equals_pydeseq2(problem: dict) -> None:
    counts, design, sf = problem["counts"], problem["design"], problem["sf"]
    lfc, mu = VectorizedInference().irls(counts, sf, design, problem["disp"], 0.5, 1e-8)[:2]
    mu = np.maximum(mu, 0.5)  # ours bounds the means in the weights, as DESeq2 does; pydeseq2 takes them as given
    ridge, contrast = np.diag(np.full(4, 1e-6)), np.array([0.0, 0.0, 1.0, -1.0])
    for alternative, null in [(None, 0.0), ("greaterAbs", np.log(2) * 0.5)]:
        ours = VectorizedInference(n_cpus=2).wald_test(design, problem["disp"], lfc, mu, ridge, contrast, null,
                                                       alternative)
        theirs = DefaultInference(n_cpus=1).wald_test(design, problem["disp"], lfc, mu, ridge, contrast, null,
                                                      alternative)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-300)


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_shrinkage_finds_pydeseq2_optimum_or_a_better_one(problem: dict, scale: float) -> None:
    counts, design = problem["counts"], problem["design"]
    size, offset = 1 / problem["disp"], np.log(problem["sf"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours, inverse, converged = VectorizedInference(n_cpus=2).lfc_shrink_nbinom_glm(
            design, counts, size, offset, 15.0, scale, "L-BFGS-B", 2)
    assert converged.all()
    for g in range(counts.shape[1]):
        theirs, their_inverse, _ = utils.nbinomGLM(design, counts[:, g], size[g], offset, 15.0, scale,
                                                   shrink_index=2)
        value = utils.nbinomFn(ours[g], design, counts[:, g], size[g], offset, 15.0, scale, 2)
        their_value = utils.nbinomFn(theirs, design, counts[:, g], size[g], offset, 15.0, scale, 2)
        assert value <= their_value + 1e-7 * abs(their_value)
        if value > their_value - 1e-7 * abs(their_value):  # the same mode: the same fold change
            assert abs(ours[g, 2] - theirs[2]) < 0.02
            np.testing.assert_allclose(inverse[g][2, 2], their_inverse[2, 2], rtol=0.05)


def test_cooks_outliers_are_replaced_and_refitted_as_by_pydeseq2() -> None:
    """With >= 7 replicates Cook's outliers are replaced and their genes refitted, the same ones as pydeseq2's."""
    rng = np.random.default_rng(5)
    n, genes = 16, 150
    mu = np.exp(rng.uniform(2, 7, genes))[None, :] * np.exp(np.repeat([0.0, 1.0], 8)[:, None]
                                                           * rng.normal(0, 1, genes))
    counts = rng.negative_binomial(10, 10 / (10 + mu))
    counts[3, :10] *= 40  # one wild sample in ten genes
    frame = pd.DataFrame(counts, index=[f"s{i}" for i in range(n)], columns=[f"g{i}" for i in range(genes)])
    metadata = pd.DataFrame({"group": ["a"] * 8 + ["b"] * 8}, index=frame.index)
    fits = []
    for cls, inference in ((DeseqDataSet, DefaultInference(n_cpus=1)), (FastDeseqDataSet, VectorizedInference(2))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dds = cls(counts=frame, metadata=metadata, design="~ group", inference=inference, quiet=True)
            dds.deseq2()
        fits.append(dds)
    assert fits[0].var["replaced"].sum() >= 5
    np.testing.assert_array_equal(fits[0].var["replaced"], fits[1].var["replaced"])
    np.testing.assert_array_equal(fits[0].var["refitted"], fits[1].var["refitted"])
    np.testing.assert_allclose(fits[0].varm["LFC"], fits[1].varm["LFC"], rtol=1e-3, atol=1e-3)
    # the dispersions follow DESeq2's rules, not pydeseq2's: against R, tests/diffexp/test_parity.py
    # (scenario replace_outliers)


def test_fit_is_the_same_for_any_number_of_threads() -> None:
    """The blocks of genes do not follow ``n_cpus`` (their shape changes the last bits of the array operations):
    a run given 1, 2 or 3 cores writes the same tables."""
    rng = np.random.default_rng(11)
    n, genes = 8, 3000
    mu = np.exp(rng.uniform(1, 8, genes))[None, :] * np.exp(np.repeat([0.0, 1.0], 4)[:, None]
                                                           * rng.normal(0, 0.7, genes))
    counts = pd.DataFrame(rng.negative_binomial(8, 8 / (8 + mu)), index=[f"s{i}" for i in range(n)],
                          columns=[f"g{i}" for i in range(genes)])
    metadata = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 4}, index=counts.index)
    fits = []
    for threads in (1, 2, 3):
        dds = FastDeseqDataSet(counts=counts, metadata=metadata, design="~ group",
                               inference=VectorizedInference(threads), quiet=True)
        dds.deseq2()
        fits.append(dds)
    for other in fits[1:]:
        for column in ("genewise_dispersions", "dispersions"):
            np.testing.assert_array_equal(fits[0].var[column].to_numpy(), other.var[column].to_numpy())
        np.testing.assert_array_equal(np.asarray(fits[0].varm["LFC"]), np.asarray(other.varm["LFC"]))
