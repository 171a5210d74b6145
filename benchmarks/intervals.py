"""Intervals the benchmarks report with their rates (the workflow's own Wilson interval, as a list for JSON)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "workflow" / "scripts"))

from target_rationale.core.stats import Z95  # noqa: E402
from target_rationale.core.stats import wilson as wilson_interval  # noqa: E402


def wilson(k: int, n: int, z: float = Z95) -> list[float]:
    """95% Wilson score interval of the share ``k / n`` (NaN, NaN when ``n`` is 0)."""
    return list(wilson_interval(k, n, z))
