"""Differential expression with pydeseq2: one fit per design, one Wald test per contrast, and QC matrices.

A fit is shared by every contrast with the same design and sample subset. With LFC shrinkage on, the
reference level of the compared variable is part of the fit too, because pydeseq2's apeGLM-style shrinkage
works on one design coefficient, which must be the contrast (``site[T.liver_metastasis]`` with ``primary`` as
the base level).

pydeseq2 runs with :class:`.nbinom.VectorizedInference` (its per-gene fits done for all genes at once; same
estimates, 10-50x faster, see :mod:`.nbinom`); ``engine="pydeseq2"`` selects pydeseq2's own routines.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .design import Contrast, select_samples
from .runtime import LOG

#: Genes used to fit the VST's dispersion trend (R DESeq2's ``vst(nsub = 1000)``).
VST_GENES = 1000

#: Default inference engine for pydeseq2 (see :func:`inference`; config key ``diffexp.engine``): the vectorised
#: one, ~10-50x faster than pydeseq2's own.
ENGINE = "vectorized"

#: Columns of every per-contrast table, in order (``log2FoldChange_shrunk`` follows when shrinkage is on).
RESULT_COLUMNS = ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


@dataclass(frozen=True)
class DiffexpSettings:
    """The ``diffexp:`` section of the config (see ``config/README.md``)."""

    min_count: int = 10
    min_samples: int | None = None
    alpha: float = 0.05
    lfc_threshold: float = 0.0
    shrink: bool = True
    cooks_refit: bool = True
    independent_filter: bool = True
    size_factors: str = "ratio"
    engine: str = ENGINE

    @classmethod
    def from_config(cls, section: dict) -> DiffexpSettings:
        known = {k: section[k] for k in cls.__dataclass_fields__ if k in section}
        return cls(**known)


def fit_name(contrast: Contrast, shrink: bool) -> str:
    """A readable, path-safe name for the model fit a contrast needs.

    >>> fit_name(Contrast("c", "site", "liver_metastasis", "primary", "~ patient + site"), shrink=True)
    'patient+site__ref-site-primary'
    """
    parts = [re.sub(r"\s+", "", contrast.design).lstrip("~") or "1"]
    for column, values in sorted(contrast.samples.items()):
        parts.append(f"{column}-" + "-".join(sorted(values)))
    if shrink:
        parts.append(f"ref-{contrast.variable}-{contrast.reference}")
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", "__".join(parts))


def plan_fits(contrasts: Iterable[Contrast], shrink: bool) -> dict[str, list[Contrast]]:
    """Group contrasts by the fit they share: ``{fit name: [contrasts]}`` in config order."""
    fits: dict[str, list[Contrast]] = {}
    for contrast in contrasts:
        fits.setdefault(fit_name(contrast, shrink), []).append(contrast)
    return fits


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
        from .nbinom import VectorizedInference

        return VectorizedInference(n_cpus=n_cpus)
    if engine == "pydeseq2":
        from pydeseq2.default_inference import DefaultInference

        return DefaultInference(n_cpus=n_cpus)
    raise ValueError(f"unknown DE engine {engine!r}; use 'vectorized' or 'pydeseq2'")


def dataset_class(engine: str):
    """pydeseq2's ``DeseqDataSet``, or with ``engine="vectorized"`` :class:`.nbinom.FastDeseqDataSet`."""
    if engine == "vectorized":
        from .nbinom import FastDeseqDataSet

        return FastDeseqDataSet
    from pydeseq2.dds import DeseqDataSet

    return DeseqDataSet


def fit_model(cohort: ad.AnnData, contrasts: list[Contrast], settings: DiffexpSettings, n_cpus: int,
              engine: str = ENGINE):
    """Fit one pydeseq2 model for the contrasts that share it.

    Parameters
    ----------
    cohort : anndata.AnnData
        The validated cohort (``X`` raw counts, samples x genes; ``obs`` the sample sheet).
    contrasts : list of Contrast
        Contrasts of this fit (same design and subset; same reference level when shrinking).
    settings : DiffexpSettings
    n_cpus : int
        Threads (or processes, see :func:`inference`) for pydeseq2 (the rule's threads); BLAS is limited to one
        thread.
    engine : str
        See :func:`inference`.

    Returns
    -------
    pydeseq2.dds.DeseqDataSet
        Fitted (size factors, dispersions, LFCs, Cook's outliers refitted when configured), on the samples of
        the fit and the genes passing the pre-filter; ``uns["prefilter"]`` records the filter.
    """
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


def wald_test(dds, contrast: Contrast, settings: DiffexpSettings, n_cpus: int, engine: str = ENGINE
              ) -> pd.DataFrame:
    """Wald test of one contrast on a fitted model, with optional LFC shrinkage (``engine``: see :func:`inference`).

    Returns
    -------
    pandas.DataFrame
        Indexed by gene id: ``baseMean, log2FoldChange, lfcSE, stat, pvalue, padj`` (pydeseq2's, unshrunk;
        ``padj`` after Cook's and independent filtering at ``alpha``) and ``log2FoldChange_shrunk`` when
        shrinking.
    """
    from pydeseq2.ds import DeseqStats

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        stats = DeseqStats(dds, contrast=[contrast.variable, contrast.target, contrast.reference],
                           alpha=settings.alpha, cooks_filter=True,
                           independent_filter=settings.independent_filter, lfc_null=settings.lfc_threshold,
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
    table = table[columns]
    table["liver_signature"] = table["symbol"].isin(liver_genes)
    return table.sort_values(["padj", "pvalue", "gene_id"], na_position="last", kind="mergesort",
                             ignore_index=True)


def read_liver_signature(path) -> set[str]:
    """Symbols of the shipped hepatocyte signature (``resources/signatures/liver_hepatocyte.tsv``)."""
    return set(pd.read_csv(path, sep="\t", dtype=str)["symbol"])


def qc_matrix(cohort: ad.AnnData, liver_genes: set[str], seed: int) -> ad.AnnData:
    """Normalised and variance-stabilised counts of every sample, and a liver-admixture score per sample.

    The stabilisation is blind to the design (pydeseq2 ``vst(use_design=False)``), as for DESeq2's QC plots.

    Returns
    -------
    anndata.AnnData
        Samples x genes with layers ``counts``, ``normalized`` (median-of-ratios), ``vst``; ``obs`` adds
        ``size_factor``, ``liver_score`` (scanpy ``score_genes`` of the hepatocyte signature on ``vst``: mean
        signature expression minus that of matched random genes, log2 units) and ``liver_count_share`` (share
        of the sample's reads from signature genes).
    """
    import scanpy as sc

    dataset = dataset_class(ENGINE)
    counts = pd.DataFrame(cohort.X, index=cohort.obs_names, columns=cohort.var_names)
    metadata = pd.DataFrame({"all": "all"}, index=cohort.obs_names)
    expressed = counts.columns[counts.sum(axis=0) > 0]
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        dds = dataset(counts=counts[expressed], metadata=metadata, design="~ 1", inference=inference(ENGINE, 1),
                      quiet=True)
        dds.fit_size_factors()
        # As R DESeq2's vst(nsub = 1000): fit the dispersion trend on genes spread over the expression range,
        # then transform every gene with it. Fitting all genes gives the same trend and takes 15x longer.
        means = pd.Series(dds.layers["normed_counts"].mean(axis=0), index=expressed)
        candidates = means[means > 5].sort_values(kind="mergesort")
        subset = candidates.index[np.unique(np.linspace(0, len(candidates) - 1, min(VST_GENES, len(candidates)))
                                            .round().astype(int))] if len(candidates) > VST_GENES else expressed
        trend = dataset(counts=counts[subset], metadata=metadata, design="~ 1", inference=inference(ENGINE, 1),
                        quiet=True)
        trend.vst_fit(use_design=False)
        if trend.vst_fit_type == "parametric" and "vst_trend_coeffs" in trend.uns:
            dds.vst_fit_type = "parametric"
            dds.uns["vst_trend_coeffs"] = trend.uns["vst_trend_coeffs"]
            dds.layers["vst_counts"] = dds.vst_transform()
        else:  # the parametric trend did not converge: let pydeseq2 fit all genes (it falls back to a mean trend)
            LOG.warning("VST: parametric dispersion trend did not converge on %d genes; fitting all genes",
                        len(subset))
            dds.vst(use_design=False)
    qc = ad.AnnData(X=np.asarray(dds.layers["vst_counts"], dtype=float), obs=cohort.obs.copy(),
                    var=cohort.var.loc[expressed].copy())
    qc.layers["counts"] = counts[expressed].to_numpy()
    qc.layers["normalized"] = np.asarray(dds.layers["normed_counts"], dtype=float)
    qc.layers["vst"] = qc.X.copy()
    qc.obs["size_factor"] = np.asarray(dds.obs["size_factors"], dtype=float)
    signature = [g for g in qc.var_names if qc.var.loc[g, "symbol"] in liver_genes]
    if signature:
        sc.tl.score_genes(qc, gene_list=signature, score_name="liver_score", random_state=seed, use_raw=False)
    else:
        qc.obs["liver_score"] = np.nan
    qc.obs["liver_count_share"] = (counts[signature].sum(axis=1) / counts.sum(axis=1)).to_numpy()
    LOG.info("liver signature: %d of %d genes measured; liver_score range %.2f to %.2f", len(signature),
             len(liver_genes), float(qc.obs["liver_score"].min()), float(qc.obs["liver_score"].max()))
    return qc


# ---- what the rules call ---------------------------------------------------------------------------------------


def write_qc(cohort: ad.AnnData, liver_genes: set[str], seed: int, out_h5ad: str, out_samples: str) -> ad.AnnData:
    """Rule ``qc_matrix``: write the QC AnnData and the per-sample QC table."""
    from .runtime import write_atomic, write_tsv

    qc = qc_matrix(cohort, liver_genes, seed)
    write_atomic(out_h5ad, lambda tmp: qc.write_h5ad(tmp))
    columns = [c for c in qc.obs.columns if c not in ("library_size", "detected_genes", "size_factor",
                                                      "liver_score", "liver_count_share")]
    table = qc.obs[columns + ["library_size", "detected_genes", "size_factor", "liver_score",
                              "liver_count_share"]]
    write_tsv(table.reset_index(), out_samples)
    return qc


def write_fit(cohort: ad.AnnData, contrasts: list[Contrast], settings: DiffexpSettings, n_cpus: int,
              out_fit: str) -> None:
    """Rule ``fit``: fit the model and pickle it (pydeseq2's DeseqDataSet pickles whole) for the contrast jobs."""
    import pickle

    from .runtime import write_atomic

    dds = fit_model(cohort, contrasts, settings, n_cpus, engine=settings.engine)
    write_atomic(out_fit, lambda tmp: tmp.write_bytes(pickle.dumps(dds, protocol=pickle.HIGHEST_PROTOCOL)))


def read_fit(path: str):
    """Load a fit written by :func:`write_fit` (a pickled pydeseq2 DeseqDataSet of this pydeseq2 version)."""
    import pickle

    from formulaic_contrasts import get_factor_storage_and_materializer

    # The pickled design refers to formulaic-contrasts' "custom_pandas" materializer, a class that exists
    # only once created in this process: create it before pydeseq2 builds a contrast vector.
    get_factor_storage_and_materializer()
    with open(path, "rb") as handle:
        return pickle.load(handle)


def write_contrast(fit_path: str, genes: pd.DataFrame, contrast: Contrast, settings: DiffexpSettings,
                   liver_genes: set[str], n_cpus: int, out_table: str) -> pd.DataFrame:
    """Rule ``contrast``: test one contrast on its fit and write the table."""
    from .runtime import write_tsv

    dds = read_fit(fit_path)
    table = results_table(wald_test(dds, contrast, settings, n_cpus, engine=settings.engine), genes, liver_genes)
    significant = table["padj"] < settings.alpha
    LOG.info("%s: %d genes tested, %d with padj < %g (%d up, %d down), %d with padj masked (independent "
             "filtering or Cook's outliers)", contrast.name, len(table), int(significant.sum()), settings.alpha,
             int((significant & (table["log2FoldChange"] > 0)).sum()),
             int((significant & (table["log2FoldChange"] < 0)).sum()), int(table["padj"].isna().sum()))
    write_tsv(table, out_table)
    return table
