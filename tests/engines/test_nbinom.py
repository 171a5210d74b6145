"""The vectorised pydeseq2 inference (target_rationale.nbinom) against pydeseq2's own per-gene routines."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pydeseq2 import utils
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
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


def test_irls_equals_pydeseq2_gene_by_gene(problem: dict) -> None:
    ours = VectorizedInference(n_cpus=2).irls(problem["counts"], problem["sf"], problem["design"], problem["disp"],
                                              min_mu=0.5, beta_tol=1e-8)
    for g in range(problem["counts"].shape[1]):
        beta, mu, hat, converged = utils.irls_solver(problem["counts"][:, g], problem["sf"], problem["design"],
                                                     problem["disp"][g], min_mu=0.5, beta_tol=1e-8)
        np.testing.assert_allclose(ours[0][g], beta, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(ours[1][:, g], mu, rtol=1e-7)
        np.testing.assert_allclose(ours[2][:, g], hat, rtol=1e-6, atol=1e-12)
        assert ours[3][g] == converged


@pytest.mark.parametrize("prior", [False, True], ids=["gene-wise", "MAP"])
def test_dispersions_reach_pydeseq2_minimum_or_lower(problem: dict, prior: bool) -> None:
    counts, design = problem["counts"], problem["design"]
    mu = VectorizedInference().irls(counts, problem["sf"], design, problem["disp"], 0.5, 1e-8)[1]
    start = np.full(counts.shape[1], 0.1)
    kwargs = {"prior_disp_var": 0.25, "prior_reg": True} if prior else {}
    ours, converged = VectorizedInference(n_cpus=2).alpha_mle(counts, design, mu, start, 1e-8, 10.0, **kwargs)
    assert converged.all()

    def loss(g: int, alpha: float) -> float:
        w = mu[:, g] / (1 + mu[:, g] * alpha)
        value = utils.nb_nll(counts[:, g], mu[:, g], alpha) + 0.5 * np.linalg.slogdet((design.T * w) @ design)[1]
        return value + ((np.log(alpha) - np.log(0.1)) ** 2 / 0.5 if prior else 0.0)

    for g in range(counts.shape[1]):
        theirs, _ = utils.fit_alpha_mle(counts[:, g], design, mu[:, g], 0.1, 1e-8, 10.0,
                                        prior_disp_var=0.25 if prior else None, prior_reg=prior)
        # the same minimum (pydeseq2's L-BFGS-B stops within ~1e-4 of it), never a worse one
        assert loss(g, ours[g]) <= loss(g, theirs) + 1e-6 * abs(loss(g, theirs))
        assert abs(np.log(ours[g]) - np.log(theirs)) < 0.02 or loss(g, ours[g]) < loss(g, theirs) - 1e-6


def test_wald_test_equals_pydeseq2(problem: dict) -> None:
    counts, design, sf = problem["counts"], problem["design"], problem["sf"]
    lfc, mu = VectorizedInference().irls(counts, sf, design, problem["disp"], 0.5, 1e-8)[:2]
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


def test_fast_dataset_gives_pydeseq2_trend_and_dispersions(problem: dict) -> None:
    counts = pd.DataFrame(problem["counts"][:, 1:], columns=[f"g{i}" for i in range(59)],
                          index=[f"s{i}" for i in range(12)])
    metadata = pd.DataFrame({"batch": ["a", "b"] * 6, "site": ["n"] * 4 + ["p"] * 4 + ["m"] * 4},
                            index=counts.index)
    fits = []
    for cls in (DeseqDataSet, FastDeseqDataSet):
        dds = cls(counts=counts.astype(int), metadata=metadata, design="~ batch + site",
                  inference=VectorizedInference(1), quiet=True)
        dds.deseq2()
        fits.append(dds)
    np.testing.assert_array_equal(fits[0].uns["trend_coeffs"], fits[1].uns["trend_coeffs"])
    np.testing.assert_array_equal(fits[0].var["dispersions"], fits[1].var["dispersions"])


def test_cooks_outliers_are_replaced_and_refitted_as_by_pydeseq2() -> None:
    """With >= 7 replicates pydeseq2 replaces Cook's outliers and refits those genes through the same inference."""
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
    np.testing.assert_allclose(np.log(fits[0].var["dispersions"]), np.log(fits[1].var["dispersions"]), atol=0.02)


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
