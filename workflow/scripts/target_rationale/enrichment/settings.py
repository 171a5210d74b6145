"""What rule ``enrich`` reads of the config's ``enrichment:`` section (defaults from the config schema).

The significance thresholds (``ora_fdr``, ``gsea_fdr``) and the terms drawn as curves are not here: they decide
calls and figures, not the enrichment tables, so changing them reruns the comparison, plots and targets only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from target_rationale.core.schema import fields_of, with_defaults


@dataclass(frozen=True)
class EnrichSettings:
    """Gene-set size limits, the ORA fold-change floor and the GSEA engine's settings."""

    min_size: int
    max_size: int
    ora_min_lfc: float
    gsea_engine: str
    gsea_nperm: int
    gsea_eps: float

    @classmethod
    def from_config(cls, section: Mapping | None = None) -> EnrichSettings:
        """From a (partial) ``enrichment:`` section, the schema's defaults filling the rest."""
        complete = with_defaults(section, "config", "enrichment")
        return cls(**{key: complete[key] for key in fields_of(cls)})
