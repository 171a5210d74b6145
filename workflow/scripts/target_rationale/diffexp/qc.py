"""QC matrices of all samples: normalised and variance-stabilised counts (design-blind, as DESeq2's QC plots
use), and a liver-admixture score per sample."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
from threadpoolctl import threadpool_limits

from target_rationale.core.io import write_atomic, write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.diffexp.model import ENGINE, dataset_class, inference

#: Genes used to fit the VST's dispersion trend (R DESeq2's ``vst(nsub = 1000)``).
VST_GENES = 1000


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
        # The trend's gene-wise dispersions by pydeseq2's own routines: DESeq2's line search (the default engine)
        # leaves many genes at the lower bound, and pydeseq2's parametric fit, which its transform needs, then
        # often fails on cohorts whose dispersions hardly fall with the mean (DESeq2 would integrate a local fit).
        trend = dataset_class("pydeseq2")(counts=counts[subset], metadata=metadata, design="~ 1",
                                          inference=inference("pydeseq2", 1), quiet=True)
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
    qc = qc_matrix(cohort, liver_genes, seed)
    write_atomic(out_h5ad, lambda tmp: qc.write_h5ad(tmp))
    columns = [c for c in qc.obs.columns if c not in ("library_size", "detected_genes", "size_factor",
                                                      "liver_score", "liver_count_share")]
    table = qc.obs[columns + ["library_size", "detected_genes", "size_factor", "liver_score",
                              "liver_count_share"]]
    write_tsv(table.reset_index(), out_samples)
    return qc
