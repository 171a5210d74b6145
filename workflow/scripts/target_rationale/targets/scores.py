"""Per-sample activity score of each axis on the VST matrix (rule ``axis_scores``); the scores are compared
between a contrast's groups in :mod:`.score_stats`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc

from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.targets.config import Axis, Targets, axis_genes


def gene_lists(axes: Targets | Mapping[str, Axis | Sequence[str]] | Iterable[Axis]) -> dict[str, tuple[str, ...]]:
    """``{axis name: gene symbols}`` of the axes, however they are given."""
    if isinstance(axes, Targets):
        axes = axes.axes
    if not isinstance(axes, Mapping):
        axes = {axis.name: axis for axis in axes}
    return {name: tuple(axis.genes if isinstance(axis, Axis) else axis) for name, axis in axes.items()}


def axis_scores(qc: ad.AnnData, axes: Targets | Mapping[str, Axis | Sequence[str]] | Iterable[Axis], seed: int = 0,
                layer: str = "vst") -> pd.DataFrame:
    """Per-sample activity score of each axis on the variance-stabilised matrix.

    The score is scanpy's ``sc.tl.score_genes``: the mean of the axis' genes (receptors + ligands + markers that
    are measured) minus the mean of expression-matched random control genes (``ctrl_size`` 50 per expression
    bin, drawn with ``random_state=seed``), in the units of ``layer`` (log2 for ``vst``). It is relative: compare
    it between samples, not across axes.

    Parameters
    ----------
    qc : anndata.AnnData
        Samples x genes with ``layers[layer]`` and ``var['symbol']``.
    axes : Targets, mapping of str to Axis or to gene symbols, or iterable of Axis
    seed : int
        Random state of the control-gene draw.
    layer : str
        Layer scored.

    Returns
    -------
    pandas.DataFrame
        Samples (``qc.obs_names``) x axes; an axis with no measured gene is all NaN.
    """
    plain = ad.AnnData(X=np.asarray(qc.layers[layer], dtype=float), obs=pd.DataFrame(index=qc.obs_names.copy()),
                       var=pd.DataFrame(index=qc.var_names.copy()))
    scores = pd.DataFrame(index=pd.Index(qc.obs_names, name="sample"))
    for name, symbols in gene_lists(axes).items():
        genes = axis_genes(qc.var, symbols)
        if not genes:
            scores[name] = np.nan
            continue
        sc.tl.score_genes(plain, gene_list=genes, score_name="axis_score", random_state=seed, use_raw=False)
        scores[name] = plain.obs["axis_score"].to_numpy(dtype=float)
    return scores


def write_scores(qc: ad.AnnData, axes: Targets | Mapping[str, Sequence[str]], seed: int,
                 out_scores: str) -> pd.DataFrame:
    """Rule ``axis_scores``: per-sample axis scores (samples x axes) next to the sample sheet.

    ``axes`` gives each axis' genes (the rule hands only those, so that editing a drug or a flag setting in the
    targets file does not rescore).
    """
    scores = axis_scores(qc, axes, seed=seed)
    for name, genes in gene_lists(axes).items():
        LOG.info("axis %s: %d of %d genes measured for its score", name, len(axis_genes(qc.var, genes)), len(genes))
    table = pd.concat([qc.obs.drop(columns=[c for c in qc.obs.columns if c not in _sheet_columns(qc.obs)]),
                       scores], axis=1)
    table.index.name = "sample"
    write_tsv(table.reset_index(), out_scores)
    return table


def _sheet_columns(obs: pd.DataFrame) -> list[str]:
    derived = {"library_size", "detected_genes", "size_factor", "liver_score", "liver_count_share"}
    return [c for c in obs.columns if c not in derived]
