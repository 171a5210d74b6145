"""The host reference (``resources/host_reference/``): HPA v23 tissue and cell-type expression profiles, the genes
specific to a host profile, and the cell-type anchors that split liver and exocrine pancreas.

The file is built by ``resources/build_host_reference.py`` and checked here against its manifest (sha256), so a
damaged or hand-edited copy is refused. Values are HPA nTPM as HPA publishes them; the columns do not sum to
1e6, so every comparison between profiles is made on profiles renormalised over one gene universe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from target_rationale.core.errors import InputError, listing

#: How the shipped reference is rebuilt (named in every error about it).
REBUILD = "python resources/build_host_reference.py"
ID_COLUMN = "ensembl_gene_id"
SYMBOL_COLUMN = "symbol"
#: The scale of renormalised levels (transcripts per million over the gene universe).
PER_MILLION = 1e6


@dataclass(frozen=True)
class HostReference:
    """Host expression profiles: HPA v23 tissue consensus and single-cell-type nTPM.

    Attributes
    ----------
    table : pandas.DataFrame
        Genes x (``symbol``, then one float column per profile), indexed by unversioned Ensembl gene id
        (``ensembl_gene_id``). Values are HPA nTPM, as shipped.
    kinds : dict of str to str
        Profile -> ``"tissue"`` (HPA tissue consensus) or ``"cell_type"`` (HPA single cell type).
    hpa_names : dict of str to str
        Profile -> HPA's name of the tissue or cell type (e.g. ``kupffer_cells -> "Kupffer cells"``).
    release : str
        HPA release, e.g. ``"v23"``.
    path : Path
        The file read.
    """

    table: pd.DataFrame
    kinds: dict[str, str]
    hpa_names: dict[str, str]
    release: str
    path: Path

    @property
    def profiles(self) -> list[str]:
        """All profile names, in file order (tissues, then cell types)."""
        return [c for c in self.table.columns if c != SYMBOL_COLUMN]

    def list_profiles(self, kind: str | None = None) -> list[str]:
        """The available profiles, optionally of one kind.

        Parameters
        ----------
        kind : {"tissue", "cell_type"}, optional
            Only the profiles of this kind.

        Returns
        -------
        list of str
            Profile names in file order.
        """
        return [p for p in self.profiles if kind is None or self.kinds[p] == kind]

    @property
    def genes(self) -> pd.Index:
        """The reference's Ensembl gene ids."""
        return self.table.index

    def _check_profiles(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        unknown = [n for n in names if n not in self.kinds]
        if unknown:
            raise KeyError(f"unknown host profile(s) {listing(unknown)}; available: {listing(self.profiles, 99)}")
        return names

    def _universe(self, universe: Iterable[str] | None) -> pd.Index:
        if universe is None:
            return self.table.index
        genes = pd.Index(list(universe), dtype=object).drop_duplicates()
        genes = genes[genes.isin(self.table.index)]
        if genes.empty:
            raise ValueError(f"no gene of the universe is in the host reference {self.path.name} "
                             "(it is indexed by unversioned Ensembl gene ids)")
        return genes

    def levels(self, names: Sequence[str] | None = None, universe: Iterable[str] | None = None,
               scale: float = PER_MILLION) -> pd.DataFrame:
        """Profiles renormalised over a gene universe to sum to ``scale`` (per million by default).

        Parameters
        ----------
        names : sequence of str, optional
            Profiles (default all).
        universe : iterable of str, optional
            Ensembl gene ids to renormalise over (default all the reference's genes). Ids the reference lacks
            are left out; the rows follow the universe's order.
        scale : float
            What each column sums to.

        Returns
        -------
        pandas.DataFrame
            Genes (universe ∩ reference) x profiles, floats, each column summing to ``scale``.

        Raises
        ------
        KeyError
            If a profile is unknown.
        ValueError
            If no gene of the universe is in the reference, or a profile is zero over the universe.
        """
        names = self._check_profiles(self.profiles if names is None else names)
        values = self.table.loc[self._universe(universe), names].astype(float)
        totals = values.sum()
        empty = totals.index[totals <= 0].tolist()
        if empty:
            raise ValueError(f"host profile(s) {listing(empty)} are zero over the {len(values)} genes of the universe")
        return values / totals * scale

    def profile(self, name: str, universe: Iterable[str] | None = None) -> pd.Series:
        """One profile renormalised over a gene universe to sum to 1 (a mixing profile).

        Parameters
        ----------
        name : str
            Profile, e.g. ``"liver"`` or ``"hepatocytes"``.
        universe : iterable of str, optional
            Ensembl gene ids (default all the reference's genes); ids the reference lacks are left out.

        Returns
        -------
        pandas.Series
            Fraction of the profile's expression per gene, indexed by Ensembl id (universe order), summing to 1.
        """
        return self.levels([name], universe, scale=1.0)[name]

    def rows_for(self, symbols: Iterable[str]) -> pd.DataFrame:
        """The reference rows of some gene symbols (every Ensembl id of a symbol), in the symbols' order.

        Parameters
        ----------
        symbols : iterable of str
            Gene symbols as HPA spells them.

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`table`.

        Raises
        ------
        KeyError
            If a symbol is not in the reference.
        """
        symbols = list(symbols)
        known = set(self.table[SYMBOL_COLUMN])
        missing = [s for s in symbols if s not in known]
        if missing:
            raise KeyError(f"symbol(s) {listing(missing)} not in the host reference {self.path.name}")
        order = {s: i for i, s in enumerate(symbols)}
        rows = self.table[self.table[SYMBOL_COLUMN].isin(order)]
        return rows.iloc[np.argsort(rows[SYMBOL_COLUMN].map(order).to_numpy(), kind="stable")]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(manifest_path: Path) -> dict:
    """The manifest's ``file`` and ``profiles`` entries, or an InputError naming what is wrong."""
    if not manifest_path.is_file():
        raise InputError(f"{manifest_path}: host reference manifest not found; rebuild it with `{REBUILD}`")
    try:
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        entry, profiles = manifest["file"], manifest["profiles"]
        expected = {"sha256": str(entry["sha256"]), "columns": list(entry["columns"]),
                    "kinds": {p["column"]: p["kind"] for p in profiles},
                    "hpa_names": {p["column"]: p["hpa_name"] for p in profiles},
                    "release": str(manifest["source"]["hpa_release"])}
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise InputError(f"{manifest_path}: not a host reference manifest ({type(error).__name__}: {error}); "
                         f"rebuild it with `{REBUILD}`") from None
    return expected


def load_host_reference(path: str | Path, manifest_path: str | Path) -> HostReference:
    """Read the host reference after checking it against its manifest.

    Parameters
    ----------
    path : str or Path
        The reference, ``resources/host_reference/hpa_v23_host_ntpm.tsv.gz``.
    manifest_path : str or Path
        Its manifest, ``resources/host_reference/MANIFEST.yaml``.

    Returns
    -------
    HostReference
        The profiles, as floats, indexed by Ensembl gene id.

    Raises
    ------
    InputError
        One line naming the file and the fix, if the manifest or the file is missing or unreadable, the file's
        sha256 differs from the manifest's, or its columns differ from the manifest's.
    """
    path, manifest_path = Path(path), Path(manifest_path)
    expected = _read_manifest(manifest_path)
    if not path.is_file():
        raise InputError(f"{path}: host reference not found; rebuild it with `{REBUILD}`")
    got = _sha256(path)
    if got != expected["sha256"]:
        raise InputError(f"{path}: sha256 {got[:12]}... differs from {expected['sha256'][:12]}... recorded in "
                         f"{manifest_path} (damaged or edited); rebuild it with `{REBUILD}`")
    profiles = [c for c in expected["columns"] if c not in (ID_COLUMN, SYMBOL_COLUMN)]
    table = pd.read_csv(path, sep="\t", index_col=ID_COLUMN, keep_default_na=False,
                        dtype={ID_COLUMN: str, SYMBOL_COLUMN: str, **dict.fromkeys(profiles, float)})
    columns = [table.index.name, *table.columns]
    if columns != expected["columns"] or set(profiles) != set(expected["kinds"]):
        raise InputError(f"{path}: columns {listing(columns, 99)} differ from those of {manifest_path}; "
                         f"rebuild both with `{REBUILD}`")
    return HostReference(table=table, kinds={p: expected["kinds"][p] for p in profiles},
                         hpa_names={p: expected["hpa_names"][p] for p in profiles}, release=expected["release"],
                         path=path)


def _specificity(levels: pd.DataFrame, host: str, others: Sequence[str]) -> pd.Series:
    """Host level over the highest level among ``others`` (inf where all others are 0)."""
    highest = levels[list(others)].max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = levels[host] / highest
    return ratio.where(highest > 0, np.inf)


def tissue_specific_genes(reference: HostReference, host: str, others: Sequence[str], min_ratio: float = 10.0,
                          min_level: float = 50.0, universe: Iterable[str] | None = None) -> list[str]:
    """Genes far higher in one host profile than in every other profile given: anchors of a host fraction.

    The rule, on profiles renormalised to sum to one million over the universe (so that profiles whose nTPM
    sum to different totals compare fairly): gene g is kept if

    * ``level[host](g) >= min_level`` (it is expressed enough to be seen in a mixture), and
    * ``level[host](g) >= min_ratio * max(level[o](g) for o in others)`` (what the others, e.g. the tumour's
      own tissue, express of it is at most 1/min_ratio of the host's).

    For a liver fraction in pNEN liver metastases, ``others`` should hold what the tumour expresses:
    ``["pancreas", "pancreatic_endocrine_cells"]``.

    The universe should be a whole transcriptome (e.g. the cohort's genes): over a handful of genes the
    renormalisation itself shifts the ratios (over ALB, APOA1, INS, EGFR and GAPDH, INS dominates the pancreas
    column and ALB drops below a 10-fold ratio).

    Parameters
    ----------
    reference : HostReference
        The host reference.
    host : str
        The host profile, e.g. ``"liver"``.
    others : sequence of str
        Profiles the genes must be low in; not containing ``host``.
    min_ratio : float
        Minimum host level over the highest other level (>= 1).
    min_level : float
        Minimum renormalised host level, per million (>= 0).
    universe : iterable of str, optional
        Ensembl gene ids to consider and renormalise over (e.g. the cohort's genes); default all.

    Returns
    -------
    list of str
        Ensembl gene ids, highest host level first (ties by id).

    Raises
    ------
    ValueError
        If ``others`` is empty or holds ``host``, or a threshold is out of range.
    KeyError
        If a profile is unknown.
    """
    others = list(others)
    if not others or host in others:
        raise ValueError(f"others must be one or more profiles other than the host {host!r}; got {others}")
    if min_ratio < 1 or min_level < 0:
        raise ValueError(f"need min_ratio >= 1 and min_level >= 0; got {min_ratio} and {min_level}")
    levels = reference.levels([host, *others], universe)
    keep = (levels[host] >= min_level) & (_specificity(levels, host, others) >= min_ratio)
    kept = levels.loc[keep, [host]].rename_axis(ID_COLUMN).reset_index()
    return kept.sort_values([host, ID_COLUMN], ascending=[False, True])[ID_COLUMN].tolist()


@dataclass(frozen=True)
class MarkerSet:
    """Anchor genes of one host cell type.

    Attributes
    ----------
    tissue : str
        The host tissue profile the cell type belongs to (``"liver"`` or ``"pancreas"``).
    against : tuple of str
        Profiles the anchors must be low in (what the tumour and the other site express).
    profile : str or None
        The reference's cell-type profile of this cell type; ``None`` when HPA v23 has no such class.
    genes : tuple of str
        Anchor symbols.
    note : str
        What the reference says about them (nTPM as shipped; liver vs pancreas tissue).
    """

    tissue: str
    against: tuple[str, ...]
    profile: str | None
    genes: tuple[str, ...]
    note: str


_TUMOUR_SIDE = ("pancreas", "pancreatic_endocrine_cells")

#: Cell-type anchors for splitting the host fraction, each checked against the HPA v23 reference (values nTPM,
#: liver vs pancreas tissue consensus). The tests hold every anchor to its note.
HOST_MARKERS: dict[str, MarkerSet] = {
    "hepatocytes": MarkerSet(
        "liver", _TUMOUR_SIDE, "hepatocytes",
        ("ALB", "APOA1", "APOA2", "APOC3", "APOH", "FGA", "FGB", "FGG", "HP", "HPX", "AHSG", "CYP2E1"),
        "liver 3,500-206,000 vs pancreas <= 1,519 (ALB; the others <= 16) and pancreatic endocrine cells <= 19; "
        "TTR (islet cells 3,437) and SERPINA1 (ductal 4,047, islet 1,107) are left out: pNENs can express them"),
    "kupffer_cells": MarkerSet(
        "liver", _TUMOUR_SIDE, "kupffer_cells", ("MARCO", "CD5L", "VSIG4"),
        "CD5L 101.5 vs 0.0 and MARCO 92.1 vs 0.8 are liver-specific (Kupffer 625 and 769; other macrophages 15 "
        "and 230); VSIG4 49.4 vs 13.9 is the weakest (any macrophage: 406), use it with the other two"),
    "liver_sinusoidal_endothelium": MarkerSet(
        "liver", _TUMOUR_SIDE, None, ("CLEC4G", "CLEC4M", "STAB2", "FCN2", "FCN3", "OIT3"),
        "all liver-specific in tissue (CLEC4G 52.9 vs 0.3, CLEC4M 60.8 vs 0.1, STAB2 14.2 vs 0.3, FCN2 96.6 vs "
        "0.5, FCN3 270.1 vs 12.1, OIT3 107.5 vs 0.1) but low; HPA v23 has no LSEC class: its endothelial_cells "
        "pools all tissues (CLEC4G 0.0 there) and the liver's sinusoidal reads spread over its fibroblasts and "
        "kupffer_cells classes, so these anchor the liver tissue profile only"),
    "cholangiocytes": MarkerSet(
        "liver", _TUMOUR_SIDE, "cholangiocytes", ("ANXA13",),
        "ANXA13 19.5 vs 0.3 (cholangiocytes 171.7, ductal 1.4, islet 0.0) is the one specific anchor found; the "
        "usual cholangiocyte genes are not: KRT19 7.5 vs 47.4, KRT7 13.2 vs 52.6, SOX9 3.4 vs 37.2, CFTR 1.6 vs "
        "192.0, EPCAM 3.0 vs 121.8 are higher in pancreas, and ductal and islet cells express them (KRT19 3,940 "
        "and 1,710), as pNENs do"),
    "hepatic_stellate_cells": MarkerSet(
        "liver", _TUMOUR_SIDE, None, ("COLEC11", "RELN", "HGF"),
        "HPA v23 has no stellate class (only pan-tissue fibroblasts and smooth muscle cells); these stellate genes "
        "are liver-specific in tissue (COLEC11 139.6 vs 13.4, RELN 13.0 vs 0.1, HGF 29.4 vs 2.1) but not "
        "exclusive to stellate cells; LRAT (2.1 vs 0.8), PDGFRB, RGS5 and DCN are not liver-specific"),
    "exocrine_glandular_cells": MarkerSet(
        "pancreas", ("liver", "pancreatic_endocrine_cells"), "exocrine_glandular_cells",
        ("PRSS1", "CPA1", "CELA3A", "CTRB1", "PNLIP", "CPB1"),
        "acinar enzymes, pancreas 129,625-430,751 vs liver 6.9-28.7 (GTEx pancreas bleed into other tissues) "
        "and pancreatic endocrine cells 146-642"),
}


def check_markers(reference: HostReference, markers: Mapping[str, MarkerSet] = HOST_MARKERS) -> pd.DataFrame:
    """What the reference says about each anchor: its levels and how specific it is.

    Parameters
    ----------
    reference : HostReference
        The host reference.
    markers : mapping of str to MarkerSet
        Cell type -> anchors (default :data:`HOST_MARKERS`).

    Returns
    -------
    pandas.DataFrame
        One row per (cell type, anchor, Ensembl id): ``cell_type, symbol, ensembl_gene_id, tissue,
        tissue_ntpm`` (host tissue, as shipped), ``against, against_ntpm`` (the highest profile among
        ``against``), ``specificity`` (host over that profile, both renormalised per million over the
        reference), ``profile, profile_ntpm`` (the cell type's own column, NaN without one) and
        ``top_cell_type, top_cell_type_ntpm`` (the cell-type column with the highest value).

    Raises
    ------
    KeyError
        If an anchor symbol or a profile is not in the reference.
    """
    levels = reference.levels()
    cell_types = reference.list_profiles("cell_type")
    records = []
    for name, marker in markers.items():
        reference._check_profiles([marker.tissue, *marker.against] + ([marker.profile] if marker.profile else []))
        ratio = _specificity(levels, marker.tissue, marker.against)
        for gene, row in reference.rows_for(marker.genes).iterrows():
            against = max(marker.against, key=lambda p: levels.at[gene, p])
            top = max(cell_types, key=lambda p: row[p])
            records.append({
                "cell_type": name, "symbol": row[SYMBOL_COLUMN], ID_COLUMN: gene, "tissue": marker.tissue,
                "tissue_ntpm": row[marker.tissue], "against": against, "against_ntpm": row[against],
                "specificity": ratio[gene], "profile": marker.profile,
                "profile_ntpm": row[marker.profile] if marker.profile else np.nan,
                "top_cell_type": top, "top_cell_type_ntpm": row[top]})
    return pd.DataFrame.from_records(records)
