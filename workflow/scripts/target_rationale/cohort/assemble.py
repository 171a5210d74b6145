"""Assemble the validated cohort into one AnnData: counts, sample sheet and gene annotation together."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import anndata as ad
import numpy as np
import pandas as pd

from target_rationale.cohort.ids import map_to_symbols, mapping_summary, read_gene_id_map
from target_rationale.cohort.validation import validate_inputs
from target_rationale.core.errors import InputError
from target_rationale.core.io import write_atomic, write_tsv
from target_rationale.core.jobs import LOG


def assemble_cohort(counts: pd.DataFrame, sheet: pd.DataFrame, genes: pd.DataFrame, id_type: str) -> ad.AnnData:
    """Put counts (genes x samples), the sheet and the gene table into an AnnData (samples x genes).

    Parameters
    ----------
    counts : pandas.DataFrame
        Validated ``int64`` counts, genes x samples, columns in sheet order.
    sheet : pandas.DataFrame
        Sample sheet indexed by sample.
    genes : pandas.DataFrame
        From :func:`target_rationale.gene_ids.map_to_symbols`, indexed like ``counts``.
    id_type : str
        Resolved gene id type, stored in ``uns``.

    Returns
    -------
    anndata.AnnData
        ``X`` raw counts (samples x genes, int64); ``obs`` the sheet plus ``library_size`` and
        ``detected_genes``; ``var`` indexed by ``gene_id`` with ``symbol``, ``mapping``, ``n_symbols``,
        ``shared_symbol``.
    """
    obs = sheet.copy()
    obs.index.name = "sample"
    obs["library_size"] = counts.sum(axis=0).astype(np.int64)
    obs["detected_genes"] = (counts > 0).sum(axis=0).astype(np.int64)
    var = genes.loc[counts.index].copy()
    var.index.name = "gene_id"
    adata = ad.AnnData(X=np.ascontiguousarray(counts.to_numpy(dtype=np.int64).T), obs=obs, var=var)
    adata.uns["gene_id_type"] = id_type
    return adata


def build_cohort(counts_path: str, samples_path: str, gene_id_type: str, gene_id_map: str, design: str,
                 contrasts: list[dict], out_h5ad: str, out_genes: str, out_samples: str,
                 min_library_size: int | None = None,
                 check: Callable[[Iterable[str], str], list[str]] | None = None) -> ad.AnnData:
    """Read and validate the inputs, map gene ids and write the cohort files (the ``cohort`` rule).

    ``check``, given the counts' gene ids and their resolved id type, returns problems of what else refers to
    genes (the targets file's symbols of a ``cohort:`` import): any stops the job, as the validation's do, before
    anything is written.
    """
    inputs = validate_inputs(counts_path, samples_path, gene_id_type, design, contrasts, min_library_size)
    counts = inputs.matrix.counts
    if check is not None:
        if problems := check(counts.index, inputs.id_type):
            raise InputError(problems)
        LOG.info("targets file: its gene symbols are checked against the counts' genes")
    LOG.info("counts: %s (%s format), %d genes x %d samples", counts_path, inputs.matrix.source_format,
             counts.shape[0], counts.shape[1])
    for old, new in inputs.matrix.renamed.items():
        LOG.info("featureCounts column '%s' read as sample '%s'", old, new)
    genes = map_to_symbols(counts.index, inputs.id_type, read_gene_id_map(gene_id_map))
    for line in mapping_summary(genes, inputs.id_type):
        LOG.info(line)
    adata = assemble_cohort(counts, inputs.sheet, genes, inputs.id_type)
    adata.uns["source"] = {"counts": str(counts_path), "samples": str(samples_path),
                           "format": inputs.matrix.source_format}
    write_atomic(out_h5ad, lambda tmp: adata.write_h5ad(tmp))
    write_tsv(genes.reset_index(), out_genes)
    write_tsv(adata.obs.reset_index(), out_samples)
    LOG.info("wrote %s, %s, %s", out_h5ad, out_genes, out_samples)
    return adata
