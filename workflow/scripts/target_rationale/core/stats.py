"""Statistics helpers shared by the stages."""

from __future__ import annotations

import numpy as np
from scipy.stats import nct, norm


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
    return float(nct.ppf(confidence, df=n - 1, nc=norm.ppf(content) * np.sqrt(n)) / np.sqrt(n))
