"""The host's levels in this cohort (admixture.host_levels): the per-gene calibration on planted factors, and the
make-up fitted on simulated cohorts whose host is a planted mix of profiles perturbed per gene, with its
tissue-only null twin."""

from __future__ import annotations

import numpy as np
import pytest
from target_rationale.admixture.host_levels import calibrate_host_levels, fit_host_mix


def test_calibration_recovers_planted_host_factors() -> None:
    """Host-only genes whose real host level is 4x, 1x or 0.25x the reference's, a tumour-only gene, and two
    genes the tumour makes too whose host level is 1x or 0.05x the reference's (a host that barely makes a gene
    the reference says it does: the fit lands near zero, which must pull the level down, not be ignored); 12
    samples, fractions 0.1-0.5, NB noise (dispersion 0.1)."""
    rng = np.random.default_rng(3)
    n, library = 12, 2e7
    f = rng.uniform(0.1, 0.5, n)
    prior = np.outer(f, [1e-4, 1e-4, 1e-4, 1e-9, 1e-4, 1e-4])  # the reference's host shares per sample
    factor = np.array([4.0, 1.0, 0.25, 1.0, 1.0, 0.05])
    tumour = np.array([0.0, 0.0, 0.0, 1e-4, 2e-5, 2e-5])
    mean = library * ((1 - f)[:, None] * tumour[None, :] + prior * factor[None, :])
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    got, sd, fitted = calibrate_host_levels(counts, np.full(n, library), f, prior, 0.5)
    assert fitted
    assert got[:3] == pytest.approx(factor[:3], rel=0.25)
    assert (sd[:3] < 0.4).all()
    # the tumour-only gene: the samples say nothing, so the prior stands (its mean, exp(0.5^2 / 2), and sd)
    assert got[3] == pytest.approx(np.exp(0.125), rel=1e-3) and sd[3] == pytest.approx(0.5, rel=1e-3)
    # the host level the reference has right stays near 1; the one the host barely makes is pulled well down (the
    # old rule, "corrected only where the fit is 2 se above zero", kept 1.0 there: too much host taken out)
    assert got[4] > 0.5 and got[5] < 0.4 and got[5] < got[4] / 2 and sd[5] < 0.5
    few, sd_few, fitted_few = calibrate_host_levels(counts[:3], np.full(3, library), f[:3], prior[:3], 0.5)
    assert not fitted_few and (few == 1).all() and (sd_few == 0.5).all()


def test_calibration_of_genes_the_reference_lacks() -> None:
    """A gene the reference lacks (prior: the floor level) that the host makes at 1e-4 of its reads gets the level
    the samples show (a factor of 1e3 on the floor: no lognormal scatter around the reference can reach it); one
    the host does not make keeps the floor; a gene the reference has, at the same floor-like prior but not marked
    lacking, cannot be raised that far."""
    rng = np.random.default_rng(5)
    n, library = 12, 2e7
    f = rng.uniform(0.1, 0.5, n)
    prior = np.outer(f, [1e-7, 1e-7, 1e-7])
    host = np.array([1e-4, 0.0, 1e-4])
    tumour = np.array([1e-5, 1e-5, 1e-5])
    mean = library * ((1 - f)[:, None] * tumour[None, :] + f[:, None] * host[None, :])
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    lacking = np.array([True, True, False])
    got, sd, fitted = calibrate_host_levels(counts, np.full(n, library), f, prior, 0.5, lacking=lacking)
    assert fitted
    assert got[0] == pytest.approx(1e3, rel=0.25) and sd[0] < 0.25
    assert got[1] == 1.0 and sd[1] == 0.5
    assert got[2] < 10  # bounded by the prior's scatter (e^(4 x 0.5) at most)


def _mixed_cohort(host_weights: list[float], seed: int, n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                              np.ndarray]:
    """Counts of ``n`` samples, each ``(1 - f) x tumour + f x host``, the host a mix of four random profiles
    (``host_weights``) times a per-gene lognormal perturbation (sd 0.5); NB noise (dispersion 0.1)."""
    rng = np.random.default_rng(seed)
    n_genes = 3000
    components = rng.lognormal(0.0, 2.0, (4, n_genes)) * (rng.random((4, n_genes)) < 0.6)
    components /= components.sum(axis=1, keepdims=True)
    tumour = rng.lognormal(0.0, 2.0, n_genes)
    tumour /= tumour.sum()
    host = np.asarray(host_weights) @ components * rng.lognormal(0.0, 0.5, n_genes)
    host /= host.sum()
    f = rng.uniform(0.1, 0.5, n)
    library = np.full(n, 2e7)
    mean = library[:, None] * ((1 - f)[:, None] * tumour[None, :] + f[:, None] * host[None, :])
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    return counts, library, f, components


@pytest.mark.parametrize("truth", [[0.2, 0.5, 0.25, 0.05], [1.0, 0.0, 0.0, 0.0]], ids=["mixed", "tissue-only"])
def test_host_mix_recovers_planted_make_up(truth: list[float]) -> None:
    """Planted: a host that is a mix of four profiles, perturbed per gene (lognormal sd 0.5), in 10 samples; its
    weights come back within 0.06, and its spread around the mix. Null twin: a host that is the first profile
    (the tissue) alone keeps it: the fitted mix does not beat it."""
    counts, library, f, components = _mixed_cohort(truth, seed=5)
    weights, spread, fitted = fit_host_mix(counts, library, f, components)
    assert weights == pytest.approx(truth, abs=0.06)
    if truth[0] < 1:
        assert fitted and spread == pytest.approx(0.53, abs=0.12)  # lognormal sd 0.5: sqrt(e^0.25 - 1)
    else:  # a mix does not beat the tissue profile it is
        assert not fitted and np.isnan(spread)
    few, spread_few, fitted_few = fit_host_mix(counts[:3], library[:3], f[:3], components)
    assert not fitted_few and few.tolist() == [1.0, 0.0, 0.0, 0.0] and np.isnan(spread_few)


# ---- a simulated paired cohort: primaries and liver metastases that differ only by host tissue ----------------
