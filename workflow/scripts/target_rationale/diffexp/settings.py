"""What the differential-expression jobs read of the config's ``diffexp:`` section.

Each job gets only its own keys (``core.schema.pick``), so changing a test setting reruns the tests but not the
fits. Defaults come from ``workflow/schemas/config.schema.yaml`` (``from_config`` fills what is missing).
"""

from __future__ import annotations

from dataclasses import dataclass

from target_rationale.core.schema import ConfigSettings


@dataclass(frozen=True)
class FitSettings(ConfigSettings):
    """What rule ``fit`` reads: the pre-filter, LFC shrinkage (it decides the reference level), Cook's
    refitting, the size-factor estimator and the inference engine."""

    SECTION = "diffexp"

    min_count: int
    min_samples: int | None
    shrink: bool
    cooks_refit: bool
    size_factors: str
    engine: str


@dataclass(frozen=True)
class WaldSettings(ConfigSettings):
    """What rule ``contrast`` reads: the significance level (and independent-filtering target), the LFC
    threshold of the test, independent filtering, shrinkage and the inference engine."""

    SECTION = "diffexp"

    alpha: float
    lfc_threshold: float
    independent_filter: bool
    shrink: bool
    engine: str
