"""The comparison of contrasts: which terms are shared by the compared contrasts and which are unique to one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG


def classify(fdr: pd.DataFrame, nes: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Where each term is significant among the compared contrasts.

    Parameters
    ----------
    fdr, nes : pandas.DataFrame
        Terms x compared contrasts (missing = not tested, counted as not significant).
    threshold : float
        FDR below which a term is significant in a contrast.

    Returns
    -------
    pandas.DataFrame
        ``class``: ``shared`` (significant in every compared contrast), ``unique:<contrast>`` (in exactly one),
        ``partial:<a>+<b>`` (in several but not all), ``none``; ``direction``: ``up`` / ``down`` when every
        significant NES has that sign, ``mixed`` otherwise, empty for ``none``; ``n_significant``.
    """
    significant = fdr.lt(threshold).fillna(False)
    contrasts = list(fdr.columns)
    classes, directions = [], []
    for term, row in significant.iterrows():
        hits = [c for c in contrasts if row[c]]
        if not hits:
            classes.append("none")
        elif len(hits) == len(contrasts) and len(contrasts) > 1:
            classes.append("shared")
        elif len(hits) == 1:
            classes.append(f"unique:{hits[0]}")
        else:
            classes.append("partial:" + "+".join(hits))
        signs = {np.sign(nes.loc[term, c]) for c in hits}
        directions.append("" if not hits else "up" if signs == {1.0} else "down" if signs == {-1.0} else "mixed")
    return pd.DataFrame({"class": classes, "direction": directions,
                         "n_significant": significant.sum(axis=1).astype(int).to_numpy()}, index=fdr.index)


def compare_contrasts(gsea_tables: dict[str, pd.DataFrame], ora_tables: dict[str, dict[str, pd.DataFrame]],
                      compared: list[str], fdr_threshold: float) -> pd.DataFrame:
    """One row per term: NES and FDR of every contrast, ORA FDRs, and the class among ``compared`` contrasts.

    Parameters
    ----------
    gsea_tables : dict
        ``{contrast: GSEA table}`` for every contrast of the collection.
    ora_tables : dict
        ``{contrast: {"up": table, "down": table}}``.
    compared : list of str
        Contrasts whose significance decides the class (e.g. the tumour-vs-normal ones).
    fdr_threshold : float
        GSEA FDR below which a term is significant in a contrast (``enrichment.gsea_fdr``).
    """
    names = {}
    nes, fdr, columns = {}, {}, []
    for contrast, table in gsea_tables.items():
        indexed = table.set_index("term_id")
        names.update(indexed["term_name"].to_dict())
        nes[contrast], fdr[contrast] = indexed["nes"], indexed["fdr"]
    nes_frame, fdr_frame = pd.DataFrame(nes), pd.DataFrame(fdr)
    for contrast in gsea_tables:
        columns += [nes_frame[contrast].rename(f"nes_{contrast}"), fdr_frame[contrast].rename(f"fdr_{contrast}")]
        for direction in ("up", "down"):
            ora_table = ora_tables.get(contrast, {}).get(direction)
            if ora_table is not None:
                indexed = ora_table.set_index("term_id")
                names.update(indexed["term_name"].to_dict())
                columns.append(indexed["fdr"].rename(f"ora_{direction}_fdr_{contrast}"))
    table = pd.concat(columns, axis=1)
    table.index.name = "term_id"
    classes = classify(fdr_frame.reindex(table.index)[compared], nes_frame.reindex(table.index)[compared],
                       fdr_threshold)
    table = pd.concat([classes, table], axis=1)
    table.insert(0, "term_name", [names.get(t, t) for t in table.index])
    best = fdr_frame.reindex(table.index)[compared].min(axis=1)
    table = table.assign(_best=best).sort_values(["n_significant", "_best"], ascending=[False, True],
                                                 kind="mergesort").drop(columns="_best")
    LOG.info("comparison over %s: %s", ", ".join(compared),
             ", ".join(f"{k} {v}" for k, v in table["class"].value_counts().items()))
    return table.reset_index()


def write_comparison(gsea_tables: dict[str, pd.DataFrame], ora_tables: dict[str, dict[str, pd.DataFrame]],
                     compared: list[str], fdr_threshold: float, out_table: str) -> pd.DataFrame:
    """Rule ``compare_contrasts``: the comparison table (its heatmap is drawn by :mod:`.plots`)."""
    comparison = compare_contrasts(gsea_tables, ora_tables, compared, fdr_threshold)
    write_tsv(comparison, out_table)
    return comparison
