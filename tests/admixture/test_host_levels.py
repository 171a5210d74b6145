"""The host's levels in this cohort (admixture.host_levels): the per-gene calibration on planted factors, and the
make-up fitted on simulated cohorts whose host is a planted mix of profiles perturbed per gene, with its
tissue-only null twin."""

from __future__ import annotations

import numpy as np
import pytest
from target_rationale.admixture.host_levels import calibrate_host_levels, fit_host_mix, typical_levels


def test_calibration_recovers_planted_host_factors() -> None:
    """Host-only genes whose real host level is 4x, 1x or 0.25x the reference's, one of a cell type the make-up
    misses at 150x, and a tumour-only gene, among 2,000 host genes straying from the reference as a real host does
    (lognormal, sd 0.5); 12 samples, fractions 0.1-0.5, NB noise (dispersion 0.1)."""
    rng = np.random.default_rng(3)
    n, library, background = 12, 2e7, 2000
    f = rng.uniform(0.1, 0.5, n)
    share = np.r_[[1e-4] * 4, 1e-9, np.full(background, 1e-5)]
    prior = np.outer(f, share)  # the reference's host shares per sample
    factor = np.r_[4.0, 1.0, 0.25, 150.0, 1.0, rng.lognormal(0.0, 0.5, background)]
    tumour = np.zeros(len(share))
    tumour[4] = 1e-4
    mean = library * ((1 - f)[:, None] * tumour[None, :] + prior * factor[None, :])
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    got, sd, fitted = calibrate_host_levels(counts, np.full(n, library), f, prior, 0.5)
    assert fitted
    assert got[:3] == pytest.approx(factor[:3], rel=0.3)
    # the missed cell type's gene: a normal prior of sd 0.5 alone held it below e^3 = 20x
    assert got[3] == pytest.approx(150.0, rel=0.5)  # 98 (least squares 133, se 28)
    assert (sd[:3] < 0.4).all() and sd[4] > 0.5  # the tumour-only gene keeps the (heavy-tailed) prior
    assert got[4] == pytest.approx(1.0, abs=0.05)
    # the background: shrunk towards the truth, not scattered (median error of log k small)
    assert np.median(np.abs(np.log(got[5:] / factor[5:]))) < 0.3
    few, sd_few, fitted_few = calibrate_host_levels(counts[:3], np.full(3, library), f[:3], prior[:3], 0.5)
    assert not fitted_few and (few == 1).all() and (sd_few == 0.5).all()


def test_calibration_stays_off_where_the_host_is_absent() -> None:
    """The null twin: a host configured but absent (fractions 0.0005-0.003, as estimated on tumours without
    liver) and tumour genes varying between samples (NB, dispersion 0.1): nothing is calibrated; without the
    spread guard, the posterior keeps all but a few factors near the reference (the least-squares factors run
    into the hundreds: the tumour's variation passing for host levels)."""
    rng = np.random.default_rng(5)
    n, library, genes = 10, 2e7, 4000
    f = rng.uniform(0.0005, 0.003, n)
    prior = np.outer(f, rng.lognormal(np.log(5e-5), 1.0, genes))
    tumour = rng.lognormal(np.log(5e-5), 1.0, genes)
    mean = library * ((1 - f)[:, None] * tumour[None, :])
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    factor, sd, fitted = calibrate_host_levels(counts, np.full(n, library), f, prior, 0.5)
    assert not fitted and (factor == 1).all() and (sd == 0.5).all()
    # without the guard, the posterior keeps the factors near the reference (flat likelihood), all but a few
    loose, loose_sd, fitted = calibrate_host_levels(counts, np.full(n, library), f, prior, 0.5, min_spread=0.0)
    assert fitted and np.quantile(np.abs(np.log(loose)), 0.98) < 0.5 and np.median(loose_sd) > 0.45


def _profiles(rng: np.random.Generator, n_genes: int) -> tuple[np.ndarray, np.ndarray]:
    """Four random reference profiles (lognormal, 40% of genes off in each) and a random tumour, as shares."""
    components = rng.lognormal(0.0, 2.0, (4, n_genes)) * (rng.random((4, n_genes)) < 0.6)
    components /= components.sum(axis=1, keepdims=True)
    tumour = rng.lognormal(0.0, 2.0, n_genes)
    return components, tumour / tumour.sum()


def _mixed_cohort(host_weights: list[float], seed: int, n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                              np.ndarray]:
    """Counts of ``n`` samples, each ``(1 - f) x tumour + f x host``, the host a mix of four random profiles
    (``host_weights``) times a per-gene lognormal perturbation (sd 0.5); NB noise (dispersion 0.1)."""
    rng = np.random.default_rng(seed)
    n_genes = 3000
    components, tumour = _profiles(rng, n_genes)
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


def test_refits_keep_the_mix_without_choosing_it_again() -> None:
    """``select=False`` (the make-up's bootstrap refits): the mix is fitted and returned even where Akaike's
    criterion would keep the tissue profile (a host that is the tissue alone: the mix found is that tissue, within
    0.06); where the mix wins anyway, both give the same weights."""
    counts, library, f, components = _mixed_cohort([1.0, 0.0, 0.0, 0.0], seed=5)
    chosen = fit_host_mix(counts, library, f, components)
    kept = fit_host_mix(counts, library, f, components, select=False)
    assert not chosen[2] and kept[2] and np.isfinite(kept[1])
    assert kept[0] == pytest.approx([1.0, 0.0, 0.0, 0.0], abs=0.06)
    counts, library, f, components = _mixed_cohort([0.2, 0.5, 0.25, 0.05], seed=5)
    assert np.array_equal(fit_host_mix(counts, library, f, components)[0],
                          fit_host_mix(counts, library, f, components, select=False)[0])


def test_calibration_fits_against_the_typical_level_not_each_samples_estimate() -> None:
    """Host-only genes whose real level is 3x the reference's, in samples whose expected levels carry their own
    estimated cell-mix deviations (lognormal, sd 0.6 per sample and gene, unrelated to the truth): fitted
    against those noisy levels the factor is pulled towards 0 (errors in variables; the calibration fitted that
    way gave medians of 1.04 for the 3x genes and 0.50 for the 1x ones); fitted against the typical level it is
    what clean levels give (2.44 and 0.96: the prior's shrinkage of a 3x factor), and the factor of genes at the
    reference's level stays 1 (the null twin)."""
    rng = np.random.default_rng(11)
    n, library, genes = 12, 2e7, 400
    f = rng.uniform(0.1, 0.5, n)
    share = np.full(genes, 2e-5)
    factor = np.r_[np.full(genes // 2, 3.0), np.ones(genes // 2)]
    mean = library * f[:, None] * share[None, :] * factor[None, :]
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    noisy = np.outer(f, share) * rng.lognormal(0.0, 0.6, (n, genes))
    got, sd, fitted = calibrate_host_levels(counts, np.full(n, library), f, noisy, 0.5)
    assert fitted
    assert np.median(got[: genes // 2]) == pytest.approx(2.44, abs=0.15)  # 2.39
    assert np.median(got[genes // 2:]) == pytest.approx(1.0, abs=0.1)  # 0.95
    typical = typical_levels(noisy, f)
    assert typical / f[:, None] == pytest.approx(np.tile(np.median(noisy / f[:, None], axis=0), (n, 1)))
    # against each sample's own noisy level, least squares alone attenuates the 3x genes (median 1.3)
    a, b, y = (1 - f)[:, None], noisy, counts / library
    saa, sab, sbb = (a ** 2).sum(), (a * b).sum(axis=0), (b ** 2).sum(axis=0)
    k = (saa * (b * y).sum(axis=0) - sab * (a * y).sum(axis=0)) / (saa * sbb - sab ** 2)
    assert np.median(k[: genes // 2]) < 2.0


def _drifting_cohort(drift: float, seed: int = 8, n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray, np.ndarray]:
    """Like :func:`_mixed_cohort`, but each sample's share of the host's minor profile (the third) is
    ``0.12 - drift x (f - mean f)`` plus noise (sd 0.03; the main profile, the second, takes the rest): with
    ``drift`` 0.4 a sample with more host tissue has fewer minor cells (correlation about -0.85), as a few
    biopsies can by chance. Also returns the minor profile's per-sample shares."""
    rng = np.random.default_rng(seed)
    n_genes = 3000
    components, tumour = _profiles(rng, n_genes)
    f = np.linspace(0.1, 0.5, n)
    minor = np.clip(0.12 - drift * (f - f.mean()) + rng.normal(0.0, 0.03, n), 0.01, None)
    weights = np.column_stack([np.full(n, 0.2), 0.75 - minor, minor, np.full(n, 0.05)])
    host = (weights @ components) * rng.lognormal(0.0, 0.5, n_genes)[None, :]
    host /= host.sum(axis=1, keepdims=True)
    library = np.full(n, 2e7)
    mean = library[:, None] * ((1 - f)[:, None] * tumour[None, :] + f[:, None] * host)
    counts = rng.negative_binomial(10, 10 / (10 + mean)).astype(float)
    return counts, library, f, components, minor


@pytest.mark.parametrize("drift", [0.4, 0.0], ids=["minor-cells-fall-with-f", "steady-mix"])
def test_host_mix_reads_the_typical_mix_given_the_samples_cell_mix_deviations(drift: float) -> None:
    """Planted: the host's minor cells fall as its fraction rises (correlation about -0.85 over 10 samples). The
    line in f alone reads their weight at a quarter of their typical share (the slope of ``f x share(f)``);
    with each sample's deviation from the typical share as a column (measured with 10% noise) the weight comes
    back to within 0.025 of it. Null twin: a steady mix (its share unrelated to f): the deviation column moves
    no weight by more than 0.02."""
    counts, library, f, components, minor = _drifting_cohort(drift)
    typical = float(np.median(minor))
    noise = np.random.default_rng(1).normal(1.0, 0.1, len(f))
    deviation = (f * minor * noise - f * typical)[:, None]
    plain, _, _ = fit_host_mix(counts, library, f, components)
    given, _, fitted = fit_host_mix(counts, library, f, components, deviations=deviation)
    assert fitted
    assert given[2] == pytest.approx(typical, abs=0.025)
    if drift:
        assert plain[2] < typical / 3  # the line alone misses the minor cells
    else:
        assert plain[2] == pytest.approx(typical, abs=0.025)
        assert np.abs(given - plain).max() < 0.02
    # a line that would extrapolate too far with the extra column is fitted without it (sd at f = 1: 1.8 times
    # one sample's noise alone; with the column 2.0 for the steady mix, 3.0 when the minor cells fall with f)
    capped, _, _ = fit_host_mix(counts, library, f, components, max_extrapolation=1.9, deviations=deviation)
    assert capped.tolist() == plain.tolist() != given.tolist()
