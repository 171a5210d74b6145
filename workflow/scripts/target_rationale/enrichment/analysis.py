"""Enrichment per contrast and collection (over-representation and preranked GSEA), and the comparison of
contrasts: which terms are shared by the compared contrasts and which are unique to one.

ORA uses gseapy's ``enrich``; GSEA the built-in engine (:mod:`.gsea`) or gseapy's. Gene sets are always handed
to gseapy as a dict (``as_gseapy_dict``): a string would make gseapy query Enrichr. Each call tests one
collection, so every FDR is over one collection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.core.stats import benjamini_hochberg
from target_rationale.enrichment.settings import EnrichSettings
from target_rationale.genesets.gmt import GeneSet, as_gseapy_dict, restrict

ORA_COLUMNS = ["term_id", "term_name", "overlap", "set_size", "pvalue", "fdr", "genes", "odds_ratio"]
GSEA_COLUMNS = ["term_id", "term_name", "size", "es", "nes", "pvalue", "log2err", "fdr", "leading_edge"]


def _lfc(table: pd.DataFrame) -> pd.Series:
    """The fold change used for thresholds: shrunken when available (less noisy for low counts)."""
    return table["log2FoldChange_shrunk"] if "log2FoldChange_shrunk" in table else table["log2FoldChange"]


def background_genes(table: pd.DataFrame, exclude: set[str] = frozenset()) -> pd.DataFrame:
    """Genes of a DE table that could be called: a non-missing ``padj``, one row per symbol.

    Independently filtered genes (``padj`` empty) could never be significant, so they are not part of the
    background. Where several ids share a symbol, the row with the largest ``|stat|`` is kept.
    ``exclude`` symbols (e.g. the liver signature) are dropped.
    """
    kept = table[table["padj"].notna() & table["stat"].notna() & ~table["symbol"].isin(exclude)]
    return _one_row_per_symbol(kept)


def _one_row_per_symbol(table: pd.DataFrame) -> pd.DataFrame:
    """Keep, for each symbol, the row with the largest ``|stat|`` (ties broken by gene id)."""
    ordered = table.assign(_abs=table["stat"].abs()).sort_values(["_abs", "gene_id"], ascending=[False, True],
                                                                 kind="mergesort")
    return ordered.drop_duplicates("symbol").drop(columns="_abs")


def ranking(table: pd.DataFrame, exclude: set[str] = frozenset()) -> tuple[pd.Series, int]:
    """The GSEA ranking: Wald statistic per symbol, duplicates resolved by the largest ``|stat|``.

    Returns
    -------
    (pandas.Series, int)
        Statistic indexed by symbol, sorted decreasing; and how many rows were dropped as duplicate symbols.
    """
    usable = table[table["stat"].notna() & ~table["symbol"].isin(exclude)]
    unique = _one_row_per_symbol(usable)
    series = pd.Series(unique["stat"].to_numpy(), index=unique["symbol"].to_numpy(), name="stat")
    series = series.sort_values(ascending=False, kind="mergesort")
    return series, len(usable) - len(unique)


def ora(genes: list[str], background: list[str], sets: dict[str, GeneSet], min_size: int,
        max_size: int) -> pd.DataFrame:
    """Over-representation of ``genes`` among ``background``: hypergeometric test with gseapy's ``enrich``.

    The FDR is over every set tested, i.e. every set whose size within the background is in
    ``[min_size, max_size]``, including sets with no overlap (p = 1). gseapy alone corrects only over the sets
    with at least one overlapping gene, which understates the FDR.

    Returns
    -------
    pandas.DataFrame
        ``term_id, term_name, overlap, set_size, pvalue, fdr, genes, odds_ratio``, sorted by p-value.
    """
    universe = set(background)
    tested = restrict(sets, universe, min_size, max_size)
    query = sorted(set(genes) & universe)
    frame = pd.DataFrame({"term_id": list(tested), "term_name": [s.term_name for s in tested.values()],
                          "overlap": 0, "set_size": [len(s.genes) for s in tested.values()], "pvalue": 1.0,
                          "genes": "", "odds_ratio": 0.0})
    # gseapy returns a list, not a table, when no query gene is in any set: every set then keeps p = 1
    if query and tested and any(set(query) & set(s.genes) for s in tested.values()):
        import gseapy  # here, not at the top: the plot jobs that import this module never need it

        result = gseapy.enrich(gene_list=query, gene_sets=as_gseapy_dict(tested), background=sorted(universe),
                               outdir=None, cutoff=1.0, no_plot=True, verbose=False).results
        result = result.set_index("Term")
        hit = frame["term_id"].isin(result.index)
        rows = result.loc[frame.loc[hit, "term_id"]]
        frame.loc[hit, "overlap"] = rows["Overlap"].str.split("/").str[0].astype(int).to_numpy()
        frame.loc[hit, "pvalue"] = rows["P-value"].to_numpy(dtype=float)
        frame.loc[hit, "genes"] = rows["Genes"].to_numpy()
        frame.loc[hit, "odds_ratio"] = rows["Odds Ratio"].to_numpy(dtype=float)
    frame["fdr"] = benjamini_hochberg(frame["pvalue"].to_numpy())
    frame["genes"] = [";".join(sorted(g.split(";"))) if g else "" for g in frame["genes"]]
    return frame[ORA_COLUMNS].sort_values(["pvalue", "term_id"], kind="mergesort", ignore_index=True)


def ora_up_down(table: pd.DataFrame, sets: dict[str, GeneSet], alpha: float, settings: EnrichSettings,
                exclude: set[str] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """ORA of the up- and of the down-regulated genes of one contrast against its tested genes.

    Up: ``padj < alpha`` and LFC >= ``ora_min_lfc``; down: ``padj < alpha`` and LFC <= -``ora_min_lfc``.
    """
    tested = background_genes(table, exclude)
    lfc, significant = _lfc(tested), tested["padj"] < alpha
    up = tested.loc[significant & (lfc >= settings.ora_min_lfc), "symbol"].tolist()
    down = tested.loc[significant & (lfc <= -settings.ora_min_lfc), "symbol"].tolist()
    background = tested["symbol"].tolist()
    counts = {"background": len(background), "up": len(up), "down": len(down)}
    return (ora(up, background, sets, settings.min_size, settings.max_size),
            ora(down, background, sets, settings.min_size, settings.max_size), counts)


def gsea(table: pd.DataFrame, sets: dict[str, GeneSet], settings: EnrichSettings, seed: int, threads: int,
         exclude: set[str] = frozenset()) -> tuple[pd.DataFrame, dict[str, int]]:
    """Preranked GSEA of one contrast on the Wald statistic.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``term_id, term_name, size, es, nes, pvalue, log2err, fdr, leading_edge`` sorted by p-value (``log2err``:
        fgsea's expected SD of log2 p; NaN from gseapy, which does not report it); and counts
        (genes ranked, duplicate symbols dropped, excluded genes).
    """
    ranked, duplicates = ranking(table, exclude)
    usable = restrict(sets, set(ranked.index), settings.min_size, settings.max_size)
    if settings.gsea_engine == "gseapy":
        result = _gseapy_prerank(ranked, usable, settings, seed, threads)
    else:
        from target_rationale.engines.gsea import prerank  # numba: only the jobs that rank

        result = prerank(ranked, as_gseapy_dict(usable), min_size=settings.min_size, max_size=settings.max_size,
                         nperm=settings.gsea_nperm, seed=seed, threads=threads, eps=settings.gsea_eps)
    result.insert(1, "term_name", [sets[t].term_name for t in result["term_id"]])
    counts = {"ranked": len(ranked), "duplicate_symbols_dropped": duplicates,
              "excluded": int(table["symbol"].isin(exclude).sum()), "sets_tested": len(result)}
    return result[GSEA_COLUMNS].sort_values(["pvalue", "term_id"], kind="mergesort", ignore_index=True), counts


def _gseapy_prerank(ranked: pd.Series, sets: dict[str, GeneSet], settings: EnrichSettings, seed: int,
                    threads: int) -> pd.DataFrame:
    """gseapy's own multilevel prerank (slow and memory-hungry on large collections; the reference engine)."""
    import gseapy

    result = gseapy.prerank(rnk=ranked.to_frame(), gene_sets=as_gseapy_dict(sets), min_size=settings.min_size,
                            max_size=settings.max_size, permutation_num=settings.gsea_nperm, method="multilevel",
                            seed=seed, threads=threads, outdir=None, no_plot=True, verbose=False).res2d
    sizes = result["Tag %"].str.split("/").str[1].astype(int)
    return pd.DataFrame({"term_id": result["Term"], "size": sizes, "es": result["ES"].astype(float),
                         "nes": result["NES"].astype(float), "pvalue": result["NOM p-val"].astype(float),
                         "log2err": np.nan,
                         "fdr": benjamini_hochberg(result["NOM p-val"].astype(float).to_numpy()),
                         "leading_edge": result["Lead_genes"]})


def running_sum(ranked: pd.Series, genes: list[str] | tuple[str, ...]) -> np.ndarray:
    """The GSEA running enrichment score along a ranking (weight |stat|, as gseaParam = 1).

    Parameters
    ----------
    ranked : pandas.Series
        Statistic by gene, sorted decreasing.
    genes : sequence of str
        Members of the set (those absent from the ranking are ignored).

    Returns
    -------
    numpy.ndarray
        Running score after each position; its value farthest from zero is the enrichment score.
    """
    hits = ranked.index.isin(list(genes))
    weights = np.abs(ranked.to_numpy(dtype=float)) * hits
    n_hits, n = int(hits.sum()), len(ranked)
    if n_hits == 0 or weights.sum() == 0 or n_hits == n:
        return np.zeros(n)
    step = np.where(hits, weights / weights.sum(), -1.0 / (n - n_hits))
    return np.cumsum(step)


# ---- what the rules call ---------------------------------------------------------------------------------------


def write_enrichment(table: pd.DataFrame, sets: dict[str, GeneSet], alpha: float, settings: EnrichSettings,
                     exclude: set[str], seed: int, threads: int, out: dict[str, str]) -> None:
    """Rule ``enrich``: ORA up / down and GSEA of one contrast x collection, written as three tables."""
    up, down, counts = ora_up_down(table, sets, alpha, settings, exclude)
    LOG.info("ORA: %d up and %d down genes (padj < %g, |LFC| >= %g) against %d tested genes; %d sets tested "
             "(sizes %d-%d within the tested genes); FDR over all of them", counts["up"], counts["down"], alpha,
             settings.ora_min_lfc, counts["background"], len(up), settings.min_size, settings.max_size)
    LOG.info("ORA: smallest FDR %.3g up, %.3g down", up["fdr"].min(), down["fdr"].min())
    LOG.info("GSEA (%s engine): ranking on the Wald statistic ...", settings.gsea_engine)
    result, gsea_counts = gsea(table, sets, settings, seed, threads, exclude)
    LOG.info("GSEA: %d genes ranked (%d duplicate symbols dropped, keeping the largest |stat|; %d excluded as "
             "liver-signature genes); %d sets tested; smallest FDR %.3g", gsea_counts["ranked"],
             gsea_counts["duplicate_symbols_dropped"], gsea_counts["excluded"], gsea_counts["sets_tested"],
             result["fdr"].min())
    write_tsv(up, out["ora_up"])
    write_tsv(down, out["ora_down"])
    write_tsv(result, out["gsea"])
