"""Hand-made inputs of the target-axis tests (``tests/targets``): DE, GSEA and ORA tables, gene evidence rows and
targets files. Imported by the test modules beside it (pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

MET, PRIM = "liver_met_vs_normal", "primary_vs_normal"
#: The evidence thresholds the workflow passes (the config schema's defaults: diffexp.alpha, enrichment.gsea_fdr,
#: enrichment.ora_fdr).
THRESHOLDS = {"alpha": 0.05, "gsea_fdr": 0.25, "ora_fdr": 0.05}


def de_table(genes: dict[str, tuple[float, float]], liver: set[str] = frozenset()) -> pd.DataFrame:
    """A DE table from ``{symbol: (log2FoldChange, padj)}``."""
    rows = [{"gene_id": f"ID_{s}", "symbol": s, "baseMean": 100.0, "log2FoldChange": lfc, "lfcSE": 0.2,
             "stat": lfc / 0.2, "pvalue": padj, "padj": padj, "liver_signature": s in liver}
            for s, (lfc, padj) in genes.items()]
    return pd.DataFrame(rows)


def gsea_table(rows: list[tuple[str, float, float, str]]) -> pd.DataFrame:
    """A GSEA table from ``(term_id, nes, fdr, leading_edge)`` rows."""
    return pd.DataFrame([{"term_id": t, "term_name": f"name of {t}", "size": 20, "es": nes / 2, "nes": nes,
                          "pvalue": fdr / 2, "fdr": fdr, "leading_edge": edge} for t, nes, fdr, edge in rows])


def ora_table(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    """An ORA table from ``(term_id, fdr, genes)`` rows."""
    return pd.DataFrame([{"term_id": t, "term_name": t, "overlap": len(g.split(";")), "set_size": 20,
                          "pvalue": fdr / 2, "fdr": fdr, "genes": g, "odds_ratio": 3.0} for t, fdr, g in rows])


def genes_ev(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Hand-made gene evidence of one contrast x axis from ``(symbol, role, direction)`` rows."""
    return pd.DataFrame(rows, columns=["symbol", "role", "direction"]).assign(liver_signature=False, measured=True)


def write_targets(tmp_path: Path, data: dict, name: str = "targets.yaml") -> Path:
    """``data`` written as a targets YAML file in ``tmp_path``."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
