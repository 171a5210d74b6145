"""Residual sums of squares downdated for refits without some samples (``engines.downdate``), against the refit
done directly (:func:`~target_rationale.engines.rotation.residual_variances` on the kept samples)."""

from __future__ import annotations

import numpy as np
import pytest
from target_rationale.engines.downdate import Residuals
from target_rationale.engines.rotation import residual_variances


def refit_design(patient: np.ndarray, site: np.ndarray) -> np.ndarray:
    """A ``~ patient + site`` design (treatment coding) of these samples; built afresh on fewer samples, a
    patient gone takes its column with it."""
    levels = list(dict.fromkeys(patient))
    columns = [np.ones(len(patient))] + [(patient == p).astype(float) for p in levels[1:]]
    columns += [(site == s).astype(float) for s in sorted(set(site))[1:]]
    return np.column_stack(columns)


def paired(patients: int, sites: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full design of ``patients`` x ``sites`` samples, the samples' patients and sites."""
    patient, site = np.repeat(np.arange(patients), sites), np.tile(np.arange(sites), patients)
    return refit_design(patient, site), patient, site


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    """Samples x genes: 8 patients x 3 sites, 300 genes on a log scale with patient effects; gene 7 constant."""
    rng = np.random.default_rng(3)
    base = rng.normal(8, 2, 300)
    patient_effect = rng.normal(0, 0.5, (8, 300))
    y = base + np.repeat(patient_effect, 3, axis=0) + rng.normal(0, 0.4, (24, 300))
    y[:, 7] = 5.0
    return y


@pytest.mark.parametrize("left_out", [[3, 4, 5], [0, 1, 2], [4], [22, 23], []])
def test_a_downdated_fit_is_the_refit_without_the_samples(y: np.ndarray, left_out: list[int]) -> None:
    """Leaving out a whole patient (its column goes: 20 - 7 - 2 = 11 residual df), the reference patient (the
    intercept's level changes), one sample (the patient keeps its column), two of a patient's three samples or
    none (a patient without samples in the contrast: the full fit): the downdated sums of squares over the kept
    samples' residual df are the refit's variances."""
    design, patient, site = paired(8)
    kept = np.setdiff1d(np.arange(24), left_out)
    refit = refit_design(patient[kept], site[kept])
    rss = Residuals.of(y, design).without(left_out, refit)
    assert rss is not None
    direct = residual_variances(y[kept].T, refit)
    np.testing.assert_allclose(rss / (len(kept) - refit.shape[1]), direct, rtol=1e-9, atol=1e-20)
    assert rss[7] == pytest.approx(0.0, abs=1e-20)


def test_a_subset_of_rows_is_fitted_as_its_own_cohort(y: np.ndarray) -> None:
    """``samples`` picks and orders the rows of ``y`` the design describes."""
    design, _, _ = paired(4)
    rows = np.arange(24)[::-1][:12]
    np.testing.assert_allclose(Residuals.of(y, design, rows).rss / (12 - 6),
                               residual_variances(y[rows].T, design), rtol=1e-10)


def test_a_design_that_spans_something_else_is_not_downdated(y: np.ndarray) -> None:
    """The formula holds only when the refit's design spans what the full design spans over the kept samples: a
    covariate the full design lacks, or a coefficient dropped that the kept samples still identify, gives None
    (the caller then fits directly)."""
    design, patient, site = paired(8)
    full = Residuals.of(y, design)
    kept = np.setdiff1d(np.arange(24), [3, 4, 5])
    refit = refit_design(patient[kept], site[kept])
    extra = np.column_stack([refit[:, :-1], np.random.default_rng(0).normal(size=len(kept))])
    assert full.without([3, 4, 5], extra) is None  # as many columns, another span
    assert full.without([3, 4, 5], refit[:, :-1]) is None  # one site coefficient missing
    assert full.without([3, 4, 5], refit[:-1]) is None  # rows that are not the kept samples
