"""Site effects at zero admixture: the host's reads taken out of the counts before differential expression.

Admixture is additive on the count scale: a liver metastasis' expected count of gene ``g`` is
``size factor x ((1 - f) x tumour_g + f x host_g)``. A host-fraction covariate in the log-link GLM cannot remove a
gene that only the host expresses, so the workflow models the mixture where it happens (in-silico purification):

1. Expected host reads (:func:`purify_cohort`): ``e_sg = L_s x k_g x H_sg``, with ``L_s`` the sample's reads on
   the genes the reference knows (its host fraction ``f_s``, results/qc/admixture.tsv, is a share of those),
   ``H_sg`` the host's level of the gene in that sample and ``k_g`` a factor calibrating it to this cohort
   (:func:`calibrate_host_levels`: where the samples of a host show it, else 1). ``H_sg`` is
   the host's make-up in this cohort (:func:`fit_host_mix`: weights of the reference's tissue and cell-type
   profiles, fitted on every gene at once) at the sample's host fraction: its typical level over the host's
   samples (:func:`~target_rationale.admixture.host_levels.typical_levels`, the median of each sample's level,
   :func:`sample_host_levels`, over its fraction). Each sample's own cell mix (the liver split's cell types, as
   deviations from their typical share) is not followed: the split is an estimate, and as a regressor its
   noise pulled the calibration's factors towards 0 and left host reads in the purified counts
   (``benchmarks/admixture_calibration_calls.py``, variant ``typical_levels``); its deviation from the typical
   mix (:func:`cell_mix_deviation`) is a column of the make-up fit instead, so that the fit reads the host at its
   typical mix. Genes the reference lacks get a small floor level, so that the samples can show one.
2. Purified counts (:func:`purify_cohort`): ``round(max(count - e, 0))``; pydeseq2 fits them as it fits any
   counts (size factors on the purified library: the tumour's).
3. The extra variance (:mod:`.groups`: :func:`~.groups.host_variance`, :func:`~.groups.adjust_wald`): a real
   host differs from the reference gene by gene. Left in the purified count, the error ``delta`` of ``log k_g`` (sd
   ``sigma_g``: the calibration's posterior sd; where the samples cannot tell, the spread of a gene's level around
   the host's fitted make-up, or around the reference on the host's anchors when the make-up could not be fitted)
   makes the group's purified log level err by ``log((1 - s) / (1 - s exp(delta)))``, with ``s`` the host's share of
   the group's reads of that gene (about ``s / (1 - s) x delta`` when ``sigma_g`` is small; far more when the host's
   level is under-estimated, since its true share is then higher). This error is the same in every sample of a group
   (a per-gene factor), so its mean square over ``delta`` (:func:`~.groups.level_error_moment`) is added to the
   variance of the log fold change, one term per group when the two groups have different hosts (or one has none),
   the square of their difference (one ``delta``) when they have the same host. ``lfcSE``, ``stat``, ``pvalue`` and
   ``padj`` (Benjamini-Hochberg over the genes pydeseq2 kept) are recomputed with it, and the axis test
   (:mod:`target_rationale.targets.axis_test`) carries it too. The make-up itself errs as well, and that error is one
   for all the genes a cell type makes (a few metastases whose endothelial share follows their host fraction by
   chance misjudge every endothelial gene at once), so averaging over a gene set does not shrink it:
   :func:`make_up_draws` refits the make-up on resamples of the host's samples, and the axis test adds the set mean's
   error under those refits (:func:`~.groups.host_error_draws`). The DE tables, one gene at a time, do not carry it
   yet (for a minor cell type's genes it is as large as their own error).
4. Host-dominated genes: where the host makes at least ``threshold`` of a group's reads of a gene, its tumour
   level cannot be estimated; the gene is reported as such (``host_dominated``; no ``stat``, ``pvalue`` or
   ``padj``), so enrichment and axis evidence leave it out. So is a host-specific gene (an anchor: made by the
   host, not by the tumour) where the host makes at least ``SPECIFIC_SHARE`` of a group's reads of it: its
   residue after purification is the host's level misjudged (a real host's can be several-fold off the
   reference's), not tumour biology (:func:`~.groups.specific_genes`).

When a host's fractions cannot be estimated (no anchor among the cohort's genes), its samples are not purified,
the host's specific genes (its anchors) are marked host-dominated in every contrast with those samples, and the
log and the tables say that those contrasts are not adjusted (``host_share`` NaN).
"""

from __future__ import annotations

from collections.abc import Mapping

import anndata as ad
import numpy as np
import pandas as pd

from target_rationale.admixture.anchors import (
    HOSTS,
    HostSpec,
    anchor_genes,
    host_profile,
    read_shares,
)
from target_rationale.admixture.fractions import mapped_genes
from target_rationale.admixture.host_levels import (
    calibrate_host_levels,
    fit_host_mix,
    mix_components,
    typical_levels,
)
from target_rationale.admixture.reference import HOST_MARKERS, HostReference, MarkerSet
from target_rationale.admixture.split import host_cell_types
from target_rationale.core.io import write_atomic
from target_rationale.core.jobs import LOG

#: Layer of the adjusted cohort holding each count's expected host reads.
HOST_LAYER = "host_expected"
#: The least host level of a gene (a share of reads: 0.1 per million), so that the samples can show a host level
#: where the reference has none (:func:`calibrate_host_levels`).
LEVEL_FLOOR = 1e-7
#: Host share of a group's reads of one of its host's anchors from which the anchor is left untested
#: (:func:`~.groups.specific_genes`).
SPECIFIC_SHARE = 0.1
#: The largest true host share of a group's reads of a gene that :func:`~.groups.level_error_moment` allows.
MAX_TRUE_SHARE = 0.95
#: Fewest curated markers a minor cell type's split needs to enter :func:`cell_mix_deviation`.
DEVIATION_MARKERS = 2
#: Columns the adjustment adds to a contrast table.
HOST_COLUMNS = ["host_share", "host_dominated"]
#: Bootstrap refits of a host's make-up (:func:`make_up_draws`): the shared error of the genes each cell type makes.
MAKE_UP_DRAWS = 30
#: Seed of those refits' resampling (fixed: the adjusted cohort depends on the counts and the admixture table only).
MAKE_UP_SEED = 20261203


def _dense(matrix) -> np.ndarray:
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)


def reference_levels(cohort: ad.AnnData, reference: HostReference, profile: str | HostSpec,
                     specs: Mapping[str, HostSpec] = HOSTS) -> np.ndarray:
    """A host's reference profile (a host name) or one reference profile (a cell type), on the cohort's genes, as
    shares of the reads on the genes the reference knows; 0 for genes it does not know."""
    keep, universe, lengths = mapped_genes(cohort, reference)
    levels = np.zeros(cohort.n_vars)
    if keep.any():
        if isinstance(profile, str) and profile not in specs:
            values = read_shares(reference.profile(profile, universe), lengths)
        else:
            values = host_profile(reference, specs[profile] if isinstance(profile, str) else profile, universe,
                                  lengths)
        levels[keep] = values.reindex(universe).fillna(0.0).to_numpy()
    return levels


def _deviation(reads: np.ndarray, fraction: np.ndarray) -> np.ndarray | None:
    """A cell type's reads (shares of each sample's reads; NaN where not estimated) less their typical share of
    the host's reads (the median of ``reads / f`` over the samples with ``f > 0``) at each sample's fraction; 0
    where not estimated; None when no sample has both."""
    ratio = np.divide(reads, fraction, out=np.full(len(reads), np.nan), where=fraction > 0)
    if not np.isfinite(ratio).any():
        return None
    typical = float(np.nanmedian(ratio))
    return np.where(np.isfinite(reads), reads - typical * fraction, 0.0)


def sample_host_levels(cohort: ad.AnnData, table: pd.DataFrame, reference: HostReference, host: str,
                       specs: Mapping[str, HostSpec] = HOSTS, baseline: np.ndarray | None = None) -> np.ndarray:
    """Each sample's expected host reads per gene as shares of its reads, from its own cell mix
    (:func:`purify_cohort` takes their typical level over the host's samples,
    :func:`~target_rationale.admixture.host_levels.typical_levels`).

    ``f_s h + sum_c (x_sc - f_s pi_c) q_c`` (at least 0): the host's mean profile ``h`` (``baseline``: its
    make-up fitted on the cohort, :func:`fit_host_mix`; by default the reference's tissue profile) at the
    sample's host fraction, moved by how far the sample's profiled cell types (the split's columns of
    results/qc/admixture.tsv, ``x_sc``, with their reference profiles ``q_c``) are from their typical share of
    the host's reads in this cohort (``pi_c``, the median of ``x_sc / f_s``). Deviations, not the split's reads
    themselves: single-cell profiles and their markers differ from bulk tissue in scale, and the split caps a
    cell type at the host fraction, so taken as they are the split's reads would crowd out the host's other
    cells (the liver's endothelium and stroma).

    Parameters
    ----------
    cohort : anndata.AnnData
        The cohort (its genes and lengths).
    table : pandas.DataFrame
        results/qc/admixture.tsv indexed by sample, rows of the samples wanted.
    reference : HostReference
        The host reference.
    host : str
        The host.
    specs : mapping of str to HostSpec
        The hosts' settings.
    baseline : numpy.ndarray, optional
        The host's mean profile over the cohort's genes (shares of reads); default the reference's tissue
        profile.

    Returns
    -------
    numpy.ndarray
        ``len(table)`` x genes.
    """
    fraction = pd.to_numeric(table["fraction"], errors="coerce").fillna(0.0).to_numpy()
    cells = [c for c in host_cell_types(specs[host]) if c in table.columns and c in reference.profiles]
    if baseline is None:
        baseline = reference_levels(cohort, reference, host, specs)
    levels = fraction[:, None] * baseline[None, :]
    for cell in cells:
        deviation = _deviation(pd.to_numeric(table[cell], errors="coerce").to_numpy(), fraction)
        if deviation is not None:
            levels += deviation[:, None] * reference_levels(cohort, reference, cell, specs)[None, :]
    levels = np.maximum(levels, 0.0)
    return levels + fraction[:, None] * LEVEL_FLOOR


def cell_mix_deviation(table: pd.DataFrame, reference: HostReference, host: str,
                       specs: Mapping[str, HostSpec] = HOSTS,
                       markers: Mapping[str, MarkerSet] = HOST_MARKERS) -> np.ndarray | None:
    """Each sample's cell-mix deviation: the split's reads of the host's minor cell types (columns of
    results/qc/admixture.tsv; those with a reference profile and at least :data:`DEVIATION_MARKERS` curated
    markers, not the host's main cell type: the liver's Kupffer cells), summed, less their typical share of the
    host's reads (the median of ``x_s / f_s``) at the sample's host fraction. A column for
    :func:`~target_rationale.admixture.host_levels.fit_host_mix`: the host's make-up is read at its typical
    mix. One column: a host's samples are few (10 metastases in the benchmark's cohorts), and each column costs
    the line a degree of freedom. The liver's cholangiocytes (one marker, ANXA13) are left out: their split
    read 2-6 times the simulated share, and with them in the sum (then also a column of the calibration) the
    two worst seeds of the admixture-only null kept a Kupffer weight of 0.01 and 0.00 and called 125 and 369
    genes up, against 0.03 and 0.08, 81 and 74 with the Kupffer split alone
    (``benchmarks/results/admixture_null_calls_deviation_sum.json``, ``admixture_null_calls.json``).

    Parameters
    ----------
    table : pandas.DataFrame
        results/qc/admixture.tsv indexed by sample, rows of the host's samples.
    reference : HostReference
        The host reference.
    host : str
        The host.
    specs : mapping of str to HostSpec
        The hosts' settings.
    markers : mapping of str to MarkerSet
        The curated markers (default :data:`~target_rationale.admixture.reference.HOST_MARKERS`).

    Returns
    -------
    numpy.ndarray or None
        ``len(table)`` x 1; None when the host has no such cell type, fewer than two samples have a positive
        fraction and a split or the deviations do not vary (a cell type the split estimated in no sample is left
        out; a sample whose split is missing counts as typical: deviation 0).
    """
    spec = specs[host]
    cells = [c for c in host_cell_types(spec, dict(markers)) if c in table.columns and c in reference.profiles
             and c != spec.main_cell_type and len(markers[c].genes) >= DEVIATION_MARKERS]
    fraction = pd.to_numeric(table["fraction"], errors="coerce").to_numpy(float)
    if not cells or not (fraction > 0).any():
        return None
    x = table[cells].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    x = x[:, np.isfinite(x).any(axis=0)]                 # a cell type the split could not estimate anywhere
    known = np.isfinite(x).all(axis=1) & (fraction > 0)
    if known.sum() < 2:
        return None
    reads = np.where(known, x.sum(axis=1), np.nan)
    deviation = _deviation(reads, fraction)
    varies = float(np.ptp(deviation)) > 1e-9 * float(np.abs(reads[known]).max())   # not rounding alone
    return deviation[:, None] if varies else None


def make_up_draws(counts: np.ndarray, library: np.ndarray, fractions: np.ndarray, components: np.ndarray,
                  table: pd.DataFrame, reference: HostReference, host: str, specs: Mapping[str, HostSpec] = HOSTS,
                  n_draws: int = MAKE_UP_DRAWS, seed: int = MAKE_UP_SEED) -> np.ndarray:
    """The host's make-up refitted on bootstrap resamples of its samples (:func:`fit_host_mix` as
    :func:`purify_cohort` calls it, cell-mix deviations recomputed on each resample): draws x profiles.

    A few weights fitted on thousands of genes are precise gene by gene but not sample by sample: a host's cell mix
    varies between biopsies, and in a cohort's few samples the share of a minor cell type can follow the host
    fraction by chance, which moves that cell type's weight and with it every gene the cell type makes (on a
    simulated admixture-only null of 18 patients the liver endothelium's weight came out at 0.004 against a
    true 0.033, and the VEGFR axis was flagged). Resampling the samples reproduces that error; the axis test
    carries it as one error shared by the genes (:func:`~.groups.host_error_draws`). Each refit is the mix again
    (``select=False``): the cohort's fit chose the mix over the tissue profile, and a resample, with about two
    thirds of the samples distinct, loses that choice far more often than a new cohort of the same size would (on
    the demo 70% of the refits fell back to the tissue profile, whose EGFR ligands AREG and EREG are 3-4 times
    lower, and the EGFR axis lost its flag; on two admixed nulls of 18 patients the VEGFR flag that the
    fallback's draws left went away: ``benchmarks/admixture_axis_flags.py``). A resample the fit cannot use at
    all (too little spread, a singular line) keeps the tissue profile, as the fit itself would.

    Parameters
    ----------
    counts, library, fractions, components
        As :func:`fit_host_mix` takes them (the host's usable samples).
    table : pandas.DataFrame
        Those samples' rows of results/qc/admixture.tsv (the split's columns, for the deviations).
    reference, host, specs
        As :func:`cell_mix_deviation` takes them.
    n_draws : int
        Resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    numpy.ndarray
        ``n_draws`` x profiles, each row summing to 1.
    """
    rng = np.random.default_rng(seed)
    n = len(fractions)
    draws = np.empty((n_draws, len(components)))
    for b in range(n_draws):
        pick = np.sort(rng.integers(0, n, size=n))
        deviation = cell_mix_deviation(table.iloc[pick], reference, host, specs)
        draws[b] = fit_host_mix(counts[pick], library[pick], fractions[pick], components, deviations=deviation,
                                select=False)[0]
    return draws


def draws_key(host: str) -> str:
    """``varm`` key of the adjusted cohort holding a host's make-up draws (:func:`purify_cohort`)."""
    return f"host_make_up_draws_{host}"


def host_specific_genes(cohort: ad.AnnData, reference: HostReference, host: str,
                        specs: Mapping[str, HostSpec] = HOSTS) -> list[str]:
    """The cohort's gene ids that are the host's anchors (expressed by it, absent from the tumour): what the
    fallback leaves out of enrichment and axis evidence when the host's fractions cannot be estimated."""
    keep, universe, _ = mapped_genes(cohort, reference)
    anchors = set(anchor_genes(reference, specs[host], universe=universe)) if len(universe) else set()
    ids = cohort.var_names[keep]
    return [str(g) for g, r in zip(ids, universe) if r in anchors]


def level_column(host: str) -> str:
    """``var`` column of the adjusted cohort with the factor calibrating the host's reference level of each gene
    to this cohort (:func:`calibrate_host_levels`)."""
    return f"host_level_{host}"


def sd_column(host: str) -> str:
    """``var`` column of the adjusted cohort with the uncertainty (sd, log) of that factor."""
    return f"host_level_sd_{host}"


def purify_cohort(cohort: ad.AnnData, admixture: pd.DataFrame, reference: HostReference,
                  specs: Mapping[str, HostSpec] = HOSTS) -> ad.AnnData:
    """The cohort with each sample's expected host reads taken out (see the module docstring).

    Parameters
    ----------
    cohort : anndata.AnnData
        Raw counts (samples x genes) and the sample sheet.
    admixture : pandas.DataFrame
        results/qc/admixture.tsv: ``sample, host, fraction, anchor_spread, flag``, one row per sample.
    reference : HostReference
        The host reference.
    specs : mapping of str to HostSpec
        The hosts' settings.

    Returns
    -------
    anndata.AnnData
        Same samples and genes; ``X`` the purified counts (int64), ``layers["host_expected"]`` the expected host
        reads, ``obs`` with ``host`` and ``host_fraction``, ``var`` with each host's calibration factor and its sd
        (:func:`level_column`, :func:`sd_column`); ``uns["admixture"]``: ``profile_sd`` (host -> the spread of
        a gene's level around the host's fitted make-up, :func:`fit_host_mix`; where it could not be fitted, the
        host's spread around the reference on its anchors), ``mix`` (host -> profile -> weight: its make-up,
        :func:`fit_host_mix`), ``calibrated`` (host -> whether the samples corrected the
        reference), ``not_estimable`` (host -> reason), ``host_specific`` (host -> the ids of its anchors:
        :func:`host_specific_genes`) and ``make_up_draws`` (their number, seed and hosts);
        ``varm[draws_key(host)]`` for each host whose make-up was fitted: genes x :data:`MAKE_UP_DRAWS`, the log
        error of each gene's host level under each refit of the make-up (:func:`make_up_draws`) times the share of
        it the gene's calibration leaves.
    """
    table = admixture.set_index("sample").reindex(cohort.obs_names)
    hosts = table["host"].fillna("").astype(str)
    fractions = pd.to_numeric(table["fraction"], errors="coerce")
    spread = pd.to_numeric(table.get("anchor_spread", pd.Series(np.nan, index=table.index)), errors="coerce")
    counts = _dense(cohort.X)
    keep, _, _ = mapped_genes(cohort, reference)
    library = counts[:, keep].sum(axis=1)
    expected = np.zeros_like(counts)
    var = cohort.var.copy()
    profile_sd, calibrated, not_estimable, specific, mix, draws = {}, {}, {}, {}, {}, {}
    for name in sorted({h for h in hosts if h}):
        mine = (hosts == name).to_numpy()
        known = mine & fractions.notna().to_numpy()
        specific[name] = host_specific_genes(cohort, reference, name, specs)
        if (mine & ~known).any():
            notes = table.loc[mine & ~known].get("split_note", pd.Series(dtype=object))
            not_estimable[name] = str(notes.dropna().iloc[0]) if notes.notna().any() else "no fraction"
            LOG.warning("admixture: %s fractions not estimable (%s): those samples are not purified; the %d "
                        "%s-specific genes are left out of their contrasts' enrichment and axis evidence", name,
                        not_estimable[name], len(specific[name]), name)
        usable = known & (table["flag"].fillna("") == "").to_numpy()
        values = spread[usable].dropna()
        profile_sd[name] = float(values.median()) if len(values) else 0.0
        f = fractions.to_numpy()
        names = mix_components(reference, name, specs)
        components = np.vstack([reference_levels(cohort, reference, c, specs) for c in names])
        deviation = cell_mix_deviation(table.loc[usable], reference, name, specs)
        weights, mix_spread, mixed = fit_host_mix(counts[usable], library[usable], f[usable], components,
                                                  deviations=deviation)
        if mixed:
            profile_sd[name] = mix_spread
        mix[name] = {c: float(w) for c, w in zip(names, weights) if w > 0}
        LOG.info("admixture: %s make-up %s: %s", name, "fitted on the samples" if mixed else "the reference tissue",
                 ", ".join(f"{c} {w:.2f}" for c, w in mix[name].items()))
        prior = typical_levels(sample_host_levels(cohort, table.loc[known], reference, name, specs,
                                                  baseline=weights @ components), f[known])
        factor, log_sd, calibrated[name] = calibrate_host_levels(
            counts[known][usable[known]], library[usable], f[usable], prior[usable[known]], profile_sd[name])
        var[level_column(name)], var[sd_column(name)] = factor, log_sd
        expected[known] = library[known][:, None] * prior * factor[None, :]
        if mixed:  # the make-up's own error, shared by the genes of each cell type (make_up_draws)
            refits = make_up_draws(counts[usable], library[usable], f[usable], components, table.loc[usable],
                                   reference, name, specs)
            shift = np.log(refits @ components + LEVEL_FLOOR) - np.log(weights @ components + LEVEL_FLOOR)
            # the part of a level's error that its calibration leaves: all of it where the samples cannot tell,
            # little where they fixed the gene's factor (posterior over prior variance)
            left = np.clip((log_sd / profile_sd[name]) ** 2, 0.0, 1.0) if calibrated[name] else 1.0
            draws[name] = (shift * left).T.astype(np.float32)
            LOG.info("admixture: %s make-up refitted on %d resamples of its samples: %s", name, len(refits),
                     ", ".join(f"{c} {np.mean(refits[:, j]):.2f} (sd {np.std(refits[:, j]):.2f})"
                               for j, c in enumerate(names) if weights[j] > 0))
        LOG.info("admixture: %s levels %s (%d samples, fraction sd %.2f); spread of a gene's level %.2f (log; %s)",
                 name, "calibrated on the samples" if calibrated[name] else "from the reference alone",
                 int(usable.sum()), float(np.std(f[usable])) if usable.any() else 0.0, profile_sd[name],
                 "around the fitted make-up" if mixed else "the anchors' around the reference")
    purified = np.rint(np.maximum(counts - expected, 0.0)).astype(np.int64)
    adjusted = ad.AnnData(X=purified, obs=cohort.obs.copy(), var=var)
    adjusted.layers[HOST_LAYER] = expected.astype(np.float32)
    for name, values in draws.items():
        adjusted.varm[draws_key(name)] = values
    adjusted.obs["host"] = hosts.to_numpy()
    adjusted.obs["host_fraction"] = fractions.fillna(0.0).where(hosts != "", 0.0).to_numpy()
    adjusted.uns["admixture"] = {"profile_sd": profile_sd, "calibrated": calibrated, "mix": mix,
                                 "not_estimable": not_estimable, "host_specific": specific,
                                 "make_up_draws": {"n": MAKE_UP_DRAWS, "seed": MAKE_UP_SEED, "hosts": sorted(draws)}}
    removed = expected.sum(axis=1) / np.maximum(counts.sum(axis=1), 1)
    LOG.info("admixture: expected host reads removed per sample: median %.1f%%, max %.1f%%",
             100 * float(np.median(removed)), 100 * float(removed.max()))
    return adjusted


def write_adjusted_cohort(cohort: ad.AnnData, admixture: pd.DataFrame, reference: HostReference,
                          out_h5ad: str) -> ad.AnnData:
    """Rule ``purify``: :func:`purify_cohort`, written as h5ad (the uns dictionaries as plain values)."""
    adjusted = purify_cohort(cohort, admixture, reference)
    info = adjusted.uns["admixture"]
    adjusted.uns["admixture"] = {
        "profile_sd": {k: float(v) for k, v in info["profile_sd"].items()},
        "mix": {k: {c: float(w) for c, w in v.items()} for k, v in info["mix"].items()},
        "calibrated": {k: str(bool(v)).lower() for k, v in info["calibrated"].items()},
        "not_estimable": dict(info["not_estimable"]),
        "host_specific": {k: np.asarray(v, dtype=str) for k, v in info["host_specific"].items()},
        "make_up_draws": {"n": int(info["make_up_draws"]["n"]), "seed": int(info["make_up_draws"]["seed"]),
                          "hosts": np.asarray(info["make_up_draws"]["hosts"], dtype=str)},
    }
    write_atomic(out_h5ad, lambda tmp: adjusted.write_h5ad(tmp))
    return adjusted
