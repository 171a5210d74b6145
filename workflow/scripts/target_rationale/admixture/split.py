"""The split of a host fraction into the host's cell types (liver: hepatocytes, Kupffer cells, sinusoidal
endothelium, cholangiocytes, stellate cells), anchored only on the cell-type-specific markers of
:data:`~target_rationale.admixture.reference.HOST_MARKERS`.

Generic endothelial and macrophage genes (KDR, FLT1, PECAM1, CSF1R, CD68, ...) are never used: the tumour's own
vessels and macrophages make them, and they are the VEGFR / CSF1R signal the workflow looks for. A cell type is
estimated only where the reference has its own profile (hepatocytes, Kupffer cells and cholangiocytes in the
liver; acinar cells in the exocrine pancreas); the sinusoidal endothelium and the stellate cells have
liver-specific tissue-level markers but no HPA v23 cell-type class, so their reads cannot be counted: they are NaN
with the reason in ``split_note``.

Per sample ``s`` and cell type ``c`` with profile ``q_c`` (renormalised over the cohort's genes), the reads from
``c`` as a fraction of all reads are ``x_sc = exp(median_g log((count_sg + 0.5) / (library_s q_cg)) + sigma^2 / 2)``
over its markers expected to have at least ``min_expected`` reads (from the host fraction and the host's tissue
level; never from the gene's own count), ``sigma`` the cohort's spread from the host fraction (the same lognormal
mean as there). The other profiled cell types' expected reads are taken off each marker's count first (a few
passes: hepatocytes make a little of the Kupffer markers), and ``x_sc`` is capped at the host fraction (the note
says so: single-cell and bulk profiles differ in scale, so a cap is a sign of that, not of biology).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from target_rationale.admixture.anchors import HostSpec, host_spec, read_shares
from target_rationale.admixture.reference import HOST_MARKERS, SYMBOL_COLUMN, HostReference, MarkerSet

#: Why a cell type of the host has no estimate.
NO_PROFILE = "no HPA v23 cell-type profile (tissue-level markers only)"
NO_MARKER = "no marker with enough reads"
BELOW_DETECTION = "host fraction below detection"
NOTE_COLUMN = "split_note"


def host_cell_types(host: str | HostSpec, markers: dict[str, MarkerSet] = HOST_MARKERS) -> list[str]:
    """The cell types of a host in ``markers`` (those whose tissue is the host's tissue profile), in order.

    Parameters
    ----------
    host : str or HostSpec
        A key of :data:`~target_rationale.admixture.fractions.HOSTS`, or a spec.
    markers : dict of str to MarkerSet
        Cell type -> markers (default :data:`HOST_MARKERS`).

    Returns
    -------
    list of str
        Cell-type names.
    """
    tissue = host_spec(host).profile
    return [name for name, marker in markers.items() if marker.tissue == tissue]


def _marker_ids(reference: HostReference, marker: MarkerSet, universe: pd.Index) -> list[str]:
    """Reference ids of a marker set's symbols that the cohort measured."""
    rows = reference.table.index[reference.table[SYMBOL_COLUMN].isin(marker.genes)]
    return [g for g in rows if g in universe]


def split_host(counts: pd.DataFrame, fractions: pd.DataFrame, reference: HostReference,
               host: str | HostSpec = "liver", *, markers: dict[str, MarkerSet] = HOST_MARKERS,
               min_expected: float = 20.0, passes: int = 3, lengths: pd.Series | None = None) -> pd.DataFrame:
    """Per sample, the reads from each of the host's cell types as fractions of all reads.

    Parameters
    ----------
    counts : pandas.DataFrame
        Raw counts, samples x genes (reference Ensembl ids), of the samples that carry this host; the library
        is their sum over these genes, as in
        :func:`~target_rationale.admixture.fractions.estimate_host_fractions`.
    fractions : pandas.DataFrame
        Its result for these samples (``fraction``, ``spread``, ``flag``).
    reference : HostReference
        The host reference.
    host : str or HostSpec
        The host (default the liver).
    markers : dict of str to MarkerSet
        Cell type -> markers (default :data:`HOST_MARKERS`); only those of the host's tissue are used.
    min_expected : float
        Reads a marker must be expected to have (host fraction x host tissue level x library) to be used.
    passes : int
        Passes that take the other cell types' expected reads off each marker.
    lengths : pandas.Series, optional
        Effective gene lengths by reference id: profiles become shares of reads
        (:func:`~target_rationale.admixture.anchors.read_shares`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``counts``: one column per cell type of the host (:func:`host_cell_types`; NaN where not
        estimable) and ``split_note`` (the reasons, ``"; "``-separated; ``""`` when all are estimated).
    """
    spec = host_spec(host)
    types = host_cell_types(spec, markers)
    universe = counts.columns
    lib = counts.sum(axis=1).to_numpy(float)
    fraction = fractions["fraction"].reindex(counts.index).to_numpy(float)
    spread = fractions["spread"].reindex(counts.index).to_numpy(float) if "spread" in fractions else np.zeros(0)
    sigma = float(np.median(spread[spread > 0])) if (spread > 0).any() else 0.0
    flagged = (fractions["flag"].reindex(counts.index) != "").to_numpy() if "flag" in fractions else \
        np.zeros(len(counts), bool)
    tissue = read_shares(reference.profile(spec.profile, universe), lengths)
    out = pd.DataFrame(np.nan, index=counts.index, columns=types)
    # reason -> cell types, per sample (joined as "type, type: reason")
    notes: list[dict[str, list[str]]] = [{} for _ in range(len(counts))]

    def note(i: int, name: str, reason: str) -> None:
        notes[i].setdefault(reason, []).append(name)

    profiled = {}
    for name in types:
        marker = markers[name]
        ids = _marker_ids(reference, marker, universe)
        if marker.profile is None or not ids:
            for i in range(len(counts)):
                note(i, name, NO_PROFILE if marker.profile is None else "no marker among the cohort's genes")
        else:
            profiled[name] = (ids, read_shares(reference.profile(marker.profile, universe), lengths))
    if profiled:
        estimates = _profiled_fractions(counts, lib, fraction, tissue, profiled, sigma, min_expected, passes)
        for name, values in estimates.items():
            for i in np.flatnonzero(values > fraction):
                note(i, name, "capped at the host fraction")
            for i in np.flatnonzero(np.isnan(values)):
                note(i, name, NO_MARKER)
            out[name] = np.minimum(values, fraction)
    for i in np.flatnonzero(flagged):
        out.iloc[i] = np.nan
        notes[i] = {BELOW_DETECTION: ["all"]}
    out[NOTE_COLUMN] = ["; ".join(f"{', '.join(names)}: {reason}" for reason, names in n.items()) for n in notes]
    return out


def _profiled_fractions(counts: pd.DataFrame, lib: np.ndarray, fraction: np.ndarray, tissue: pd.Series,
                        profiled: dict[str, tuple[list[str], pd.Series]], sigma: float, min_expected: float,
                        passes: int) -> dict[str, np.ndarray]:
    """``x_sc`` for the cell types with a profile, the others' expected reads taken off each marker."""
    names = list(profiled)
    estimates = {name: np.zeros(len(counts)) for name in names}
    for step in range(passes + 1):
        new = {}
        for name in names:
            ids, profile = profiled[name]
            observed = counts[ids].to_numpy(float)
            if step:
                others = sum(estimates[o][:, None] * profiled[o][1][ids].to_numpy()[None, :]
                             for o in names if o != name)
                observed = np.maximum(observed - lib[:, None] * others, 0.0)
            use = (fraction[:, None] * lib[:, None] * tissue[ids].to_numpy()[None, :]) >= max(min_expected, 1e-12)
            log_ratio = np.log((observed + 0.5) / (lib[:, None] * profile[ids].to_numpy()[None, :]))
            masked = np.where(use, log_ratio, np.nan)
            has = use.any(axis=1)
            values = np.full(len(counts), np.nan)
            values[has] = np.exp(np.nanmedian(masked[has], axis=1) + sigma ** 2 / 2)
            new[name] = values
        estimates = {name: np.nan_to_num(new[name]) if step < passes else new[name] for name in names}
    return estimates
