"""Host fractions: how much of each sample's reads come from the host tissue (liver in a liver metastasis, exocrine
pancreas in a primary), estimated from anchor genes that the host expresses and the tumour does not.

The model. For an anchor gene ``g`` of sample ``s`` the tumour contributes (almost) nothing, so

    count_sg / library_s = f_s * h_g * noise_sg,

with ``f_s`` the host fraction of the sample's reads, ``h`` the real host profile (summing to 1 over the genes
counted) and ``noise`` the count noise (mean 1: Poisson and biological, negative binomial). The reference profile
``p`` (HPA, renormalised over the same genes) is not ``h``: a real host differs from HPA's consensus by a per-gene
factor ``e_g`` shared by all samples of a cohort (``h_g = p_g e_g / Z``, ``Z = sum_g p_g e_g``) and by its cell
mix, which varies from sample to sample. Write ``y_sg = count_sg / (library_s p_g)``.

The estimator (:func:`estimate_host_fractions`), per sample:

1. Anchors in use: those expected to have at least ``min_expected`` reads under a first, rough fraction (the
   median of ``y`` over the 25 highest anchors), so that Poisson noise does not dominate their log ratios. The
   choice depends on the reference and the sample's depth only, never on a gene's own count.
2. A level per anchor group ``k``: ``m_sk = exp(median_k log y_sg + sigma^2 / 2)``, ``sigma`` the cohort's
   robust spread (median over samples of 1.4826 MAD of the log ratios around their group medians). The median is
   robust to a few anchors the tumour makes; the lognormal term turns it into a mean, because ``Z`` is a mean
   over genes (without it the estimate is low by ``exp(-sigma^2 / 2)``, 12% at sd 0.5, whatever the
   perturbation's convention).
3. The host's reads are the anchors' reads, which are observed, plus the rest of the host profile, which is
   extrapolated: ``f_s = sum_g p_g ê_g m_s,k(g) + (1 - P) sum_k w_k m_sk``, with ``ê_g`` the anchor's level
   relative to its group pooled over the samples (its per-gene factor is shared, its count noise is not), ``P``
   the reference mass of the anchors with a known ``ê`` and ``w_k`` the share of the host's reads that group
   ``k`` stands for. Observing the anchors' mass matters where a few anchors carry much of the profile (acinar
   enzymes: 70% of the pancreas profile): their per-gene factors then stay out of the unseen normaliser.
   The cell mix: the liver's anchors form two groups (:func:`~target_rationale.admixture.anchors.anchor_groups`):
   hepatocyte genes, and the curated markers of Kupffer cells, sinusoidal endothelium, cholangiocytes and
   stellate cells. The assumption: hepatocytes make 0.8 of the reference liver's reads (range 0.65-0.95), the
   other resident cells the rest, and genes that are not anchors follow the two parts in that proportion. A
   sample with more hepatocytes raises the first level and lowers the second, and the weighted sum stays
   right; with the reference's mix both levels agree and the weights drop out.
4. Log ratios more than 3 spreads above their group level are capped (a tumour that makes an anchor).

The interval (0.95 by default; percentile bootstrap, seeded). Each replicate resamples the anchors within their
groups (one draw for all samples: the per-gene factors are shared), draws the group shares from their ranges,
perturbs the pooled anchor levels by their count noise (dispersion estimated from the cohort's anchors with
three samples or more, else ``dispersion``; plus Poisson), perturbs the unseen rest of the profile by the
normaliser's uncertainty (lognormal, relative sd ``sqrt(exp(sigma^2) - 1) * sqrt(sum p_g^2) / (1 - P)`` over
the genes that are not anchors; ``sigma`` the total spread, so conservative) and the whole fraction by the
host's composition uncertainty (lognormal sd ``composition_sd``: how far the anchors' share of a real host may be
from the reference's, e.g. an atrophic exocrine pancreas). Gene resampling covers the per-gene perturbation,
the share draws the cell mix. A lower end below the detection limit (the fraction at which ``min_anchors``
anchors would reach ``min_expected`` reads) is reported as 0.

Background. The tumour expresses some anchors a little (anchors are 10-fold above tumour-like profiles, not
infinitely). Given the anchors' levels in host-free tumour samples (:func:`anchor_background`: primaries for the
liver, liver metastases for the exocrine pancreas), anchors above ``max_background`` are dropped and the
fraction is corrected for the median background ``b`` of those kept: ``f = (f_obs - b) / (1 - b)``.

Without such samples, a lower end below :func:`~target_rationale.admixture.anchors.reference_floor` (the
fraction a tumour expressing the anchors like the reference's tumour-like profiles would show, ~0.004) is reported
as 0.

Samples with fewer than ``min_anchors`` anchors in use (host absent or nearly so) get the anchors' reads over
their reference mass as fraction, an interval from 0 to the larger of that and the detection limit, and the flag
``few_anchors``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from target_rationale.admixture.anchors import (
    HOSTS,
    MAX_BACKGROUND,
    HostSpec,
    anchor_background,
    anchor_genes,
    anchor_groups,
    host_profile,
    reference_floor,
    renormalised,
)
from target_rationale.admixture.reference import HOST_MARKERS, SYMBOL_COLUMN, HostReference
from target_rationale.admixture.split import NOTE_COLUMN, host_cell_types, split_host
from target_rationale.core.errors import InputError, listing
from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG

#: Anchors of the first, rough fraction (the highest ones) and the cap of a log ratio, in spreads.
N_TOP, CAP_SPREADS = 25, 3.0
#: Robust sd from a median absolute deviation.
MAD_SD = 1.4826


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """``np.nanmedian`` without the warning for an all-NaN slice (a sample or gene without anchors in use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """``np.nanmean`` without the warning for an all-NaN slice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


@dataclass(frozen=True)
class _Anchors:
    """The anchors of one estimate, as arrays (samples x anchors where two-dimensional)."""

    log_ratio: np.ndarray  # log((count + 0.5) / (library * p)) where in use, else NaN
    counts: np.ndarray
    mass: np.ndarray  # p of each anchor
    group_of: np.ndarray  # group index of each anchor
    rest_sd_factor: float  # sqrt(sum of p^2 over the genes that are not anchors) / (1 - sum of anchor p)


def _group_medians(log_ratio: np.ndarray, group_of: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, each group's median log ratio (NaN for a group without anchors in use) and the robust spread
    (1.4826 MAD) of the log ratios around their group medians (0 with fewer than two anchors in use)."""
    medians = np.full((log_ratio.shape[0], n_groups), np.nan)
    for k in range(n_groups):
        if (group_of == k).any():
            medians[:, k] = _nanmedian(log_ratio[:, group_of == k], axis=1)
    spread = np.nan_to_num(MAD_SD * _nanmedian(np.abs(log_ratio - medians[:, group_of]), axis=1), nan=0.0)
    return medians, spread


def _levels(medians: np.ndarray, sigma: float, shares: np.ndarray) -> np.ndarray:
    """``m_sk = exp(median + sigma^2 / 2)``; a group without anchors in use in a sample takes the share-weighted
    level of the others."""
    levels = np.exp(medians + sigma ** 2 / 2)
    present = ~np.isnan(levels)
    if not present.all():
        weight = np.where(present, shares[None, :], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            filler = np.nansum(levels * weight, axis=1) / weight.sum(axis=1)
        levels = np.where(present, levels, filler[:, None])
    return levels


def _relative_levels(anchors: _Anchors, levels: np.ndarray, sigma: float, noise_var: np.ndarray) -> np.ndarray:
    """``ê_g``: each anchor's ratio over its group's level (capped at ``CAP_SPREADS`` spreads), pooled over the
    samples that use it as a lognormal mean: the median of the logs (robust to a sample whose tumour makes the
    anchor) plus ``(1 - 1/n) / 2`` of the count-noise variance ``noise_var`` (``n`` samples: with one sample the
    ratio itself, whose noise has mean 1); NaN for an anchor no sample uses."""
    relative = np.minimum(anchors.log_ratio - np.log(levels[:, anchors.group_of]), CAP_SPREADS * max(sigma, 0.1))
    n_samples = np.maximum((~np.isnan(relative)).sum(axis=0), 1)
    return np.exp(_nanmedian(relative, axis=0) + noise_var * (1 - 1 / n_samples) / 2)


def _fractions(anchors: _Anchors, levels: np.ndarray, relative: np.ndarray, shares: np.ndarray,
               rest_factor: float = 1.0) -> np.ndarray:
    """``f_s = sum_g p_g ê_g m_s,k(g) + (1 - P) sum_k w_k m_sk`` over the anchors with a known ``ê``."""
    known = ~np.isnan(relative)
    observed = (levels[:, anchors.group_of[known]] * (anchors.mass[known] * relative[known])[None, :]).sum(axis=1)
    rest = 1.0 - anchors.mass[known].sum()
    return observed + rest * rest_factor * (levels @ shares)


def _dispersion(anchors: _Anchors, levels: np.ndarray, use: np.ndarray, default: float) -> float:
    """Between-sample noise of an anchor's count beyond Poisson (a negative binomial dispersion), from the
    two-way residuals of the log ratios (sample level and gene level removed) when three samples or more use
    the anchors; else ``default``."""
    residual = np.where(use, anchors.log_ratio - np.log(levels[:, anchors.group_of]), np.nan)
    n_used = use.sum(axis=0)
    genes = n_used >= 3
    if genes.sum() < 3:
        return default
    residual = residual[:, genes]
    df = n_used[genes] - 1
    variance = np.nansum((residual - _nanmean(residual, axis=0)) ** 2, axis=0) / df
    poisson = _nanmean(np.where(use[:, genes], 1.0 / (anchors.counts[:, genes] + 0.5), np.nan), axis=0)
    # the median of a chi-square variance is low by (1 - 2 / (9 df))^3
    median_df = float(np.median(df))
    excess = float(np.median(variance - poisson)) / (1 - 2 / (9 * median_df)) ** 3
    return max(excess, 0.0)


def _select_anchors(groups: Mapping[str, Sequence[str]], profile: pd.Series, background: pd.Series | None,
                    max_background: float) -> tuple[list[str], list[int]]:
    """The anchors to use, once each (first group wins), with a reference level and background within bounds."""
    seen: set[str] = set()
    genes, group_of = [], []
    for k, members in enumerate(groups.values()):
        for gene in members:
            noisy = background is not None and float(background.get(gene, 0.0)) > max_background
            if gene in profile.index and profile[gene] > 0 and gene not in seen and not noisy:
                seen.add(gene)
                genes.append(gene)
                group_of.append(k)
    return genes, group_of


def estimate_host_fractions(counts: pd.DataFrame, host_profile: pd.Series,
                            anchors: Sequence[str] | Mapping[str, Sequence[str]],
                            shares: Mapping[str, tuple[float, float]] | None = None, *,
                            library: pd.Series | None = None, background: pd.Series | None = None,
                            max_background: float = MAX_BACKGROUND, floor: float = 0.0, composition_sd: float = 0.0,
                            min_expected: float = 20.0, min_anchors: int = 10, n_boot: int = 500, level: float = 0.95,
                            dispersion: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Per sample, the fraction of reads from the host, with a bootstrap interval (see the module's docstring).

    Parameters
    ----------
    counts : pandas.DataFrame
        Raw counts, samples x genes (reference Ensembl ids), of the samples that carry this host.
    host_profile : pandas.Series
        The host's reference profile by gene (e.g. ``reference.profile("liver", counts.columns)``), renormalised
        to sum 1 over ``counts``' genes here (genes it lacks count as 0).
    anchors : sequence of str, or mapping of str to sequence of str
        Anchor genes (:func:`anchor_genes`) or groups of them (:func:`anchor_groups`). Anchors not in ``counts``
        or without a reference level are left out.
    shares : mapping of str to (float, float), optional
        Group -> range of the share of the host's reads it stands for (``HOSTS[host].shares``); default
        ``(1, 1)`` for each group (right for one group).
    library : pandas.Series, optional
        Reads per sample; default the sum of ``counts`` (the fraction is then of the reads on the genes the
        reference knows).
    background : pandas.Series, optional
        Per anchor, its level in host-free tumour samples (:func:`anchor_background`).
    max_background : float
        Anchors whose background is above this are dropped.
    floor : float
        A lower end below it is reported as 0 (:func:`reference_floor`, when no ``background`` is measured).
    composition_sd : float
        Lognormal sd of the host's composition uncertainty (``HOSTS[host].composition_sd``), in the interval only.
    min_expected : float
        Reads an anchor must be expected to have in a sample (under a first, rough fraction) to be used there.
    min_anchors : int
        Anchors in use a sample needs; below it the sample is flagged ``few_anchors``.
    n_boot : int
        Bootstrap replicates (0: the interval is the point estimate, widened to 0 below detection).
    level : float
        Interval level.
    dispersion : float
        Count noise beyond Poisson (negative binomial dispersion) used when fewer than three samples use the
        anchors; otherwise it is estimated from them.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``counts``: ``fraction, ci_low, ci_high`` (in [0, 1]), ``n_anchors`` (anchors in use),
        ``spread`` (robust sd of the sample's log ratios around its group levels; 0 when flagged), ``flag``
        (``""`` or ``"few_anchors"``).

    Raises
    ------
    ValueError
        If no anchor is usable, a group lacks a share, or a setting is out of range.
    """
    settings = {"min_expected": min_expected, "n_boot": n_boot, "dispersion": dispersion,
                "composition_sd": composition_sd, "floor": floor, "max_background": max_background}
    negative = [f"{k}={v}" for k, v in settings.items() if v < 0]
    if not 0 < level < 1 or min_anchors < 1 or negative:
        raise ValueError(f"need 0 < level < 1, min_anchors >= 1 and non-negative settings; got level={level}, "
                         f"min_anchors={min_anchors} {' '.join(negative)}".rstrip())
    groups = {k: list(v) for k, v in anchors.items()} if isinstance(anchors, Mapping) else {"anchors": list(anchors)}
    shares = dict(shares) if shares is not None else {k: (1.0, 1.0) for k in groups}
    missing = [k for k in groups if k not in shares]
    if missing:
        raise ValueError(f"anchor group(s) {missing} have no share; shares are given for {list(shares)}")
    profile = renormalised(host_profile, counts.columns)
    genes, group_of = _select_anchors(groups, profile, background, max_background)
    if not genes:
        raise ValueError("no anchor gene is among the counts' genes with a reference level (and background within "
                         f"{max_background})")
    lib = (counts.sum(axis=1) if library is None else library.reindex(counts.index)).to_numpy(float)
    matrix = counts[genes].to_numpy(float)
    mass = profile[genes].to_numpy()
    unit = lib[:, None] * mass[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        rough = np.nan_to_num(np.median((matrix / unit)[:, np.argsort(-mass, kind="stable")[:N_TOP]], axis=1))
    use = rough[:, None] * unit >= max(min_expected, 1e-12)
    n_use = use.sum(axis=1)
    ok = n_use >= min_anchors
    rest = 1.0 - mass.sum()
    names = list(groups)
    low, high = np.array([shares[n][0] for n in names], float), np.array([shares[n][1] for n in names], float)

    fraction, ci_low, ci_high, spread = (np.zeros(len(counts)) for _ in range(4))
    if ok.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(use[ok], np.log((matrix[ok] + 0.5) / unit[ok]), np.nan)
        sub = _Anchors(log_ratio=log_ratio, counts=matrix[ok], mass=mass, group_of=np.array(group_of),
                       rest_sd_factor=float(np.sqrt((profile.drop(genes) ** 2).sum()) / rest) if rest > 0 else 0.0)
        fraction[ok], ci_low[ok], ci_high[ok], spread[ok] = _estimate_with_interval(
            sub, use[ok], low, high, composition_sd, n_boot, level, dispersion, seed)
    # the fraction at which min_anchors anchors reach min_expected reads: below it no host cannot be told apart
    detection = min_expected / (lib * np.sort(mass)[::-1][min(min_anchors, len(mass)) - 1])
    ci_low = np.where(ci_low < np.maximum(detection, floor), 0.0, ci_low)
    if (~ok).any():
        crude = matrix[~ok].sum(axis=1) / (lib[~ok] * mass.sum())
        fraction[~ok], ci_low[~ok], ci_high[~ok] = crude, 0.0, np.maximum(crude, detection[~ok])
    if background is not None:
        # what the tumour's own expression of the kept anchors adds: f_obs = f + (1 - f) b
        floor = float(np.median(background.reindex(genes).fillna(0.0)))
        fraction, ci_low, ci_high = ((x - floor) / (1 - floor) for x in (fraction, ci_low, ci_high))
    return pd.DataFrame({"fraction": np.clip(fraction, 0, 1), "ci_low": np.clip(ci_low, 0, 1),
                         "ci_high": np.clip(ci_high, 0, 1), "n_anchors": n_use.astype(np.int64),
                         "spread": spread, "flag": np.where(ok, "", "few_anchors")}, index=counts.index)


def _estimate_with_interval(anchors: _Anchors, use: np.ndarray, low: np.ndarray, high: np.ndarray,
                            composition_sd: float, n_boot: int, level: float, dispersion: float,
                            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The estimate, its percentile-bootstrap interval and the spread, for samples with enough anchors in use."""
    shares = (low + high) / 2
    shares = shares / shares.sum()
    n_groups = len(shares)
    medians, spread = _group_medians(anchors.log_ratio, anchors.group_of, n_groups)
    sigma = float(np.median(spread))
    levels = _levels(medians, sigma, shares)
    alpha = _dispersion(anchors, levels, use, dispersion)
    n_used = np.maximum(use.sum(axis=0), 1)
    mean_count = np.where(use, anchors.counts, 0.0).sum(axis=0) / n_used
    noise_var = alpha + 1.0 / (mean_count + 0.5)
    estimate = _fractions(anchors, levels, _relative_levels(anchors, levels, sigma, noise_var), shares)
    if n_boot == 0:
        return estimate, estimate, estimate, spread
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(anchors.group_of == k) for k in range(n_groups)]
    pooled_var = noise_var / n_used
    replicates = np.empty((n_boot, len(estimate)))
    for b in range(n_boot):
        pick = np.concatenate([rng.choice(m, size=len(m), replace=True) for m in members if len(m)])
        drawn = rng.uniform(low, high)
        drawn = drawn / drawn.sum()
        boot_medians, boot_spread = _group_medians(anchors.log_ratio[:, pick], anchors.group_of[pick], n_groups)
        boot_sigma = float(np.median(boot_spread))
        boot_levels = _levels(boot_medians, boot_sigma, drawn)
        relative = _relative_levels(anchors, boot_levels, boot_sigma, noise_var)
        # the pooled anchor levels carry the count noise of the samples averaged
        relative = relative * np.exp(rng.normal(0.0, np.sqrt(pooled_var)) - pooled_var / 2)
        # the unseen rest of the host profile: its normaliser moves with the per-gene factors of its genes
        rest_sd = np.sqrt(np.expm1(boot_sigma ** 2)) * anchors.rest_sd_factor
        rest_factor = float(np.exp(rng.normal(0.0, rest_sd) - rest_sd ** 2 / 2))
        composition = float(np.exp(rng.normal(0.0, composition_sd)))
        replicates[b] = composition * _fractions(anchors, boot_levels, relative, drawn, rest_factor)
    tail = (1 - level) / 2
    lower, upper = np.quantile(replicates, [tail, 1 - tail], axis=0)
    return estimate, np.minimum(lower, estimate), np.maximum(upper, estimate), spread


#: The table's leading columns (the cell types of every host and ``split_note`` follow).
COLUMNS = ("sample", "site", "host", "fraction", "ci_low", "ci_high", "n_anchors", "anchor_spread", "flag")
NO_HOST_NOTE = "no host: the sample is host tissue itself or has none"
#: The cohort's gene-length column (``var``), if any.
LENGTH_COLUMN = "length"


def reference_ids(gene_ids: pd.Index, symbols: pd.Series | None, reference: HostReference) -> pd.Series:
    """The reference's Ensembl id of each cohort gene: by unversioned Ensembl id, else by symbol.

    A symbol is used only if it names one reference row and no cohort gene took that row by id; a reference id
    reached by two cohort genes keeps the first. Unmapped genes get ``""``.

    Parameters
    ----------
    gene_ids : pandas.Index
        The cohort's gene ids (``var_names``), Ensembl ids with or without a version.
    symbols : pandas.Series, optional
        Their symbols, aligned with ``gene_ids`` (the cohort's ``var["symbol"]``).
    reference : HostReference
        The host reference.

    Returns
    -------
    pandas.Series
        Reference id per cohort gene (index ``gene_ids``).
    """
    table = reference.table
    unversioned = pd.Series(gene_ids.astype(str).str.replace(r"\.\d+$", "", regex=True), index=gene_ids)
    by_id = unversioned.where(unversioned.isin(table.index), "")
    mapped = by_id.copy()
    if symbols is not None:
        free = table.loc[~table.index.isin(set(by_id[by_id != ""]))]
        free = free[~free[SYMBOL_COLUMN].duplicated(keep=False)]
        to_id = pd.Series(free.index, index=free[SYMBOL_COLUMN].to_numpy())
        by_symbol = pd.Series(symbols.to_numpy(), index=gene_ids).map(to_id).fillna("")
        mapped = by_id.where(by_id != "", by_symbol)
    mapped[mapped.duplicated() & (mapped != "")] = ""
    return mapped.rename("reference_id")


def mapped_genes(cohort: ad.AnnData, reference: HostReference) -> tuple[np.ndarray, pd.Index, pd.Series | None]:
    """The cohort genes the reference knows (mask over ``var_names``), their reference ids (:func:`reference_ids`)
    and, if the cohort has a ``length`` column, their lengths indexed by those ids."""
    symbols = cohort.var[SYMBOL_COLUMN] if SYMBOL_COLUMN in cohort.var.columns else None
    mapped = reference_ids(cohort.var_names, symbols, reference)
    keep = (mapped != "").to_numpy()
    universe = pd.Index(mapped[keep].to_numpy())
    lengths = None
    if LENGTH_COLUMN in cohort.var.columns:
        lengths = pd.Series(pd.to_numeric(cohort.var[LENGTH_COLUMN], errors="coerce").to_numpy()[keep],
                            index=universe)
    return keep, universe, lengths


#: Why a host's fractions are not estimable (``split_note`` of its samples; the adjustment's log repeats it).
NO_ANCHORS_NOTE = "no anchor gene among the cohort's genes"
ANCHORS_IN_TUMOUR_NOTE = "every anchor gene is made by the host-free tumour samples too"


def _not_estimable(samples: pd.Index, name: str, flag: str, note: str) -> pd.DataFrame:
    """Rows of samples whose host fraction cannot be estimated: NaN fraction and interval, ``flag``, ``note``."""
    return pd.DataFrame({"fraction": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_anchors": 0,
                         "anchor_spread": np.nan, "flag": flag, "split_note": note}, index=samples).assign(host=name)


def _host_rows(counts: pd.DataFrame, null_counts: pd.DataFrame, spec: HostSpec, name: str,
               reference: HostReference, seed: int, n_boot: int, level: float,
               lengths: pd.Series | None) -> pd.DataFrame:
    """Fraction, interval and split of the samples of one host."""
    universe = counts.columns
    anchors = anchor_genes(reference, spec, universe=universe) if len(universe) else []
    if not anchors:
        # Not an input error: the cohort is valid, its genes just cannot measure this host (e.g. ids that are
        # neither Ensembl ids nor HGNC symbols). Every sample is reported as not estimable, and the run goes on.
        LOG.warning("host %s: no anchor gene of the host reference is among the cohort's %d genes mapped to it "
                    "(are the gene ids Ensembl ids, or the symbols HGNC symbols?): fractions not estimable",
                    name, len(universe))
        return _not_estimable(counts.index, name, "no_anchors", NO_ANCHORS_NOTE)
    groups = anchor_groups(reference, spec, anchors, universe)
    profile = host_profile(reference, spec, universe, lengths)
    background, floor = None, 0.0
    if len(null_counts):
        background = anchor_background(null_counts, profile, anchors)
        above = int((background > spec.max_background).sum())
        LOG.info("host %s: %d anchors, %d above background %.2g in %d host-free tumour samples", name, len(anchors),
                 above, spec.max_background, len(null_counts))
        if above == len(anchors):
            # The tumours make every gene that should tell this host apart: not an input error either.
            LOG.warning("host %s: all %d anchor genes are made by the host-free tumour samples too (each above "
                        "%.2g of a host fraction): fractions not estimable", name, len(anchors), spec.max_background)
            return _not_estimable(counts.index, name, "anchors_in_tumour", ANCHORS_IN_TUMOUR_NOTE)
    else:
        floor = reference_floor(reference, spec, anchors, universe=universe)
        LOG.info("host %s: %d anchors; no host-free tumour sample: no background correction, lower ends below "
                 "%.2g (the reference's background) reported as 0", name, len(anchors), floor)
    estimate = estimate_host_fractions(counts, profile, groups, spec.shares, background=background,
                                       max_background=spec.max_background, floor=floor,
                                       composition_sd=spec.composition_sd, n_boot=n_boot, level=level, seed=seed)
    split = split_host(counts, estimate, reference, spec, lengths=lengths)
    return estimate.rename(columns={"spread": "anchor_spread"}).join(split).assign(host=name)


def write_admixture(cohort: ad.AnnData, site_hosts: Mapping[str, str], variable: str, reference: HostReference,
                    seed: int, out_table: str | Path, *, hosts: Mapping[str, HostSpec] = HOSTS, n_boot: int = 500,
                    level: float = 0.95) -> pd.DataFrame:
    """Estimate every sample's host fraction and write one row per sample (the admixture job).

    Samples of a site listed in ``site_hosts`` are estimated for that host
    (:func:`estimate_host_fractions` on the host's profile, anchors from
    :func:`~target_rationale.admixture.anchors.anchor_genes`, the cell-type split of
    :func:`~target_rationale.admixture.split.split_host`); the tumour samples of the other hosts' sites give the
    anchors' background (primaries for the liver, liver metastases for the exocrine pancreas). Samples of the
    other sites (normal tissue) get host ``""``, fraction 0 and a zero-width interval: normal tissue is the host
    itself (normal pancreas) or carries none, so nothing is to be removed from it.

    Parameters
    ----------
    cohort : anndata.AnnData
        Raw counts (samples x genes, ``X``), the sample sheet in ``obs``, gene ids as ``var_names`` and
        ``var["symbol"]``; with a ``var["length"]`` column (effective gene length, e.g. featureCounts' ``Length``)
        the reference is turned into shares of reads (:func:`~target_rationale.admixture.anchors.read_shares`),
        without it the reference's TPM-like levels are taken as shares of reads (right for 3' tag protocols).
    site_hosts : mapping of str to str
        Site level -> host (``"liver"`` or ``"exocrine_pancreas"``); levels not listed have no host.
    variable : str
        The sheet column holding the site.
    reference : HostReference
        The host reference.
    seed : int
        Seed of the bootstrap intervals.
    out_table : str or Path
        The TSV written.
    hosts : mapping of str to HostSpec
        The hosts' settings (default :data:`~target_rationale.admixture.anchors.HOSTS`).
    n_boot : int
        Bootstrap replicates.
    level : float
        Interval level.

    Returns
    -------
    pandas.DataFrame
        ``sample, site, host, fraction, ci_low, ci_high, n_anchors, anchor_spread`` (robust sd of the sample's
        anchor log ratios: how far the host's genes sit from the reference), ``flag``, then the cell types of every
        host in use (reads from each as fractions of all reads; NaN where not estimable or not of the sample's host) and
        ``split_note`` (why a cell type is NaN).

    Raises
    ------
    InputError
        One line, if ``variable`` is not a sheet column, a host is unknown, or no anchor is measured.
    """
    if variable not in cohort.obs.columns:
        raise InputError(f"admixture: the sample sheet has no column {variable!r} (columns: "
                         f"{listing(list(cohort.obs.columns))})")
    unknown = sorted({h for h in site_hosts.values() if h not in hosts})
    if unknown:
        raise InputError(f"admixture: unknown host(s) {listing(unknown)} in the site -> host map; known: "
                         f"{listing(list(hosts))}")
    sites = cohort.obs[variable].astype(str)
    absent = [level for level in site_hosts if level not in set(sites)]
    if absent:
        LOG.info("admixture: site level(s) %s of the host map are not in the cohort", listing(absent))
    keep, universe, lengths = mapped_genes(cohort, reference)
    matrix = cohort.X.toarray() if hasattr(cohort.X, "toarray") else np.asarray(cohort.X)
    counts = pd.DataFrame(matrix[:, keep], index=cohort.obs_names, columns=universe)
    LOG.info("admixture: %d of %d genes found in the host reference %s", int(keep.sum()), len(keep),
             reference.path.name)
    if lengths is not None:
        LOG.info("admixture: reference levels weighted by the cohort's gene lengths (%s)", LENGTH_COLUMN)
    host_of = sites.map(lambda s: site_hosts.get(s, ""))
    used = [h for h in hosts if (host_of == h).any()]
    cell_types = list(dict.fromkeys(c for h in used for c in host_cell_types(hosts[h], HOST_MARKERS)))
    parts = []
    for name in used:
        mine = (host_of == name).to_numpy()
        null = ((host_of != name) & (host_of != "")).to_numpy()
        parts.append(_host_rows(counts.loc[mine], counts.loc[null], hosts[name], name, reference, seed, n_boot,
                                level, lengths))
    none = host_of == ""
    parts.append(pd.DataFrame({"host": "", "fraction": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n_anchors": 0,
                               "anchor_spread": np.nan, "flag": "", NOTE_COLUMN: NO_HOST_NOTE},
                              index=cohort.obs_names[none.to_numpy()]))
    table = pd.concat(parts).reindex(cohort.obs_names)
    table.insert(0, "site", sites)
    table = table.rename_axis("sample").reset_index()
    table["n_anchors"] = table["n_anchors"].astype(np.int64)
    table = table.reindex(columns=[*COLUMNS, *cell_types, NOTE_COLUMN])
    write_tsv(table, out_table)
    LOG.info("admixture: wrote %s (%d samples: %s)", out_table, len(table),
             ", ".join(f"{h or 'no host'} {n}" for h, n in table["host"].value_counts(sort=False).items()))
    return table
