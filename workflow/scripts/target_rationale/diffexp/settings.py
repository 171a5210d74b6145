"""What the differential-expression jobs read of the config's ``diffexp:`` section.

Each job gets only its own keys (``core.schema.pick``), so changing a test setting reruns the tests but not the
fits. Defaults come from ``workflow/schemas/config.schema.yaml`` (``from_config`` fills what is missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from target_rationale.core.schema import fields_of, with_defaults


@dataclass(frozen=True)
class FitSettings:
    """What rule ``fit`` reads: the pre-filter, LFC shrinkage (it decides the reference level), Cook's
    refitting, the size-factor estimator and the inference engine."""

    min_count: int
    min_samples: int | None
    shrink: bool
    cooks_refit: bool
    size_factors: str
    engine: str

    @classmethod
    def from_config(cls, section: Mapping | None = None) -> FitSettings:
        """From a (partial) ``diffexp:`` section, the schema's defaults filling the rest."""
        complete = with_defaults(section, "config", "diffexp")
        return cls(**{key: complete[key] for key in fields_of(cls)})


@dataclass(frozen=True)
class WaldSettings:
    """What rule ``contrast`` reads: the significance level (and independent-filtering target), the LFC
    threshold of the test, independent filtering, shrinkage and the inference engine."""

    alpha: float
    lfc_threshold: float
    independent_filter: bool
    shrink: bool
    engine: str

    @classmethod
    def from_config(cls, section: Mapping | None = None) -> WaldSettings:
        """From a (partial) ``diffexp:`` section, the schema's defaults filling the rest."""
        complete = with_defaults(section, "config", "diffexp")
        return cls(**{key: complete[key] for key in fields_of(cls)})
