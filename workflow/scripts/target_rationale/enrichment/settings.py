"""What rule ``enrich`` reads of the config's ``enrichment:`` section (defaults from the config schema).

The significance thresholds (``ora_fdr``, ``gsea_fdr``) and the terms drawn as curves are not here: they decide
calls and figures, not the enrichment tables, so changing them reruns the comparison, plots and targets only.
"""

from __future__ import annotations

from dataclasses import dataclass

from target_rationale.core.schema import ConfigSettings


@dataclass(frozen=True)
class EnrichSettings(ConfigSettings):
    """Gene-set size limits, the ORA fold-change floor and the GSEA engine's settings."""

    SECTION = "enrichment"

    min_size: int
    max_size: int
    ora_min_lfc: float
    gsea_engine: str
    gsea_nperm: int
    gsea_eps: float
