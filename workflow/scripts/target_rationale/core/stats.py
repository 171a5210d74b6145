"""Statistics helpers shared by the stages.

The distribution functions below are scipy.stats' own numbers (``norm.sf``, ``norm.pdf``, ``t.cdf``, ``t.sf``,
``chi2.ppf`` with location 0 and scale 1 compute exactly these special functions) without importing
``scipy.stats``, which costs about a second of every job's start (issue 19; ``benchmarks/job_imports.py``).
``tests/core/test_stats.py`` checks them equal to scipy.stats bit for bit.
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: ``sqrt(2 pi)``, as scipy.stats' normal density divides by it.
_SQRT_2PI = np.sqrt(2 * np.pi)


def normal_sf(x: np.ndarray | float) -> np.ndarray:
    """``scipy.stats.norm.sf(x)``: the standard normal upper tail."""
    return special.ndtr(-np.asarray(x, dtype=float))


def normal_pdf(x: np.ndarray | float) -> np.ndarray:
    """``scipy.stats.norm.pdf(x)``: the standard normal density."""
    x = np.asarray(x, dtype=float)
    return np.exp(-x ** 2 / 2.0) / _SQRT_2PI


def normal_logpdf(x: np.ndarray | float, sd: float) -> np.ndarray:
    """``scipy.stats.norm.logpdf(x, 0, sd)`` for ``sd > 0``: the normal log-density, computed as scipy computes it."""
    z = np.asarray((x - 0.0) / sd, dtype=float)
    return (-z ** 2 / 2.0 - np.log(_SQRT_2PI)) - np.log(sd)


def student_cdf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """``scipy.stats.t.cdf(x, df)``: Student's t distribution function."""
    return special.stdtr(df, np.asarray(x, dtype=float))


def student_sf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """``scipy.stats.t.sf(x, df)``: Student's t upper tail."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


def chi2_ppf(q: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """``scipy.stats.chi2.ppf(q, df)`` for ``0 < q < 1``: the chi-squared quantile."""
    return 2 * special.gammaincinv(np.asarray(df, dtype=float) / 2, q)


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (monotone, capped at 1), in the input order."""
    p = np.asarray(pvalues, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(n)
    result[order] = np.minimum(adjusted, 1.0)
    return result


#: The two-sided 95% normal quantile.
Z95 = 1.959964


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the share ``k / n`` (95% with the default ``z``); NaN, NaN when ``n`` is 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def normal_tolerance_factor(n: int, content: float = 0.95, confidence: float = 0.95) -> float:
    """One-sided normal tolerance factor: with ``n`` samples of a normal population, ``mean + k x sd`` lies above
    at least ``content`` of the population with probability ``confidence`` (``k`` from the noncentral t;
    n = 10, 0.95 / 0.95: 2.911, as in the tables of Natrella 1963 / NIST's handbook 7.2.6.3)."""
    if n < 2:
        return float("nan")
    from scipy.stats import nct, norm  # only the patients stage asks (see the module docstring)

    return float(nct.ppf(confidence, df=n - 1, nc=norm.ppf(content) * np.sqrt(n)) / np.sqrt(n))
