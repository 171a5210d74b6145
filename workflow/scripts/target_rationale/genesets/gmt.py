"""Gene-set collections: one loader for every collection (GMT files, plain or gzipped)."""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from target_rationale.cohort.tables import CappedReader
from target_rationale.core.errors import InputError
from target_rationale.core.io import write_atomic
from target_rationale.core.jobs import LOG
from target_rationale.genesets.sources.cache import verify_cached_gmt


@dataclass(frozen=True)
class GeneSet:
    """One term of a collection.

    Attributes
    ----------
    term_id : str
        Machine-readable identifier (e.g. ``GO:0007173``); column 1 of a GMT line.
    term_name : str
        Human-readable name; column 2 of a GMT line unless that is empty, ``NA`` or a URL, then the id.
    genes : tuple of str
        Member gene symbols, unique, in file order.
    """

    term_id: str
    term_name: str
    genes: tuple[str, ...]


def _open_text(path: Path):
    """The file's text lines; a ``.gz`` file is gunzipped as it is read, with the workflow's cap on its expanded
    size (:data:`target_rationale.cohort.tables.MAX_UNCOMPRESSED_BYTES`), past which reading raises
    :class:`target_rationale.core.errors.InputError`."""
    if path.suffix == ".gz":
        capped = CappedReader(gzip.open(path, "rb"), f"GMT file '{path}'")
        return io.TextIOWrapper(io.BufferedReader(capped), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_gmt(path: str | Path) -> dict[str, GeneSet]:
    """Read a GMT file (``.gmt`` or ``.gmt.gz``) into ``{term_id: GeneSet}``.

    Parameters
    ----------
    path : str or Path
        GMT file: one term per line, tab-separated ``term_id, description, gene, gene, ...``.

    Returns
    -------
    dict of str to GeneSet
        Terms in file order.

    Raises
    ------
    InputError
        (a ValueError) If a line has fewer than two fields, a term id occurs twice, a ``.gz`` file expands past
        the workflow's cap, or the file cannot be read to its end (truncated or not UTF-8).
    """
    path = Path(path)
    sets: dict[str, GeneSet] = {}
    try:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, start=1):
                line = line.rstrip("\n\r")
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) < 2:
                    raise InputError(f"GMT file '{path}', line {line_no}: fewer than 2 tab-separated fields; a GMT "
                                     "line is 'term_id<TAB>description<TAB>gene...'")
                term_id, description = fields[0].strip(), fields[1].strip()
                if term_id in sets:
                    raise InputError(f"GMT file '{path}', line {line_no}: term '{term_id}' occurs twice; term ids "
                                     "must be unique")
                name = description if description and description != "NA" and "://" not in description else term_id
                genes = tuple(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
                sets[term_id] = GeneSet(term_id=term_id, term_name=name, genes=genes)
    except (EOFError, gzip.BadGzipFile, UnicodeDecodeError) as err:  # a truncated or mislabelled download
        raise InputError(f"GMT file '{path}' cannot be read to its end ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:120]}); download or copy it again") from err
    return sets


def write_gmt(sets: dict[str, GeneSet], path: str | Path) -> None:
    """Write ``{term_id: GeneSet}`` as GMT, atomically (gzipped, deterministic bytes, when ``path`` ends in ``.gz``)."""
    lines = "".join(f"{s.term_id}\t{s.term_name}\t" + "\t".join(s.genes) + "\n" for s in sets.values())
    data = lines.encode("utf-8")

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            if str(path).endswith(".gz"):
                with gzip.GzipFile(filename="", fileobj=handle, mode="wb", mtime=0) as gz:
                    gz.write(data)
            else:
                handle.write(data)

    write_atomic(path, write)


@dataclass(frozen=True)
class CollectionCheck:
    """What :func:`check_collection` found in a collection, relative to the cohort's genes.

    Attributes
    ----------
    sets : dict of str to GeneSet
        The usable terms (at least one member), unchanged otherwise.
    empty_terms : list of str
        Terms without any member, dropped.
    n_genes : int
        Distinct genes in the collection.
    n_genes_in_universe : int
        Of those, genes measured in the cohort.
    genes_not_in_universe : list of str
        Collection genes absent from the cohort (sorted).
    n_terms_without_universe_genes : int
        Terms none of whose members were measured.
    """

    sets: dict[str, GeneSet]
    empty_terms: list[str]
    n_genes: int
    n_genes_in_universe: int
    genes_not_in_universe: list[str]
    n_terms_without_universe_genes: int

    def summary(self) -> dict[str, int]:
        return {"n_terms": len(self.sets), "n_empty_terms_dropped": len(self.empty_terms),
                "n_genes": self.n_genes, "n_genes_in_cohort": self.n_genes_in_universe,
                "n_genes_not_in_cohort": len(self.genes_not_in_universe),
                "n_terms_without_cohort_genes": self.n_terms_without_universe_genes}


def check_collection(sets: dict[str, GeneSet], universe: set[str]) -> CollectionCheck:
    """Drop empty terms and count how the collection's genes overlap the cohort's (``universe``, symbols)."""
    usable = {k: s for k, s in sets.items() if s.genes}
    genes = {g for s in usable.values() for g in s.genes}
    return CollectionCheck(
        sets=usable,
        empty_terms=[k for k, s in sets.items() if not s.genes],
        n_genes=len(genes),
        n_genes_in_universe=len(genes & universe),
        genes_not_in_universe=sorted(genes - universe),
        n_terms_without_universe_genes=sum(1 for s in usable.values() if not set(s.genes) & universe),
    )


def restrict(sets: dict[str, GeneSet], universe: set[str], min_size: int, max_size: int) -> dict[str, GeneSet]:
    """Terms restricted to ``universe`` whose restricted size is within ``[min_size, max_size]``.

    This is the size filter applied at analysis time: the size counts only genes that were tested.
    """
    kept = {}
    for term_id, gene_set in sets.items():
        genes = tuple(g for g in gene_set.genes if g in universe)
        if min_size <= len(genes) <= max_size:
            kept[term_id] = GeneSet(term_id, gene_set.term_name, genes)
    return kept


def as_gseapy_dict(sets: dict[str, GeneSet]) -> dict[str, list[str]]:
    """``{term_id: [genes]}``: the only form in which gene sets are handed to gseapy (never a library name)."""
    return {term_id: list(gene_set.genes) for term_id, gene_set in sets.items()}


def source_provenance(gmt_path: str | Path) -> dict:
    """Provenance of a GMT file: its md5, plus its entry of a ``MANIFEST.yaml`` / ``manifest.yaml`` beside it.

    The shipped GO files have a ``MANIFEST.yaml`` listing each file under ``collections``; downloaded
    collections have a ``manifest.yaml`` of their own. A user's GMT without either is described by its
    checksum alone.
    """
    gmt_path = Path(gmt_path)
    provenance: dict = {"file": str(gmt_path), "md5": hashlib.md5(gmt_path.read_bytes()).hexdigest()}
    for name in ("MANIFEST.yaml", "manifest.yaml"):
        manifest_path = gmt_path.parent / name
        if not manifest_path.exists():
            continue
        manifest = yaml.safe_load(manifest_path.read_text()) or {}
        entries = [e for e in manifest.get("collections", []) if e.get("file") == gmt_path.name]
        if entries:  # a shared manifest: keep this file's entry and what applies to every file
            shared = {k: v for k, v in manifest.items() if k != "collections"}
            provenance["manifest"] = {**shared, "collection": entries[0]}
        elif "collections" not in manifest:
            provenance["manifest"] = manifest
        break
    return provenance


def prepare_collection(name: str, gmt_path: str | Path, cohort_genes: pd.DataFrame, out_gmt: str | Path,
                       out_manifest: str | Path) -> CollectionCheck:
    """Load one collection, check it against the cohort's genes, write it and its manifest (rule ``collection``).

    Parameters
    ----------
    name : str
        The collection's name in the config (e.g. ``GO_BP``).
    gmt_path : str or Path
        The shipped, user or downloaded GMT.
    cohort_genes : pandas.DataFrame
        The cohort's gene table (column ``symbol``): the universe the checks count against.
    out_gmt, out_manifest : str or Path
        Where the checked collection (gzipped GMT) and its manifest (YAML) go.
    """
    verify_cached_gmt(gmt_path)  # a cached download must still match its manifest's sha256
    sets = read_gmt(gmt_path)
    if not sets:
        raise InputError(f"GMT file '{gmt_path}' of collection {name} has no gene sets; give a GMT file with one "
                         "line per term ('term_id<TAB>description<TAB>gene...') or remove the collection")
    check = check_collection(sets, set(cohort_genes["symbol"]))
    LOG.info("collection %s: %s", name, ", ".join(f"{k} {v}" for k, v in check.summary().items()))
    if check.empty_terms:
        LOG.info("  empty terms dropped: %s", ", ".join(check.empty_terms[:20]))
    if check.genes_not_in_universe:
        LOG.info("  e.g. genes not measured in the cohort: %s", ", ".join(check.genes_not_in_universe[:20]))
    manifest = {"collection": name, "source": source_provenance(gmt_path), "checks": check.summary()}
    write_gmt(check.sets, out_gmt)
    write_atomic(out_manifest, lambda tmp: Path(tmp).write_text(yaml.safe_dump(manifest, sort_keys=False)))
    return check
