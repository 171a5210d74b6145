"""Term tests with sample-level error control (rule ``term_tests``): limma's camera per contrast x collection.

Preranked GSEA permutes genes, so a programme whose genes move together from patient to patient (stroma, immune
infiltrate) looks enriched in any split of the samples. camera (:mod:`~target_rationale.engines.camera`) tests
each term against the other genes with a variance inflated by the term's inter-gene correlation, estimated from
the residuals of the contrast's own linear model on the variance-stabilised matrix (admixture-adjusted when
adjustment is on), so the sample, not the gene, is the unit of replication. The comparison of contrasts
(:mod:`.compare`) calls terms from these FDRs; GSEA stays for NES, leading edges and plots.

The genes are those the contrast's DE tested (a finite ``stat``: host-dominated and filtered genes are out), one
per symbol (the most expressed), less the excluded symbols; term sizes are counted within them, as for GSEA.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from target_rationale.cohort.design import Contrast, contrast_design_matrix
from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.core.stats import benjamini_hochberg
from target_rationale.engines.camera import camera
from target_rationale.genesets.gmt import GeneSet, restrict

TERM_COLUMNS = ["term_id", "term_name", "size", "correlation", "direction", "t", "pvalue", "fdr"]


def term_universe(qc: ad.AnnData, de_table: pd.DataFrame, exclude: set[str] = frozenset()) -> pd.Series:
    """``var_names`` of the genes tested, indexed by symbol: DE rows with a finite ``stat``, in ``qc``, symbol
    not excluded; of several ids per symbol the one with the highest mean of the ``vst`` layer."""
    tested = de_table.loc[np.isfinite(pd.to_numeric(de_table["stat"], errors="coerce"))
                          & de_table["symbol"].notna() & ~de_table["symbol"].isin(exclude)]
    tested = tested.loc[tested["gene_id"].isin(qc.var_names)]
    level = pd.Series(np.asarray(qc[:, tested["gene_id"].to_numpy()].layers["vst"]).mean(axis=0),
                      index=tested["gene_id"].to_numpy())
    ordered = tested.assign(_level=level.reindex(tested["gene_id"]).to_numpy()).sort_values(
        ["_level", "gene_id"], ascending=[False, True], kind="mergesort")
    first = ordered.drop_duplicates("symbol")
    return pd.Series(first["gene_id"].to_numpy(), index=first["symbol"].to_numpy(), name="gene_id")


def term_tests(qc: ad.AnnData, sheet: pd.DataFrame, de_table: pd.DataFrame, sets: dict[str, GeneSet],
               contrast: Contrast, min_size: int, max_size: int, exclude: set[str] = frozenset()
               ) -> pd.DataFrame:
    """camera of every term of one collection in one contrast.

    Parameters
    ----------
    qc : anndata.AnnData
        Samples x genes with a ``vst`` layer and ``var['symbol']``.
    sheet : pandas.DataFrame
        Sample sheet indexed by sample.
    de_table : pandas.DataFrame
        The contrast's DE table (``gene_id, symbol, stat``): its tested genes are the universe.
    sets : dict of str to GeneSet
    contrast : Contrast
    min_size, max_size : int
        Term size limits within the universe (``enrichment.min_size`` / ``max_size``).
    exclude : set of str
        Symbols left out (the liver signature when ``diffexp.exclude_liver_genes``).

    Returns
    -------
    pandas.DataFrame
        :data:`TERM_COLUMNS`, sorted by p-value: ``size`` (genes tested), camera's estimated inter-gene
        ``correlation``, ``direction`` (``up`` / ``down``), ``t``, two-sided ``pvalue`` and its
        Benjamini-Hochberg ``fdr`` over the collection.
    """
    universe = term_universe(qc, de_table, exclude)
    kept = restrict(sets, set(universe.index), min_size, max_size)
    samples, design, vector = contrast_design_matrix(sheet, contrast, qc.obs_names)
    genes = universe.to_numpy()
    y = np.asarray(qc[samples, genes].layers["vst"], dtype=float).T
    position = {symbol: i for i, symbol in enumerate(universe.index)}
    index = {term_id: [position[g] for g in gene_set.genes] for term_id, gene_set in kept.items()}
    if not index:
        return pd.DataFrame(columns=TERM_COLUMNS)
    result = camera(y, design.to_numpy(dtype=float), index, contrast=vector)
    table = pd.DataFrame({"term_id": list(index), "term_name": [kept[t].term_name for t in index],
                          "size": result["n_genes"].to_numpy(), "correlation": result["correlation"].to_numpy(),
                          "direction": result["direction"].to_numpy(), "t": result["t"].to_numpy(),
                          "pvalue": result["p_value"].to_numpy()})
    table["fdr"] = benjamini_hochberg(table["pvalue"].to_numpy())
    return table.sort_values(["pvalue", "term_id"], kind="mergesort", ignore_index=True)[TERM_COLUMNS]


def write_term_tests(qc: ad.AnnData, de_table: pd.DataFrame, sets: dict[str, GeneSet], contrast: Contrast,
                     min_size: int, max_size: int, exclude: set[str], out_table: str) -> pd.DataFrame:
    """Rule ``term_tests``: the table of :func:`term_tests`."""
    table = term_tests(qc, qc.obs, de_table, sets, contrast, min_size, max_size, exclude)
    LOG.info("camera %s: %d terms tested; %d at FDR < 0.05 (%d up; a summary: the calls use enrichment.term_fdr); "
             "median inter-gene correlation %.3f",
             contrast.name, len(table), int((table["fdr"] < 0.05).sum()),
             int(((table["fdr"] < 0.05) & (table["direction"] == "up")).sum()),
             float(table["correlation"].median()) if len(table) else float("nan"))
    write_tsv(table, out_table)
    return table
