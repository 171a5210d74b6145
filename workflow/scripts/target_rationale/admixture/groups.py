"""A contrast's two groups under the host-tissue adjustment: each group's host share of a gene's reads, the error
a misjudged host level makes in a gene's log change (its own, :func:`host_variance`; and the make-up's, shared
by a cell type's genes, :func:`host_error_draws`), the host-dominated and host-specific genes left untested, and
the Wald table recomputed with them (:func:`adjust_wald`). The adjusted cohort these read is
:func:`target_rationale.admixture.adjust.purify_cohort`'s (steps 3 and 4 of that module's description).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from target_rationale.admixture.adjust import (
    HOST_LAYER,
    MAX_TRUE_SHARE,
    SPECIFIC_SHARE,
    _dense,
    draws_key,
    sd_column,
)
from target_rationale.admixture.host_levels import NORMAL_GRID
from target_rationale.core.stats import benjamini_hochberg, normal_pdf, normal_sf


@dataclass(frozen=True)
class GroupHost:
    """The host tissue of one side of a contrast.

    Attributes
    ----------
    host : str
        Host of the group's samples (``""`` for none; the most common one if they differ).
    share : pandas.Series
        Per gene id, the host's share of the group's reads (expected host reads over observed reads).
    level_sd : pandas.Series
        Per gene id, the uncertainty (sd, log) of the host's level (0 without a host).
    estimable : bool
        False when some of the group's samples have a host whose fraction could not be estimated.
    level_draws : numpy.ndarray or None
        Genes (``share``'s) x draws: the log error of the host's level shared through its make-up
        (:func:`~target_rationale.admixture.adjust.make_up_draws`); None when the make-up was not fitted.
    """

    host: str
    share: pd.Series
    level_sd: pd.Series
    estimable: bool
    level_draws: np.ndarray | None = None


def group_host(adjusted: ad.AnnData, samples: Sequence[str]) -> GroupHost:
    """Host, per-gene host share and level uncertainty of a contrast group of the adjusted cohort
    (:func:`purify_cohort`)."""
    part = adjusted[list(samples)]
    return _group_host(adjusted, _dense(part.layers[HOST_LAYER]), _dense(part.X), part.obs["host"])


@dataclass(frozen=True)
class HostReads:
    """An adjusted cohort's host reads and purified counts as dense arrays, read once for many groups (the axis
    tests' leave-one-out and bootstrap fits): :meth:`group` gives what :func:`group_host` gives, bit for bit.

    Attributes
    ----------
    adjusted : anndata.AnnData
        The adjusted cohort (:func:`purify_cohort`).
    expected, purified : numpy.ndarray
        Samples x genes: its ``HOST_LAYER`` and ``X``, as floats.
    genes : pandas.Index
        The gene ids of their columns (a group's ``share`` covers these).
    draws : dict of str to numpy.ndarray
        Per host whose make-up was fitted, its make-up draws of these genes (``genes`` x draws).
    """

    adjusted: ad.AnnData
    expected: np.ndarray
    purified: np.ndarray
    genes: pd.Index
    draws: dict[str, np.ndarray]

    @classmethod
    def of(cls, adjusted: ad.AnnData, genes: Sequence[str] | None = None) -> HostReads:
        """The arrays of ``adjusted``; of its columns ``genes`` (gene ids) alone when given: what a caller reads
        of a group's share (the axes' genes and the host-specific ones), each gene's numbers unchanged."""
        part = adjusted if genes is None else adjusted[:, pd.Index(list(dict.fromkeys(genes)))]
        genes = pd.Index(part.var_names)
        return cls(adjusted, _dense(part.layers[HOST_LAYER]), _dense(part.X), genes, _host_draws(adjusted, genes))

    def group(self, rows: Sequence[int]) -> GroupHost:
        """:func:`group_host` of the samples at ``rows`` (positions in the adjusted cohort, repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64)
        return _group_host(self.adjusted, self.expected[rows], self.purified[rows],
                           self.adjusted.obs["host"].iloc[rows], self.genes, self.draws)


def _host_draws(adjusted: ad.AnnData, genes: pd.Index | None = None) -> dict[str, np.ndarray]:
    """Per host with make-up draws in ``adjusted`` (``varm``), its draws of ``genes`` (default all), as floats."""
    hosts = {str(h) for h in adjusted.obs["host"].unique() if h} if "host" in adjusted.obs else set()
    rows = slice(None) if genes is None else adjusted.var_names.get_indexer(genes)
    return {h: np.asarray(adjusted.varm[draws_key(h)], dtype=float)[rows] for h in sorted(hosts)
            if draws_key(h) in adjusted.varm}


def _group_host(adjusted: ad.AnnData, expected_reads: np.ndarray, purified: np.ndarray, hosts: pd.Series,
                genes: pd.Index | None = None, draws: dict[str, np.ndarray] | None = None) -> GroupHost:
    """:class:`GroupHost` of a group from its samples' host reads and purified counts (samples x ``genes``, by
    default all of ``adjusted``'s) and hosts; ``draws``: :func:`_host_draws` of the same genes (default read
    here)."""
    expected = expected_reads.sum(axis=0)
    observed = purified.sum(axis=0) + expected  # what purification left plus what it took
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(observed > 0, expected / observed, 0.0)
    hosts = hosts.astype(str)
    host = str(hosts.mode().iloc[0]) if len(hosts) else ""
    info = adjusted.uns.get("admixture", {})
    estimable = not any(h in info.get("not_estimable", {}) for h in set(hosts) if h)
    if host and sd_column(host) in adjusted.var.columns:
        level_sd = adjusted.var[sd_column(host)].astype(float).fillna(0.0)
    else:
        level_sd = pd.Series(0.0, index=adjusted.var_names)
    if draws is None:
        draws = _host_draws(adjusted, genes)
    return GroupHost(host=host, share=pd.Series(share, index=adjusted.var_names if genes is None else genes),
                     level_sd=level_sd, estimable=estimable, level_draws=draws.get(host) if host else None)


def contrast_hosts(adjusted: ad.AnnData, sheet: pd.DataFrame, variable: str, target: str, reference: str
                   ) -> tuple[GroupHost, GroupHost]:
    """:func:`group_host` of a contrast's two groups: the samples of ``sheet`` (the contrast's) whose ``variable``
    is ``target``, and those whose is ``reference``."""
    levels = sheet[variable].astype(str)
    return (group_host(adjusted, sheet.index[levels == target]),
            group_host(adjusted, sheet.index[levels == reference]))


def specific_genes(adjusted: ad.AnnData, sides: Sequence[GroupHost], min_share: float = SPECIFIC_SHARE) -> list[str]:
    """Host-specific genes to leave untested in a contrast: the anchors of each side's host (genes the host makes
    and the tumour does not, per the reference) where that side's host share is at least ``min_share``, and all
    of them for a side whose host fraction could not be estimated (the fallback).

    A tumour does not make these genes, so whatever is left of them after purification is the host's levels
    misjudged, not tumour biology; the share test keeps those a host barely touches.
    """
    lists = adjusted.uns.get("admixture", {}).get("host_specific", {})
    genes: list[str] = []
    for side in sides:
        ids = [str(g) for g in lists.get(side.host, [])] if side.host else []
        if not side.estimable:
            genes += ids
        else:
            share = side.share.reindex(ids).fillna(0.0)
            genes += list(share.index[share >= min_share])
    return sorted(set(genes))


def host_variance(genes: pd.Index, target: GroupHost, reference: GroupHost, threshold: float,
                  host_specific: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The variance the host profile's uncertainty adds to each gene's log change between two groups, and which
    genes are host-dominated (step 3 and 4 of the module's description).

    Parameters
    ----------
    genes : pandas.Index
        Gene ids.
    target, reference : GroupHost
        The two sides of the contrast (:func:`group_host`).
    threshold : float
        Host share of a group's reads of a gene from which it is host-dominated.
    host_specific : sequence of str
        Gene ids host-dominated whatever their share.

    Returns
    -------
    extra : numpy.ndarray
        Per gene, the added variance of the natural-log change (0 for host-dominated genes).
    dominated : numpy.ndarray
        Per gene, True where host-dominated.
    """
    share_t = target.share.reindex(genes).fillna(0.0).to_numpy()
    share_r = reference.share.reindex(genes).fillna(0.0).to_numpy()
    dominated = (np.maximum(share_t, share_r) >= threshold) | genes.isin(list(host_specific))
    share_t = np.where(dominated, 0.0, share_t)
    share_r = np.where(dominated, 0.0, share_r)
    sd_t = target.level_sd.reindex(genes).fillna(0.0).to_numpy()
    sd_r = reference.level_sd.reindex(genes).fillna(0.0).to_numpy()
    if target.host and target.host == reference.host:
        extra = level_error_moment(share_t, sd_t, share_r)
    else:
        extra = level_error_moment(share_t, sd_t) + level_error_moment(share_r, sd_r)
    return extra, np.asarray(dominated, dtype=bool)


def host_error_draws(genes: pd.Index, target: GroupHost, reference: GroupHost, dominated: np.ndarray
                     ) -> np.ndarray | None:
    """The error of each gene's log change between two groups under each refit of the hosts' make-up: genes x
    draws (natural log), or None when neither side's make-up was fitted.

    A host level misjudged by ``exp(delta)`` makes a group's purified log level err by about ``s / (1 - s) x
    delta`` (``s``: the host's share of the group's reads, capped at :data:`MAX_TRUE_SHARE`; the linearisation of
    :func:`level_error_moment`). ``delta`` here is a draw of
    :func:`~target_rationale.admixture.adjust.make_up_draws`: one value per cell type's genes, not an independent
    one per gene, so the errors of a set's genes do not average out. Two groups with the same host share their
    draws (the error of the difference); two hosts' draws are refits on each host's own samples, paired by draw.
    ``dominated`` (per gene, :func:`host_variance`'s second result): those genes get 0.
    """
    sides = [side for side in (target, reference) if side.level_draws is not None]
    if not sides:
        return None
    n_draws = sides[0].level_draws.shape[1]
    error = np.zeros((len(genes), n_draws))
    for side, sign in ((target, 1.0), (reference, -1.0)):
        if side.level_draws is None:
            continue
        s = np.minimum(side.share.reindex(genes).fillna(0.0).to_numpy(), MAX_TRUE_SHARE)
        position = pd.Index(side.share.index).get_indexer(genes)
        draws = np.where(position[:, None] >= 0, side.level_draws[np.maximum(position, 0)], 0.0)
        error += sign * (s / (1.0 - s))[:, None] * draws[:, :n_draws]
    error[np.asarray(dominated, dtype=bool)] = 0.0
    return error


def level_error_moment(share: np.ndarray, sd: np.ndarray, other_share: np.ndarray | None = None) -> np.ndarray:
    """Mean square error of a group's purified log level caused by a host level misjudged by ``exp(delta)``,
    ``delta ~ N(0, sd^2)`` (quadrature on an even grid of +-6 sd: the cap below makes the error kinked).

    With ``s`` the estimated host share of the group's reads, the true tumour part is ``1 - s exp(delta)`` of
    them where purification kept ``1 - s``, so the log error is ``log((1 - s) / (1 - s exp(delta)))``: about
    ``s / (1 - s) x delta`` for a small ``sd`` (the linearisation), much larger when the host's level is
    under-estimated and its true share is high. The true share is capped at :data:`MAX_TRUE_SHARE` (the tumour
    makes some of the reads). With ``other_share`` (a second group with the same host, hence the same
    ``delta``) the error is that of the difference of the two groups' log levels.
    """
    share = np.asarray(share, dtype=float)[:, None]
    sd = np.asarray(sd, dtype=float)[:, None]
    nodes = NORMAL_GRID
    weights = normal_pdf(nodes)
    weights = weights / weights.sum()
    factor = np.exp(sd * nodes[None, :])

    def log_error(s: np.ndarray) -> np.ndarray:
        truth = np.minimum(s * factor, MAX_TRUE_SHARE)
        return np.log1p(-np.minimum(s, MAX_TRUE_SHARE)) - np.log1p(-truth)

    error = log_error(share)
    if other_share is not None:
        error = error - log_error(np.asarray(other_share, dtype=float)[:, None])
    return (error ** 2) @ weights


def adjust_wald(table: pd.DataFrame, target: GroupHost, reference: GroupHost, threshold: float,
                lfc_threshold: float = 0.0, host_specific: Sequence[str] = ()) -> pd.DataFrame:
    """A Wald table of purified counts with the host profile's uncertainty carried and host-dominated genes marked.

    Parameters
    ----------
    table : pandas.DataFrame
        pydeseq2's results (``log2FoldChange, lfcSE, stat, pvalue, padj``), indexed by gene id.
    target, reference : GroupHost
        The two sides of the contrast (:func:`group_host`).
    threshold : float
        Host share of a group's reads of a gene from which it is ``host_dominated`` (config
        ``admixture.host_dominated``).
    lfc_threshold : float
        The test's log2 fold-change threshold (``diffexp.lfc_threshold``; 0: the plain Wald test).
    host_specific : sequence of str
        Gene ids marked host-dominated whatever their share (the fallback of a host whose fractions cannot be
        estimated).

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``lfcSE``, ``stat``, ``pvalue``, ``padj`` recomputed (NaN for host-dominated genes), and
        ``host_share`` (the larger of the two groups'; NaN when a group's host could not be estimated) and
        ``host_dominated``.
    """
    out = table.copy()
    share_t = target.share.reindex(out.index).fillna(0.0).to_numpy()
    share_r = reference.share.reindex(out.index).fillna(0.0).to_numpy()
    extra, dominated = host_variance(out.index, target, reference, threshold, host_specific)
    lfc = out["log2FoldChange"].to_numpy(float)
    se = np.sqrt(out["lfcSE"].to_numpy(float) ** 2 + extra / np.log(2) ** 2)
    if lfc_threshold > 0:
        stat = np.sign(lfc) * np.fmax((np.abs(lfc) - lfc_threshold) / se, 0)
    else:
        stat = lfc / se
    tested = out["padj"].notna().to_numpy() & ~dominated
    pvalue = np.where(out["pvalue"].notna(), 2 * normal_sf(np.abs(stat)), np.nan)
    padj = np.full(len(out), np.nan)
    if tested.any():
        padj[tested] = benjamini_hochberg(pvalue[tested])
    out["lfcSE"] = se
    out["stat"] = np.where(dominated | out["stat"].isna(), np.nan, stat)
    out["pvalue"] = np.where(dominated, np.nan, pvalue)
    out["padj"] = padj
    estimable = target.estimable and reference.estimable
    out["host_share"] = np.maximum(share_t, share_r) if estimable else np.nan
    out["host_dominated"] = dominated
    return out


def unadjusted_host_columns(table: pd.DataFrame, target: GroupHost | None, reference: GroupHost | None,
                            threshold: float) -> pd.DataFrame:
    """The host columns on a table that is not adjusted (statistics untouched): the host's share of each gene's
    reads where known (0 without an adjusted cohort) and ``host_dominated`` by the same ``threshold``."""
    out = table.copy()
    if target is None or reference is None:
        out["host_share"] = 0.0
    else:
        out["host_share"] = np.maximum(target.share.reindex(out.index).fillna(0.0).to_numpy(),
                                       reference.share.reindex(out.index).fillna(0.0).to_numpy())
    out["host_dominated"] = out["host_share"].to_numpy() >= threshold
    return out
