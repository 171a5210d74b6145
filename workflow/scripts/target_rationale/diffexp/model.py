"""Differential expression with pydeseq2: one fit per design, one Wald test per contrast (QC matrices: :mod:`.qc`).

A fit is shared by every contrast with the same design and sample subset. With LFC shrinkage on, the
reference level of the compared variable is part of the fit too, because pydeseq2's apeGLM-style shrinkage
works on one design coefficient, which must be the contrast (``site[T.liver_metastasis]`` with ``primary`` as
the base level).

pydeseq2 runs with :class:`engines.nbinom.VectorizedInference` (its per-gene fits done for all genes at once; same
estimates, 10-50x faster, see :mod:`engines.nbinom`); ``engine="pydeseq2"`` selects pydeseq2's own routines.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterable
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from formulaic_contrasts import get_factor_storage_and_materializer
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats
from threadpoolctl import threadpool_limits

from target_rationale.admixture.adjust import (
    HOST_COLUMNS,
    HOST_LAYER,
    SPECIFIC_SHARE,
)
from target_rationale.admixture.groups import (
    adjust_wald,
    contrast_hosts,
    specific_genes,
    unadjusted_host_columns,
)
from target_rationale.cohort.design import Contrast, select_samples
from target_rationale.core.io import write_atomic, write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.diffexp.settings import FitSettings, WaldSettings
from target_rationale.engines.independent_filter import FastDeseqStats
from target_rationale.engines.nbinom import FastDeseqDataSet, VectorizedInference

#: Default inference engine for pydeseq2 (see :func:`inference`; config key ``diffexp.engine``): the vectorised
#: one, ~10-50x faster than pydeseq2's own.
ENGINE = "vectorized"

#: Columns of every per-contrast table, in order (``log2FoldChange_shrunk`` follows when shrinkage is on).
RESULT_COLUMNS = ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


def prefilter(counts: pd.DataFrame, min_count: int, min_samples: int) -> pd.Series:
    """Genes kept for testing: at least ``min_count`` reads in at least ``min_samples`` samples.

    Parameters
    ----------
    counts : pandas.DataFrame
        Samples x genes.

    Returns
    -------
    pandas.Series of bool
        Indexed by gene.
    """
    return (counts >= min_count).sum(axis=0) >= min_samples


def smallest_group(sheet: pd.DataFrame, contrasts: Iterable[Contrast]) -> int:
    """Size of the smallest target or reference group among ``contrasts`` (the default ``min_samples``)."""
    return int(min((sheet[c.variable] == level).sum() for c in contrasts for level in (c.target, c.reference)))


def inference(engine: str, n_cpus: int):
    """pydeseq2's inference object: ``"vectorized"`` (:mod:`.nbinom`, the default) or ``"pydeseq2"`` (its own).

    ``n_cpus`` is threads over blocks of genes for the first, joblib worker processes for the second.
    """
    if engine == "vectorized":
        return VectorizedInference(n_cpus=n_cpus)
    if engine == "pydeseq2":
        return DefaultInference(n_cpus=n_cpus)
    raise ValueError(f"unknown DE engine {engine!r}; use 'vectorized' or 'pydeseq2'")


def dataset_class(engine: str):
    """pydeseq2's ``DeseqDataSet``, or with ``engine="vectorized"`` :class:`.nbinom.FastDeseqDataSet`."""
    if engine == "vectorized":
        return FastDeseqDataSet
    return DeseqDataSet


def stats_class(engine: str):
    """pydeseq2's ``DeseqStats``, or with ``engine="vectorized"`` :class:`.independent_filter.FastDeseqStats`."""
    if engine == "vectorized":
        return FastDeseqStats
    return DeseqStats


def fit_model(cohort: ad.AnnData, contrasts: list[Contrast], settings: FitSettings, n_cpus: int,
              engine: str | None = None):
    """Fit one pydeseq2 model for the contrasts that share it.

    Parameters
    ----------
    cohort : anndata.AnnData
        The validated cohort (``X`` raw counts, samples x genes; ``obs`` the sample sheet).
    contrasts : list of Contrast
        Contrasts of this fit (same design and subset; same reference level when shrinking).
    settings : FitSettings
    n_cpus : int
        Threads (or processes, see :func:`inference`) for pydeseq2 (the rule's threads); BLAS is limited to one
        thread.
    engine : str, optional
        See :func:`inference`; default ``settings.engine``.

    Returns
    -------
    pydeseq2.dds.DeseqDataSet
        Fitted (size factors, dispersions, LFCs, Cook's outliers refitted when configured), on the samples of
        the fit and the genes passing the pre-filter; ``uns["prefilter"]`` records the filter.
    """
    engine = engine or settings.engine
    first = contrasts[0]
    sheet = select_samples(cohort.obs, first.samples)
    counts = pd.DataFrame(cohort[sheet.index].X, index=sheet.index, columns=cohort.var_names)
    min_samples = settings.min_samples or smallest_group(sheet, contrasts)
    keep = prefilter(counts, settings.min_count, min_samples)
    LOG.info("fit %s: %d samples; %d of %d genes have >= %d reads in >= %d samples", first.design,
             len(sheet), int(keep.sum()), len(keep), settings.min_count, min_samples)
    metadata = sheet.drop(columns=[c for c in ("library_size", "detected_genes") if c in sheet]).astype(str)
    if settings.shrink:  # make the contrast's reference the base level, so its coefficient is the contrast
        levels = sorted(metadata[first.variable].unique())
        levels.remove(first.reference)
        metadata[first.variable] = pd.Categorical(metadata[first.variable], categories=[first.reference, *levels])
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        dds = dataset_class(engine)(counts=counts.loc[:, keep], metadata=metadata, design=first.design,
                                    refit_cooks=settings.cooks_refit, size_factors_fit_type=settings.size_factors,
                                    inference=inference(engine, n_cpus), quiet=True)
        dds.deseq2()
    dds.uns["prefilter"] = {"min_count": settings.min_count, "min_samples": int(min_samples),
                            "genes_tested": int(keep.sum()), "genes_total": int(len(keep))}
    n_refit = int(dds.var["refitted"].sum()) if "refitted" in dds.var else 0
    LOG.info("fit done: design columns %s; %d genes refitted after Cook's outlier replacement",
             list(dds.obsm["design_matrix"].columns), n_refit)
    return dds


def wald_test(dds, contrast: Contrast, settings: WaldSettings, n_cpus: int, engine: str | None = None
              ) -> pd.DataFrame:
    """Wald test of one contrast on a fitted model, with optional LFC shrinkage (``engine``: see :func:`inference`).

    Returns
    -------
    pandas.DataFrame
        Indexed by gene id: ``baseMean, log2FoldChange, lfcSE, stat, pvalue, padj`` (pydeseq2's, unshrunk;
        ``padj`` after Cook's and independent filtering at ``alpha``) and ``log2FoldChange_shrunk`` when
        shrinking.
    """
    engine = engine or settings.engine
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        stats = stats_class(engine)(dds, contrast=[contrast.variable, contrast.target, contrast.reference],
                                    alpha=settings.alpha, cooks_filter=True,
                                    independent_filter=settings.independent_filter,
                                    lfc_null=settings.lfc_threshold,
                                    alt_hypothesis="greaterAbs" if settings.lfc_threshold > 0 else None,
                                    inference=inference(engine, n_cpus), quiet=True)
        stats.summary()
        table = stats.results_df.copy()
        if settings.shrink:
            coefficient = f"{contrast.variable}[T.{contrast.target}]"
            stats.lfc_shrink(coeff=coefficient)
            table["log2FoldChange_shrunk"] = stats.results_df["log2FoldChange"]
    if settings.shrink:
        both = table[["log2FoldChange", "log2FoldChange_shrunk"]].dropna()
        strong = both[both["log2FoldChange"].abs() >= 1]
        agree = float((np.sign(strong.iloc[:, 0]) == np.sign(strong.iloc[:, 1])).mean()) if len(strong) else 1.0
        LOG.info("shrinkage of %s: sign agrees with the unshrunk LFC for %.1f%% of genes with |LFC| >= 1",
                 coefficient, 100 * agree)
        if agree < 0.95:
            raise RuntimeError(f"shrunk LFCs of {coefficient} disagree in sign with the contrast "
                               f"{contrast.target} vs {contrast.reference} ({agree:.0%} agree)")
    return table


def results_table(tested: pd.DataFrame, genes: pd.DataFrame, liver_genes: set[str]) -> pd.DataFrame:
    """The published per-contrast table: ids, symbols, statistics, liver flag; sorted by padj then p-value.

    Parameters
    ----------
    tested : pandas.DataFrame
        From :func:`wald_test`, indexed by gene id.
    genes : pandas.DataFrame
        The cohort's gene table (``var``), indexed by gene id, with ``symbol``.
    liver_genes : set of str
        Symbols of the hepatocyte signature.
    """
    table = tested.copy()
    table.index.name = "gene_id"
    table = table.reset_index()
    table.insert(1, "symbol", genes.loc[table["gene_id"], "symbol"].to_numpy())
    columns = RESULT_COLUMNS + (["log2FoldChange_shrunk"] if "log2FoldChange_shrunk" in table else [])
    table = table[columns + [c for c in HOST_COLUMNS if c in table]]
    table["liver_signature"] = table["symbol"].isin(liver_genes)
    return table.sort_values(["padj", "pvalue", "gene_id"], na_position="last", kind="mergesort",
                             ignore_index=True)


# ---- what the rules call ---------------------------------------------------------------------------------------


def write_fit(cohort: ad.AnnData, contrasts: list[Contrast], settings: FitSettings, n_cpus: int,
              out_fit: str) -> None:
    """Rule ``fit``: fit the model and pickle it (pydeseq2's DeseqDataSet pickles whole) for the contrast jobs,
    streamed to the file (the pickle is ~2 GB at 60,000 genes x 1,000 samples: no copy of it in memory)."""
    dds = fit_model(cohort, contrasts, settings, n_cpus)

    def dump(path: Path) -> None:
        with open(path, "wb") as handle:
            pickle.dump(dds, handle, protocol=pickle.HIGHEST_PROTOCOL)

    write_atomic(out_fit, dump)


def read_fit(path: str):
    """Load a fit written by :func:`write_fit` (a pickled pydeseq2 DeseqDataSet of this pydeseq2 version)."""
    # The pickled design refers to formulaic-contrasts' "custom_pandas" materializer, a class that exists
    # only once created in this process: create it before pydeseq2 builds a contrast vector.
    get_factor_storage_and_materializer()
    with open(path, "rb") as handle:
        return pickle.load(handle)


def host_columns(table: pd.DataFrame, contrast: Contrast, cohort: ad.AnnData | None, adjust: bool,
                 host_dominated: float) -> pd.DataFrame:
    """The host-tissue columns of a contrast's Wald table, and with ``adjust`` its statistics adjusted.

    ``cohort`` is the adjusted cohort (:func:`~target_rationale.admixture.adjust.purify_cohort`), or None without
    the host-tissue stage (then ``host_share`` is 0 and nothing is host-dominated).
    """
    if cohort is None or HOST_LAYER not in cohort.layers:
        return unadjusted_host_columns(table, None, None, host_dominated)
    sheet = select_samples(cohort.obs, contrast.samples)
    target, reference = contrast_hosts(cohort, sheet, contrast.variable, contrast.target, contrast.reference)
    if not adjust:
        return unadjusted_host_columns(table, target, reference, host_dominated)
    specific = specific_genes(cohort, [target, reference])
    if not (target.estimable and reference.estimable):
        LOG.warning("%s: host fraction not estimable for %s; this contrast is not adjusted for host tissue, its %d "
                    "host-specific genes (anchors) are left out of enrichment and axis evidence", contrast.name,
                    " and ".join(h for h in (target.host, reference.host) if h), len(specific))
    adjusted = adjust_wald(table, target, reference, host_dominated, host_specific=specific)
    LOG.info("%s: host tissue %s / %s; %d genes host-dominated (host share >= %g, or %d host-specific genes with "
             "a share >= %g); median host share of the rest %.3f", contrast.name, target.host or "none",
             reference.host or "none", int(adjusted["host_dominated"].sum()), host_dominated, len(specific),
             SPECIFIC_SHARE,
             float(adjusted.loc[~adjusted["host_dominated"], "host_share"].median()))
    return adjusted


def write_contrast(fit_path: str, cohort_path: str, contrast: Contrast, settings: WaldSettings,
                   liver_genes: set[str], n_cpus: int, out_table: str, adjust: bool = False,
                   host_dominated: float = 1.0) -> pd.DataFrame:
    """Rule ``contrast``: test one contrast on its fit (adjusted for host tissue when ``adjust``) and write the
    table. ``cohort_path`` is the cohort the fit read, the adjusted one when the host-tissue stage runs."""
    dds = read_fit(fit_path)
    cohort = ad.read_h5ad(cohort_path)
    tested = host_columns(wald_test(dds, contrast, settings, n_cpus), contrast, cohort, adjust, host_dominated)
    table = results_table(tested, cohort.var, liver_genes)
    significant = table["padj"] < settings.alpha
    LOG.info("%s: %d genes tested, %d with padj < %g (%d up, %d down), %d with padj masked (independent "
             "filtering, Cook's outliers or host-dominated)", contrast.name, len(table), int(significant.sum()),
             settings.alpha, int((significant & (table["log2FoldChange"] > 0)).sum()),
             int((significant & (table["log2FoldChange"] < 0)).sum()), int(table["padj"].isna().sum()))
    write_tsv(table, out_table)
    return table
