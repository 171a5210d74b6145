"""DESeq2's optimiser fallback (engines.glm_optim): its log-likelihood terms are scipy.stats' numbers, bit for bit,
and a fallback fit gives the same coefficients as with scipy.stats' functions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from target_rationale.engines import glm_optim, nbinom
from target_rationale.engines.gram import outer_rows


def test_nb_logpmf_equals_scipy_stats() -> None:
    rng = np.random.default_rng(7)
    counts = np.concatenate([np.arange(0, 50), rng.integers(0, 200_000, 200)]).astype(float)
    for size in (0.01, 0.37, 1.0, 9.5, 1e4):
        for mu in (1e-300, 1e-8, 0.3, 17.0, 4e3, 1e9, 1e300):
            p = size / (size + mu * rng.uniform(0.5, 2.0, len(counts)))
            ours, theirs = glm_optim.nb_logpmf(counts, size, p), stats.nbinom.logpmf(counts, size, p)
            assert np.array_equal(ours, theirs, equal_nan=True), (size, mu)
            given = glm_optim.nb_logpmf(counts, size, p, glm_optim.nb_coefficient(counts, size))
            assert np.array_equal(given, theirs, equal_nan=True), (size, mu)
    assert np.array_equal(glm_optim.nb_logpmf(counts.astype(np.int64), 2.0, np.full(len(counts), 0.3)),
                          stats.nbinom.logpmf(counts.astype(np.int64), 2.0, 0.3))


def test_normal_logpdf_equals_scipy_stats() -> None:
    x = np.concatenate([np.linspace(-30, 30, 1001), [0.0, -0.0, 1e-12]])
    for sd in (1.0, np.sqrt(1 / glm_optim.LFC_RIDGE), 0.01):
        assert np.array_equal(glm_optim.normal_logpdf(x, sd), stats.norm.logpdf(x, 0.0, sd))


@pytest.mark.parametrize("seed", [1, 2])
def test_fallback_fit_is_unchanged_by_the_fast_terms(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """A gene with a group of zeros (where DESeq2 falls back to the optimiser): the fit with this module's terms
    and the fit with scipy.stats' own are the same numbers, and the zero group's coefficient runs far out."""
    rng = np.random.default_rng(seed)
    groups = np.repeat([0, 1, 2], 6)
    design = np.column_stack([np.ones(18), groups == 1, groups == 2]).astype(float)
    size_factors = rng.uniform(0.6, 1.6, 18)
    counts = np.where(groups == 2, 0, rng.negative_binomial(5, 5 / (5 + 40 * size_factors))).astype(float)
    start = np.array([np.log2(40.0), 0.1, -5.0])
    ours = glm_optim.optim_fit(counts, size_factors, design, 0.2, start)
    monkeypatch.setattr(glm_optim, "nb_logpmf", lambda k, size, p, _=None: stats.nbinom.logpmf(k, size, p))
    monkeypatch.setattr(glm_optim, "normal_logpdf", lambda x, sd: stats.norm.logpdf(x, 0.0, sd))
    theirs = glm_optim.optim_fit(counts, size_factors, design, 0.2, start)
    assert np.array_equal(ours[0], theirs[0]) and ours[1] == theirs[1]
    assert ours[0][2] < -5  # the all-zero group: far below the others, as DESeq2's optimiser leaves it


def test_has_finite_maximum_hand_cases() -> None:
    groups = np.repeat([0, 1], 4)
    design = np.column_stack([np.ones(8), groups]).astype(float)
    large = np.array([900, 1200, 800, 1100, 2000, 2500, 1800, 2100], dtype=float)
    one_zero = large.copy()
    one_zero[5] = 0
    group_zero = np.where(groups == 1, 0.0, large)
    assert glm_optim.has_finite_maximum(large, design)
    assert glm_optim.has_finite_maximum(one_zero, design)  # the other three pin the group's mean
    assert not glm_optim.has_finite_maximum(group_zero, design)  # the group's coefficient runs off
    assert not glm_optim.has_finite_maximum(np.zeros(8), design)
    paired = np.column_stack([np.ones(8), np.tile(np.eye(4)[:, 1:], (2, 1)), groups]).astype(float)
    patient_zero = large.copy()
    patient_zero[[2, 6]] = 0  # both samples of the third patient
    assert glm_optim.has_finite_maximum(one_zero, paired)
    assert not glm_optim.has_finite_maximum(patient_zero, paired)


def _one_zero_among_large(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """10 patients x 2 sites (``~ patient + site``), counts in the tens of thousands, one sample at 0; and the
    start DESeq2's IRLS takes (least squares on log(count / size factor + 0.1)), from which IRLS diverges."""
    rng = np.random.default_rng(seed)
    patients = np.tile(np.arange(10), 2)
    design = np.column_stack([np.ones(20), np.eye(10)[patients][:, 1:], np.repeat([0.0, 1.0], 10)])
    size_factors = rng.uniform(0.6, 1.8, 20)
    mu = size_factors * 40_000 * np.exp(rng.normal(0, 0.5, 10)[patients])
    counts = rng.negative_binomial(1 / 1.5, 1 / (1 + 1.5 * mu)).astype(float)
    counts[rng.integers(20)] = 0.0
    q, r = np.linalg.qr(design)
    return counts, size_factors, design, np.linalg.solve(r, q.T @ np.log(counts / size_factors + 0.1))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_newton_fit_reaches_the_maximum_where_irls_diverges(seed: int) -> None:
    """From IRLS's start (from which the engine's IRLS diverges), the Newton search ends where the gradient of the
    penalised log-likelihood is zero, at the same point as from a start near it, well above where R's optimiser
    rule alone stops from that start (the defect behind engine_agreement.json), and the engine's fit is it."""
    counts, size_factors, design, start = _one_zero_among_large(seed)
    ridge = glm_optim.LFC_RIDGE / np.log(2) ** 2
    beta, converged, gain = glm_optim.newton_fit(counts, size_factors, design, 1.5, start, ridge)
    assert converged and gain > 0
    mu = size_factors * np.exp(design @ beta)
    gradient = design.T @ ((counts - mu) / (1 + 1.5 * mu)) - ridge * beta
    assert np.abs(gradient).max() <= 1e-4
    near = beta + np.random.default_rng(seed).normal(0, 0.05, len(beta))
    again, converged_again, _ = glm_optim.newton_fit(counts, size_factors, design, 1.5, near, ridge)
    assert converged_again and np.abs(again - beta).max() <= 1e-5
    optimised, _ = glm_optim.optim_fit(counts, size_factors, design, 1.5, start)
    _, _, climb = glm_optim.newton_fit(counts, size_factors, design, 1.5, optimised, ridge)
    assert climb > glm_optim.CLEARLY_HIGHER  # the R-rule optimiser alone stops well below it (21-156 here)
    # the engine's IRLS diverges on this gene and its fallback ends at the maximum
    q, r = np.linalg.qr(design)
    fallback = []
    original = nbinom._fallback_fit
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nbinom, "_fallback_fit", lambda *args: fallback.append(1) or original(*args))
        fitted, _, _, converged_fit = nbinom.VectorizedInference._irls_block(
            counts[:, None], size_factors, design, outer_rows(design), np.array([1.5]), np.linalg.solve(r, q.T),
            0.5, 1e-8, -30, 30, "L-BFGS-B", 100)
    assert fallback and converged_fit[0] and np.abs(fitted[0] - beta).max() <= 1e-5
