"""Intervals the benchmarks report with their rates."""

from __future__ import annotations

import numpy as np


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """95% Wilson score interval of the share ``k / n`` (NaN, NaN when ``n`` is 0)."""
    if n == 0:
        return [float("nan"), float("nan")]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]
