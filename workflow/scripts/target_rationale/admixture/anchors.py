"""Anchor genes of a host fraction: what the host expresses and the tumour does not, the hosts' settings, and
what a tumour shows on the anchors (its background).

The hosts (:data:`HOSTS`): the liver of a liver metastasis and the exocrine pancreas of a primary, each a tissue
profile of the host reference, the profiles its anchors must be absent from, its resident cell types and the
groups its anchors fall into. The rules are in :func:`anchor_genes` and :func:`anchor_groups`; the estimator that
uses them is :mod:`target_rationale.admixture.fractions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from target_rationale.admixture.reference import (
    HOST_MARKERS,
    SYMBOL_COLUMN,
    HostReference,
    MarkerSet,
    tissue_specific_genes,
)

#: What a pNEN expresses of the reference's profiles (its anchors must be absent from these).
TUMOUR_LIKE: tuple[str, ...] = ("pancreatic_endocrine_cells",)
#: Pan-tissue stromal classes of the reference: a tumour has its own vessels, fibroblasts and immune cells.
STROMAL_CELL_TYPES: tuple[str, ...] = ("endothelial_cells", "fibroblasts", "smooth_muscle_cells", "macrophages",
                                       "t_cells", "b_cells", "plasma_cells")
#: Never anchors, whatever the reference says: the axes' receptors, generic endothelial, macrophage and leukocyte
#: genes (the tumour's own VEGFR / CSF1R signal), the islet hormones and granins a pNEN makes (HPA's islet class
#: lacks SST, so SST passes the tissue rule for the pancreas) and SERPINA1, which pNENs can express (HPA ductal
#: 4,047 and islet 1,107 nTPM; it passes the 10-fold rule over the whole reference, not over a cohort's genes).
NEVER_ANCHORS: frozenset[str] = frozenset({
    "KDR", "FLT1", "FLT4", "CSF1R", "EGFR", "CD68", "CD163", "PECAM1", "CDH5", "VWF", "PTPRC", "LYVE1",
    "INS", "GCG", "SST", "PPY", "GHRL", "IAPP", "CHGA", "CHGB", "SERPINA1"})
#: Anchors whose level in host-free tumour samples is above this (as a host fraction) are dropped, unless the host
#: sets its own limit (:attr:`HostSpec.max_background`). (0.05 for the liver was tried: 1-4% spurious liver on
#: host-free cohorts, whose purification then erased planted EGFR / VEGFR / CSF1R signal: benchmarks/README.md,
#: ``admixture_calls.py``.)
MAX_BACKGROUND = 0.01


@dataclass(frozen=True)
class HostSpec:
    """How one host is estimated.

    Attributes
    ----------
    profile : str
        The reference's tissue profile of the host (what the host part of a biopsy looks like).
    other_site : tuple of str
        Profiles of the other site the anchors must be absent from too (liver host: ``pancreas``, whose
        tissue a pNEN resembles; exocrine host: ``liver``).
    cell_types : tuple of str
        The host's resident cell-type profiles, to tell which cell type makes an anchor.
    main_cell_type : str
        Anchors whose highest resident cell type is this one form the first group (with one group, the only
        anchors kept).
    shares : dict of str to (float, float)
        Group -> range of the share of the host's reads it stands for; the estimate uses the midpoints
        (renormalised to sum 1), the interval draws from the ranges. A second group holds the curated markers of
        the host's other cell types (:func:`anchor_groups`).
    composition_sd : float
        Uncertainty (lognormal sd) of the anchors' share of a real host relative to the reference's.
    components : dict of str to float
        The host's mean make-up in reference profiles (profile -> share, summing to 1), what
        :func:`host_profile` returns; default the tissue profile alone.
    max_background : float
        Anchors whose level in host-free tumour samples (:func:`anchor_background`, as a host fraction) is above
        this are dropped; the others are kept and their median background taken off the fraction. The limit keeps
        a host-free cohort's estimate at ~0, which depends on where the tumour's background falls among the
        anchors: measured per host (``benchmarks/admixture_fractions.py``, scenario ``host_free``).
    """

    profile: str
    other_site: tuple[str, ...]
    cell_types: tuple[str, ...]
    main_cell_type: str
    shares: dict[str, tuple[float, float]]
    composition_sd: float
    components: dict[str, float] | None = None
    max_background: float = MAX_BACKGROUND


#: The hosts, on their tissue profiles. Liver: hepatocytes make most of the liver's mRNA (taken as 0.8, range
#: 0.65-0.95: ~60% of its cells, ~80% of its volume); the range only matters in samples whose hepatocyte anchors
#: and non-parenchymal markers disagree. Exocrine pancreas: acinar anchors only (ductal genes are islet and pNEN
#: genes too); the acinar share of a primary's peritumoural pancreas varies more (atrophy, fibrosis), hence its
#: larger composition sd. Background limits: the liver's 0.01 (its anchors with 1-5% tumour background are the
#: high-mass hepatocyte genes, which lead the observed part of the fraction: at 0.05 host-free cohorts estimated
#: 2% liver, median); the exocrine host's 0.05, because its main anchors, the acinar enzymes (70% of its reads),
#: are what a tumour keeps 0.1-2.5% of, and dropping them at 0.01 left 14-15 of 34 anchors and a per-cohort bias of
#: 0.67-1.25x (host-free cohorts estimate 0.3% exocrine pancreas, median, against 0.07% at 0.01).
HOSTS: dict[str, HostSpec] = {
    "liver": HostSpec("liver", ("pancreas",), ("hepatocytes", "kupffer_cells", "cholangiocytes", *STROMAL_CELL_TYPES),
                      "hepatocytes", {"hepatocytes": (0.65, 0.95), "non_parenchymal": (0.05, 0.35)}, 0.1),
    "exocrine_pancreas": HostSpec("pancreas", ("liver",), ("exocrine_glandular_cells", "ductal_cells",
                                                           "pancreatic_endocrine_cells", *STROMAL_CELL_TYPES),
                                  "exocrine_glandular_cells", {"acinar": (1.0, 1.0)}, 0.2, max_background=0.05),
}


def host_spec(host: str | HostSpec) -> HostSpec:
    """The :data:`HOSTS` entry of a host (a spec is returned as is), or a KeyError naming the hosts."""
    if isinstance(host, HostSpec):
        return host
    if host not in HOSTS:
        raise KeyError(f"unknown host {host!r}; known: {', '.join(HOSTS)}")
    return HOSTS[host]


def read_shares(profile: pd.Series, lengths: pd.Series | None) -> pd.Series:
    """A transcript-level profile (TPM-like, summing to 1) as shares of reads: times each gene's effective length,
    renormalised (genes without a length keep the median length). Without lengths, the profile unchanged.

    Parameters
    ----------
    profile : pandas.Series
        Proportions by gene.
    lengths : pandas.Series, optional
        Effective length by gene (e.g. featureCounts' ``Length``), same ids.

    Returns
    -------
    pandas.Series
        Proportions of reads, summing to 1.
    """
    if lengths is None:
        return profile
    length = lengths.reindex(profile.index).astype(float)
    weighted = profile * length.fillna(float(length.median()))
    return weighted / weighted.sum()


def host_profile(reference: HostReference, host: str | HostSpec, universe: Iterable[str] | None = None,
                 lengths: pd.Series | None = None) -> pd.Series:
    """The host's mean profile over a gene universe: its components' profiles, each renormalised to sum 1 over the
    universe, weighted by their shares (the tissue profile alone by default).

    The reference is TPM-like (transcripts); counts of a full-length protocol are proportional to TPM times the
    gene's effective length. Given ``lengths``, the profile is turned into shares of reads (:func:`read_shares`);
    without them (3' tag protocols, or no lengths) it is used as shares of reads directly.

    Parameters
    ----------
    reference : HostReference
        The host reference.
    host : str or HostSpec
        A key of :data:`HOSTS`, or a spec.
    universe : iterable of str, optional
        Reference Ensembl ids (default all).
    lengths : pandas.Series, optional
        Effective gene length by reference id.

    Returns
    -------
    pandas.Series
        Proportion per gene, summing to 1.
    """
    spec = host_spec(host)
    components = spec.components or {spec.profile: 1.0}
    universe = None if universe is None else list(universe)
    total = sum(components.values())
    mixed = sum(share / total * reference.profile(name, universe) for name, share in components.items())
    return read_shares(pd.Series(mixed, name=spec.profile), lengths)


def anchor_genes(reference: HostReference, host: str | HostSpec, tumour_like: Sequence[str] = TUMOUR_LIKE,
                 universe: Iterable[str] | None = None, *, min_ratio: float = 10.0, min_level: float = 50.0,
                 stroma_share: float = 0.05) -> list[str]:
    """Genes that tell the host's reads from the tumour's: the anchors of a host fraction.

    The rule, on the reference's profiles renormalised per million over ``universe`` (the cohort's genes): gene
    g is an anchor of host H (tissue profile ``HOSTS[H].profile``) if

    * it passes :func:`~target_rationale.admixture.reference.tissue_specific_genes` of the host's profile
      against ``tumour_like`` and the other site (liver host: pancreatic endocrine cells and pancreas; exocrine
      pancreas host: pancreatic endocrine cells and liver): level >= ``min_level`` (50 per million) and >=
      ``min_ratio`` (10) times the highest of those, so a tumour like them makes at most a tenth of it;
    * the tumour's stroma cannot make it: level >= ``min_ratio * stroma_share`` times the highest pan-tissue
      stromal class (:data:`STROMAL_CELL_TYPES`; ``stroma_share`` 0.05 is what a tumour's vessels, fibroblasts or
      immune cells may contribute of its reads). This drops e.g. MARCO, C1QA-C, FCGR3A, RNASE1 and AQP1;
    * its symbol is not in :data:`NEVER_ANCHORS` (the axes' receptors, generic endothelial and macrophage genes,
      islet hormones and granins);
    * for a host with one anchor group (the exocrine pancreas), the host's main cell type (acinar cells) is the
      highest of its resident cell-type profiles: acinar genes only.

    Parameters
    ----------
    reference : HostReference
        The host reference.
    host : str or HostSpec
        ``"liver"`` or ``"exocrine_pancreas"`` (:data:`HOSTS`), or a spec.
    tumour_like : sequence of str
        Profiles the tumour resembles (default the pancreatic endocrine cells).
    universe : iterable of str, optional
        The cohort's genes as reference Ensembl ids (:func:`target_rationale.admixture.fractions.reference_ids`);
        default all.
    min_ratio, min_level, stroma_share : float
        Thresholds of the rule.

    Returns
    -------
    list of str
        Reference Ensembl ids, highest host level first.

    Raises
    ------
    KeyError
        If the host or a profile is unknown.
    """
    spec = host_spec(host)
    universe = None if universe is None else list(universe)
    others = [*tumour_like, *[o for o in spec.other_site if o not in tumour_like]]
    ids = tissue_specific_genes(reference, spec.profile, others, min_ratio=min_ratio, min_level=min_level,
                                universe=universe)
    if not ids:
        return []
    levels = reference.levels([spec.profile, *STROMAL_CELL_TYPES], universe).loc[ids]
    stroma = levels[list(STROMAL_CELL_TYPES)].max(axis=1)
    symbols = reference.table.loc[ids, SYMBOL_COLUMN]
    keep = (levels[spec.profile] >= min_ratio * stroma_share * stroma) & ~symbols.isin(NEVER_ANCHORS)
    if len(spec.shares) == 1:
        keep &= _made_by_main(reference, spec, ids, universe)
    return [g for g in ids if keep[g]]


def _made_by_main(reference: HostReference, spec: HostSpec, genes: list[str],
                  universe: list[str] | None) -> pd.Series:
    """Whether the host's main cell type is the highest of its resident cell types, per gene."""
    levels = reference.levels(list(spec.cell_types), universe).reindex(genes).fillna(0.0)
    return levels.idxmax(axis=1) == spec.main_cell_type


def anchor_groups(reference: HostReference, host: str | HostSpec, anchors: Sequence[str],
                  universe: Iterable[str] | None = None,
                  markers: Mapping[str, MarkerSet] = HOST_MARKERS) -> dict[str, list[str]]:
    """Anchors grouped by the cells that make them: the host's main cell type and the other resident cells.

    For a host with two groups (the liver):

    * the first group (``hepatocytes``) holds the anchors whose highest resident cell-type profile
      (renormalised over ``universe``) is the main cell type's;
    * the second (``non_parenchymal``) holds the curated markers of the host's other cell types
      (:data:`~target_rationale.admixture.reference.HOST_MARKERS`: Kupffer cells, sinusoidal endothelium,
      cholangiocytes, stellate cells) that the cohort measured, whether or not they pass the anchor rule's level
      threshold: each is made by one non-parenchymal cell type only, so their level follows that part of the
      host. HPA's single-cell classes cannot give this group: the liver-specific genes whose highest class is
      not hepatocytes are mostly hepatocyte genes in contaminated classes (GC, AGT, CFH top in
      "cholangiocytes"), so such anchors are left out of both groups.

    A host with one group puts all anchors in it.

    Parameters
    ----------
    reference : HostReference
        The host reference.
    host : str or HostSpec
        A key of :data:`HOSTS`, or a spec.
    anchors : sequence of str
        Reference Ensembl ids (from :func:`anchor_genes`).
    universe : iterable of str, optional
        The cohort's genes as reference ids; default all.
    markers : mapping of str to MarkerSet
        Curated cell-type markers (default :data:`HOST_MARKERS`).

    Returns
    -------
    dict of str to list of str
        Group -> anchors (a group may be empty).
    """
    spec = host_spec(host)
    names = list(spec.shares)
    if len(names) == 1:
        return {names[0]: list(anchors)}
    universe = None if universe is None else list(universe)
    measured = set(reference.genes if universe is None else universe)
    curated = [g for name, marker in markers.items() if marker.tissue == spec.profile and name != spec.main_cell_type
               for g in reference.table.index[reference.table[SYMBOL_COLUMN].isin(marker.genes)]
               if g in measured and reference.table.at[g, SYMBOL_COLUMN] not in NEVER_ANCHORS]
    main = _made_by_main(reference, spec, list(anchors), universe)
    curated_set = set(curated)
    return {names[0]: [g for g in anchors if main[g] and g not in curated_set],
            names[1]: list(dict.fromkeys(curated))}


def anchor_background(counts: pd.DataFrame, host_profile: pd.Series, anchors: Iterable[str],
                      library: pd.Series | None = None) -> pd.Series:
    """What the tumour's own expression of each anchor looks like as a host fraction, from tumour samples that
    carry no such host (for the liver: primaries; for the exocrine pancreas: liver metastases).

    Parameters
    ----------
    counts : pandas.DataFrame
        Raw counts, samples x genes (reference ids), of host-free tumour samples.
    host_profile : pandas.Series
        The host's reference profile (renormalised over ``counts``' genes here).
    anchors : iterable of str
        Anchor genes.
    library : pandas.Series, optional
        Reads per sample (default the sum of ``counts``).

    Returns
    -------
    pandas.Series
        Per anchor in ``counts`` with a reference level: the median over the samples of
        ``count / (library * p_g)``; pass it to :func:`estimate_host_fractions` as ``background``.
    """
    profile = renormalised(host_profile, counts.columns)
    genes = [g for g in dict.fromkeys(anchors) if g in profile.index and profile[g] > 0]
    lib = counts.sum(axis=1) if library is None else library.reindex(counts.index)
    ratio = counts[genes].to_numpy(float) / (lib.to_numpy(float)[:, None] * profile[genes].to_numpy()[None, :])
    return pd.Series(np.median(ratio, axis=0), index=genes, name="background", dtype=float)


def reference_floor(reference: HostReference, host: str | HostSpec, anchors: Sequence[str],
                    tumour_like: Sequence[str] = TUMOUR_LIKE, universe: Iterable[str] | None = None) -> float:
    """The host fraction a tumour would show if it expressed the anchors as the profiles they were chosen
    against do (``tumour_like`` and the other site): the median over the anchors of the highest of those levels
    over the host's (renormalised per million over ``universe``). Without host-free tumour samples to measure
    the background, fractions whose lower end falls below it cannot be told from no host.

    Parameters
    ----------
    reference : HostReference
        The host reference.
    host : str or HostSpec
        A key of :data:`HOSTS`, or a spec.
    anchors : sequence of str
        Anchor genes.
    tumour_like : sequence of str
        Profiles the tumour resembles.
    universe : iterable of str, optional
        The cohort's genes as reference ids; default all.

    Returns
    -------
    float
        The floor (0 without anchors).
    """
    spec = host_spec(host)
    anchors = list(anchors)
    if not anchors:
        return 0.0
    others = [*tumour_like, *[o for o in spec.other_site if o not in tumour_like]]
    levels = reference.levels([spec.profile, *others], None if universe is None else list(universe)).loc[anchors]
    return float(np.median(levels[others].max(axis=1) / levels[spec.profile]))


def renormalised(profile: pd.Series, genes: pd.Index) -> pd.Series:
    """A profile over ``genes`` (0 where it lacks one), summing to 1."""
    values = profile.reindex(genes).fillna(0.0).clip(lower=0.0)
    if values.sum() <= 0:
        raise ValueError("the host profile is zero over the counts' genes")
    return values / values.sum()
