"""The calibrated axis test (rule ``axis_tests``): one self-contained gene-set test per contrast x axis.

Each axis' measured genes (receptors, ligands, markers: the genes of its per-sample score) are tested together
with limma's ``fry`` (:mod:`~target_rationale.engines.rotation`) on the variance-stabilised matrix the scores use
(admixture-adjusted when adjustment is on), with the contrast's own design (``~ patient + site`` pairs the
samples of a patient) over the contrast's samples. The rotation null is formed from the set's genes together, so
a programme its genes share and that varies between patients (stroma, immune infiltrate) widens the null instead
of passing for a group difference. The flag rule (:mod:`.flags`) takes Holm across axes x contrasts and an
effect-size floor on the ``effect`` written here.

With the host-tissue adjustment on, each gene's change carries the error of the host level taken out of its
counts (:func:`host_terms`): its own, independent of the other genes', and the error of the host's make-up,
shared by the genes each cell type makes (the liver's endothelium for the VEGFR receptors), from refits of the
make-up on resampled samples (:func:`~target_rationale.admixture.adjust.make_up_draws`): fry adds the mean
square of the set mean's error over those refits, which averaging over the set's genes does not shrink.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import anndata as ad
import numpy as np
import pandas as pd

from target_rationale.admixture.adjust import HOST_LAYER
from target_rationale.admixture.groups import (
    HostReads,
    host_error_draws,
    host_variance,
    specific_genes,
)
from target_rationale.cohort.design import Contrast, contrast_design_matrix
from target_rationale.core.io import write_tsv
from target_rationale.core.jobs import LOG
from target_rationale.engines.downdate import Residuals
from target_rationale.engines.rotation import contrast_design, fry, residual_variances
from target_rationale.targets.config import axis_genes

TEST_COLUMNS = ["contrast", "axis", "test_n_genes", "test_effect", "test_t", "test_df", "test_p",
                "test_host_dominated"]


@dataclass(frozen=True)
class AxisData:
    """What the axis tests read, taken out of the AnnData objects once for the many fits of a leave-one-out or a
    bootstrap (each fit then indexes arrays instead of slicing AnnData objects; the numbers are the same).

    Attributes
    ----------
    y : numpy.ndarray
        Samples x genes: the matrix tested (``qc.layers[layer]``, log2 scale), as floats.
    var : pandas.DataFrame
        The genes (``qc.var``, with ``symbol``).
    measured : dict of str to list of str
        Axis -> gene ids of its measured genes (:func:`~target_rationale.targets.config.axis_genes`).
    rows : dict of str to int
        Sample -> its row of ``y``.
    host : HostReads or None
        The adjusted cohort's host reads (None when the host-tissue adjustment is off or took nothing out).
    host_rows : dict of str to int
        Sample -> its row in ``host``.
    """

    y: np.ndarray
    var: pd.DataFrame
    measured: dict[str, list[str]]
    rows: dict[str, int]
    host: HostReads | None
    host_rows: dict[str, int]

    @classmethod
    def of(cls, qc: ad.AnnData, axes: Mapping[str, Sequence[str]], layer: str = "vst",
           adjusted: ad.AnnData | None = None) -> AxisData:
        """The arrays of ``qc`` (``layers[layer]``, ``var``) and of ``adjusted`` (its host reads, if any, of the
        genes the tests read: the axes' and the host-specific ones)."""
        measured = {name: axis_genes(qc.var, genes) for name, genes in axes.items()}
        host = None
        if adjusted is not None and HOST_LAYER in adjusted.layers:
            specific = adjusted.uns.get("admixture", {}).get("host_specific", {})
            read = [g for ids in [*measured.values(), *specific.values()] for g in map(str, ids)]
            host = HostReads.of(adjusted, [g for g in dict.fromkeys(read) if g in adjusted.var_names])
        return cls(y=np.asarray(qc.layers[layer], dtype=float), var=qc.var, measured=measured,
                   rows={str(s): i for i, s in enumerate(qc.obs_names)}, host=host,
                   host_rows={} if host is None else {str(s): i for i, s in enumerate(adjusted.obs_names)})


@dataclass(frozen=True)
class ContrastFit:
    """A contrast's fit on all its samples, from which a fit without some of them takes its variance prior
    (:class:`~target_rationale.engines.downdate.Residuals`: the residual sums of squares downdated instead of a
    pass over every gene)."""

    samples: list[str]
    residuals: Residuals

    @classmethod
    def of(cls, data: AxisData, sheet: pd.DataFrame, contrast: Contrast) -> ContrastFit:
        """The fit of ``contrast`` over ``sheet``'s samples."""
        samples, design, _ = contrast_design_matrix(sheet, contrast, data.rows)
        return cls(samples, Residuals.of(data.y, design.to_numpy(dtype=float), [data.rows[s] for s in samples]))

    def variances(self, samples: Sequence[str], design: np.ndarray) -> np.ndarray | None:
        """Every gene's residual variance on ``samples`` (a subset of the fit's, in its order) under ``design``;
        None when the downdate does not apply (other samples or order, a design spanning something else)."""
        position = {s: i for i, s in enumerate(self.samples)}
        kept = [position.get(s, -1) for s in samples]
        if min(kept, default=-1) < 0 or kept != sorted(kept) or len(samples) <= design.shape[1]:
            return None
        rss = self.residuals.without(sorted(set(range(len(self.samples))) - set(kept)), design)
        return None if rss is None else rss / (len(samples) - design.shape[1])


def host_terms(data: AxisData, sheet: pd.DataFrame, contrast: Contrast, genes: pd.Index,
               host_dominated: float) -> tuple[np.ndarray | None, np.ndarray | None, set[str]]:
    """The added variance (log2 units squared) of each gene's change in ``contrast``, the draws of the error its
    genes share through the hosts' make-up (genes x draws, log2; None where no make-up was fitted) and the
    host-dominated gene ids, from the adjusted cohort's host reads (none: no added variance, none dominated).
    ``sheet`` holds the contrast's samples; each side's host is
    :func:`~target_rationale.admixture.groups.group_host`'s."""
    if data.host is None:
        return None, None, set()
    levels = sheet[contrast.variable].astype(str)
    target, reference = (data.host.group([data.host_rows[s] for s in sheet.index[levels == level]])
                         for level in (contrast.target, contrast.reference))
    specific = specific_genes(data.host.adjusted, [target, reference])
    variance, dominated = host_variance(genes, target, reference, host_dominated, specific)
    draws = host_error_draws(genes, target, reference, dominated)
    return (variance / np.log(2) ** 2, None if draws is None else draws / np.log(2), set(genes[dominated]))


def fry_contrast(qc: ad.AnnData, sheet: pd.DataFrame, contrast: Contrast,
                 axes: Mapping[str, Sequence[str]], layer: str = "vst", adjusted: ad.AnnData | None = None,
                 host_dominated: float = 1.0) -> pd.DataFrame:
    """fry of every axis in one contrast.

    Parameters
    ----------
    qc : anndata.AnnData
        Samples x genes with ``layers[layer]`` (log2 scale) and ``var['symbol']``.
    sheet : pandas.DataFrame
        Sample sheet indexed by sample (the design's variables).
    contrast : Contrast
        Its ``samples`` subset and ``design`` formula are used as the DE uses them.
    axes : mapping of str to sequence of str
        Gene symbols of each axis.
    layer : str
    adjusted : anndata.AnnData, optional
        The adjusted cohort (rule ``purify``) when the host-tissue adjustment is on.
    host_dominated : float
        Config ``admixture.host_dominated``.

    Returns
    -------
    pandas.DataFrame
        :data:`TEST_COLUMNS`: the number of the axis' genes tested, ``test_effect`` (mean over them of the
        contrast's log2 change on ``layer``), fry's ``test_t``, residual ``test_df`` and two-sided ``test_p``
        (NaN without tested genes), and the symbols of the axis' host-dominated genes left out.
    """
    return fry_axes(AxisData.of(qc, axes, layer, adjusted), sheet, contrast, host_dominated)


def fry_axes(data: AxisData, sheet: pd.DataFrame, contrast: Contrast, host_dominated: float = 1.0,
             full: ContrastFit | None = None) -> pd.DataFrame:
    """:func:`fry_contrast` on arrays read once (:class:`AxisData`); ``sheet``'s samples are looked up in
    ``data.rows`` (and ``data.host_rows``). ``full``: the contrast's fit on more samples, from which the
    variance prior is downdated when it applies (else every gene's residuals are computed)."""
    samples, design, vector = contrast_design_matrix(sheet, contrast, data.rows)
    positions = [data.rows[s] for s in samples]
    tested = pd.Index(list(dict.fromkeys(g for ids in data.measured.values() for g in ids)))
    extra, draws, dominated = host_terms(data, sheet.loc[samples], contrast, tested, host_dominated)
    var_names = data.var.index
    members = sorted({var_names.get_loc(g) for ids in data.measured.values() for g in ids if g not in dominated})
    at = {gene: k for k, gene in enumerate(members)}
    sets = {name: [at[var_names.get_loc(g)] for g in ids if g not in dominated]
            for name, ids in data.measured.items()}
    y = data.y[np.ix_(positions, members)].T  # the sets' genes; every gene informs fry's prior through its variance
    if extra is not None:
        extra = pd.Series(extra, index=tested).reindex(var_names[members], fill_value=0.0).to_numpy()
    if draws is not None:
        draws = pd.DataFrame(draws, index=tested).reindex(var_names[members], fill_value=0.0).to_numpy()
    reparametrised = contrast_design(design.to_numpy(dtype=float), vector)  # the contrast is the last coefficient
    variances = None if full is None else full.variances(samples, reparametrised)
    if variances is None:
        variances = residual_variances(data.y.T, reparametrised, samples=positions)
    result = fry(y, reparametrised, sets, extra_variance=extra, variances=variances, extra_draws=draws)
    change = np.linalg.lstsq(reparametrised, y.T, rcond=None)[0][-1] if members else np.empty(0)
    df = len(samples) - design.shape[1]
    rows = []
    for name, index in sets.items():
        effect = float(np.mean([change[i] for i in index])) if index else np.nan
        left_out = ",".join(str(data.var.loc[g, "symbol"]) for g in data.measured[name] if g in dominated)
        rows.append([contrast.name, name, len(index), effect, result.loc[name, "t"], df,
                     result.loc[name, "p_value"], left_out])
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def axis_tests(qc: ad.AnnData, sheet: pd.DataFrame, contrasts: Iterable[Contrast],
               axes: Mapping[str, Sequence[str]], layer: str = "vst", adjusted: ad.AnnData | None = None,
               host_dominated: float = 1.0) -> pd.DataFrame:
    """:func:`fry_contrast` for every contrast, one table (contrast x axis rows, in the contrasts' order)."""
    data = AxisData.of(qc, axes, layer, adjusted)
    tables = [fry_axes(data, sheet, contrast, host_dominated) for contrast in contrasts]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=TEST_COLUMNS)
    for row in table.itertuples():
        LOG.info("axis test %s / %s: %d genes, effect %.2f log2, t %.2f on %d df, p %.2g", row.contrast, row.axis,
                 row.test_n_genes, row.test_effect, row.test_t, row.test_df, row.test_p)
    return table


def leave_one_out(qc: ad.AnnData, sheet: pd.DataFrame, contrasts: Iterable[Contrast],
                  axes: Mapping[str, Sequence[str]], unit: str = "patient", layer: str = "vst",
                  adjusted: ad.AnnData | None = None, host_dominated: float = 1.0) -> pd.DataFrame:
    """:func:`axis_tests` once per patient left out (per sample when the sheet has no ``unit`` column).

    The variance-stabilised matrix is the full cohort's (the VST is design-blind; refitting its trend per fit
    would change little and cost a pydeseq2 fit each). A contrast that cannot be tested without the patient (no
    residual degrees of freedom, a level gone) is left out of that fit, with a log line. Each fit's variance
    prior is downdated from the contrast's fit on every patient (:class:`ContrastFit`; the same numbers as a
    direct fit, to rounding) instead of a pass over every gene.

    Returns
    -------
    pandas.DataFrame
        ``left_out`` and :data:`TEST_COLUMNS`, one block per fit.
    """
    contrasts = list(contrasts)
    units = sheet[unit].astype(str) if unit in sheet.columns else pd.Series(sheet.index, index=sheet.index)
    data = AxisData.of(qc, axes, layer, adjusted)
    blocks = {}
    for k, contrast in enumerate(contrasts):  # one contrast's full fit in memory at a time
        try:
            full = ContrastFit.of(data, sheet, contrast)
        except (ValueError, np.linalg.LinAlgError):
            full = None  # every fit without a patient computes its own prior
        for u, left_out in enumerate(dict.fromkeys(units)):
            try:
                block = fry_axes(data, sheet.loc[units != left_out], contrast, host_dominated, full)
            except (ValueError, np.linalg.LinAlgError) as err:
                LOG.info("leave-one-out without %s: %s not tested (%s)", left_out, contrast.name, err)
                continue
            blocks[u, k] = block.assign(left_out=left_out)
    ordered = [blocks[key] for key in sorted(blocks)]  # by patient, then contrast
    table = pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame(columns=TEST_COLUMNS)
    LOG.info("leave-one-out: %d fits of %s", units.nunique(), unit if unit in sheet.columns else "sample")
    return table.reindex(columns=["left_out", *TEST_COLUMNS])


def resampled_sheet(sheet: pd.DataFrame, positions: np.ndarray, names: list[str], units: list[str],
                    unit: str) -> pd.DataFrame:
    """The rows ``positions`` of ``sheet`` (repeats allowed) renamed ``names``, with the ``unit`` column set to
    ``units`` (a patient drawn twice is two patients)."""
    obs = sheet.iloc[positions].copy()
    obs.index = names
    if unit in obs.columns:
        obs[unit] = units
    return obs


def bootstrap(qc: ad.AnnData, sheet: pd.DataFrame, contrasts: Iterable[Contrast],
              axes: Mapping[str, Sequence[str]], replicates: int, seed: int, unit: str = "patient",
              layer: str = "vst", adjusted: ad.AnnData | None = None, host_dominated: float = 1.0) -> pd.DataFrame:
    """:func:`axis_tests` on ``replicates`` resamples of the patients (drawn with replacement, all of a patient's
    samples together; samples when the sheet has no ``unit`` column), seeded with ``seed``.

    As in :func:`leave_one_out`, the variance-stabilised matrix and the host levels are the full cohort's; a
    contrast that a resample cannot test (a level without samples, no residual degrees of freedom) is left out of
    it.

    Returns
    -------
    pandas.DataFrame
        ``replicate`` and :data:`TEST_COLUMNS`, one block per resample.
    """
    contrasts = list(contrasts)
    sheet = sheet.loc[sheet.index.isin(qc.obs_names)]
    labels = sheet[unit].astype(str) if unit in sheet.columns else pd.Series(sheet.index, index=sheet.index)
    members = {u: [qc.obs_names.get_loc(s) for s in labels.index[labels == u]] for u in dict.fromkeys(labels)}
    pool = list(members)
    rng = np.random.default_rng(seed)
    data = AxisData.of(qc, axes, layer, adjusted)
    blocks = []
    for replicate in range(replicates):
        drawn = rng.choice(len(pool), size=len(pool), replace=True)
        positions, names, units = [], [], []
        for copy, index in enumerate(drawn):
            for position in members[pool[index]]:
                positions.append(position)
                names.append(f"{qc.obs_names[position]}#{copy}")
                units.append(f"{pool[index]}#{copy}")
        obs = resampled_sheet(sheet.reindex(qc.obs_names), np.asarray(positions), names, units, unit)
        originals = [str(qc.obs_names[p]) for p in positions]
        resample = replace(data, rows={n: data.rows[o] for n, o in zip(names, originals)},
                           host_rows={n: data.host_rows[o] for n, o in zip(names, originals)} if data.host else {})
        for contrast in contrasts:
            try:
                block = fry_axes(resample, obs, contrast, host_dominated)
            except (ValueError, np.linalg.LinAlgError):
                continue
            blocks.append(block.assign(replicate=replicate))
    table = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=TEST_COLUMNS)
    LOG.info("bootstrap: %d resamples of %d %ss (seed %d), %d contrast fits", replicates, len(pool),
             unit if unit in sheet.columns else "sample", seed, len(blocks))
    return table.reindex(columns=["replicate", *TEST_COLUMNS])


def without_make_up_draws(adjusted: ad.AnnData) -> ad.AnnData:
    """The adjusted cohort without its make-up draws (``varm``), its arrays shared, not copied: the axis test
    then carries each gene's own host-level error only."""
    return ad.AnnData(X=adjusted.X, obs=adjusted.obs, var=adjusted.var, uns=dict(adjusted.uns),
                      layers=dict(adjusted.layers))


def write_axis_tests(qc: ad.AnnData, sheet: pd.DataFrame, contrasts: Iterable[Contrast],
                     axes: Mapping[str, Sequence[str]], out_table: str, out_loo: str, out_bootstrap: str,
                     replicates: int = 0, seed: int = 0, adjusted: ad.AnnData | None = None,
                     host_dominated: float = 1.0, make_up_error: bool = True) -> pd.DataFrame:
    """Rule ``axis_tests``: the tables of :func:`axis_tests`, :func:`leave_one_out` and :func:`bootstrap`
    (``replicates`` resamples; ``adjusted``: the adjusted cohort when the host-tissue adjustment is on;
    ``make_up_error``: config ``admixture.make_up_error``, False leaves the make-up's shared error out)."""
    contrasts = list(contrasts)
    if adjusted is not None and not make_up_error:
        adjusted = without_make_up_draws(adjusted)
    table = axis_tests(qc, sheet, contrasts, axes, adjusted=adjusted, host_dominated=host_dominated)
    write_tsv(table, out_table)
    write_tsv(leave_one_out(qc, sheet, contrasts, axes, adjusted=adjusted, host_dominated=host_dominated), out_loo)
    write_tsv(bootstrap(qc, sheet, contrasts, axes, replicates, seed, adjusted=adjusted,
                        host_dominated=host_dominated), out_bootstrap)
    return table
