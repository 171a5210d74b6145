"""core.stats' distribution functions are scipy.stats' numbers, bit for bit, without importing scipy.stats."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from scipy import stats
from target_rationale.core.stats import chi2_ppf, normal_pdf, normal_sf, student_cdf, student_sf

X = np.concatenate([np.linspace(-40, 40, 2001), [0.0, -0.0, 1e-300, -1e-300, 8.3, 37.5, 38.5, np.inf, -np.inf,
                                                 np.nan]])
Q = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 999), [1e-300, 0.5, 1 - 1e-16]])


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_normal_functions_equal_scipy_stats() -> None:
    assert same(normal_sf(X), stats.norm.sf(X))
    assert same(normal_pdf(X), stats.norm.pdf(X))
    assert same(normal_sf(1.7), stats.norm.sf(1.7))


@pytest.mark.parametrize("df", [1, 2.5, 7, 30.0, 1e6])
def test_student_functions_equal_scipy_stats(df: float) -> None:
    assert same(student_cdf(X, df), stats.t.cdf(X, df))
    assert same(student_sf(X, df), stats.t.sf(X, df))
    assert same(student_sf(np.abs(X), np.full(len(X), df)), stats.t.sf(np.abs(X), np.full(len(X), df)))


@pytest.mark.parametrize("df", [1, 3, 10.5])
def test_chi2_quantile_equals_scipy_stats(df: float) -> None:
    assert same(chi2_ppf(Q, df), stats.chi2.ppf(Q, df))


def test_statistics_modules_do_not_import_scipy_stats() -> None:
    """What made every enrichment, term-test, admixture and report job import scipy.stats (about a second each)."""
    modules = ("target_rationale.core.stats", "target_rationale.admixture.adjust", "target_rationale.admixture.groups",
               "target_rationale.engines.camera",
               "target_rationale.engines.rotation", "target_rationale.targets.score_stats",
               "target_rationale.enrichment.analysis", "target_rationale.report.html")
    code = ("import sys; sys.path.insert(0, 'workflow/scripts'); " + "; ".join(f"import {m}" for m in modules)
            + "; print(','.join(m for m in ('scipy.stats', 'scipy.optimize') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"imported: {run.stdout.strip()}"
