"""What the online gene-set sources share: downloading, id mapping, the GMT format and the two files written.

Each fetcher (:mod:`.kegg`, :mod:`.wikipathways`, :mod:`.msigdb`) downloads everything into memory first,
converts it to the project's GMT format and only then writes two files into ``out_dir``:

``genesets.gmt``
    One term per line: term id (``hsa04012``, ``WP673``, ``HALLMARK_ANGIOGENESIS``), human-readable name, then
    the member HGNC symbols (unique, sorted). Lines sorted by term id (digits compared as numbers, so
    ``WP100 < WP673 < WP1000``). Terms left without any mapped gene are dropped (and counted).
``manifest.yaml``
    Where it came from: source, organism / collection / version, every URL fetched with the sha256 of the bytes
    received, the date fetched (UTC), the sha256 of the GMT, counts, and the licence / terms.

The GMT is written first and the manifest last, each atomically (temporary file + rename); if anything fails
nothing is left in ``out_dir`` (a folder that did not exist is not even created). Caching is the caller's
business: a Snakemake rule whose outputs are these two files runs the fetcher only when they are missing, so
the functions here always download. Nothing here is called unless the config asks for an online collection.

Errors are :class:`FetchError` with a one-line message naming the collection, the URL, the reason and the fix
(connect, or give the collection as a local GMT file).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from target_rationale.cohort.ids import map_to_symbols, read_gene_id_map
from target_rationale.core import http
from target_rationale.core.http import DEFAULT_TIMEOUT, Downloaded, DownloadError, ErrorFactory
from target_rationale.core.io import write_atomic
from target_rationale.genesets.sources.cache import GMT_NAME, MANIFEST_NAME  # the two files of ``out_dir``

_LOCAL_FILE_HINT = ("give the collection as a local file instead, e.g. "
                    "`genesets: {{{name}: {{gmt: /path/to/{file}.gmt}}}}`")


class FetchError(DownloadError):
    """A gene-set collection could not be downloaded or its content was not as expected.

    Attributes
    ----------
    collection : str
        Collection name as the user knows it (``KEGG``, ``WikiPathways``, ``MSigDB h.all``).
    url : str
        The URL that failed.
    reason : str
        Short reason (``Connection refused``, ``HTTP 404 Not Found``, ``empty response`` ...).
    """

    def __init__(self, collection: str, url: str, reason: str, fix: str) -> None:
        self.collection = collection
        super().__init__(f"collection '{collection}': cannot download {url} ({reason}); {fix}", url, reason)


@dataclass(frozen=True)
class Fetched:
    """What a fetcher wrote.

    Attributes
    ----------
    gmt : Path
        The GMT file.
    manifest_path : Path
        The ``manifest.yaml`` beside it.
    manifest : dict
        Its content.
    """

    gmt: Path
    manifest_path: Path
    manifest: dict


# ---------------------------------------------------------------------------------------------------------------
# Downloading


def _local_file_hint(collection: str) -> str:
    name = collection.split()[0]
    return _LOCAL_FILE_HINT.format(name=name, file=name.lower())


def download_error(collection: str) -> ErrorFactory:
    """How :mod:`target_rationale.core.http` reports a failed download of ``collection``: a :class:`FetchError`
    whose fix is to check the name (the server has no such file) or to connect, or else to give a local file."""
    def error(url: str, reason: str, missing: bool) -> FetchError:
        fix = ("the server has no such file: check the organism / collection / version, or" if missing
               else "this run needs internet for it: connect, or")
        return FetchError(collection, url, reason, f"{fix} {_local_file_hint(collection)}")

    return error


def download(url: str, collection: str, timeout: float = DEFAULT_TIMEOUT) -> Downloaded:
    """Download ``url`` into memory.

    Raises
    ------
    FetchError
        On a network error, a timeout, an HTTP error status or an empty body.
    """
    return http.download(url, download_error(collection), timeout)


def malformed(collection: str, url: str, detail: str) -> FetchError:
    """The error for a download whose content is not in the source's format."""
    return FetchError(collection, url, f"unexpected content: {detail}",
                      "the source may have changed its format; " + _local_file_hint(collection))


def decode(item: Downloaded, collection: str) -> str:
    """The downloaded bytes as UTF-8 text (a :func:`malformed` error if they are not)."""
    try:
        return item.content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise malformed(collection, item.url, f"not UTF-8 text ({err.reason} at byte {err.start})") from err


# ---------------------------------------------------------------------------------------------------------------
# Ids and the GMT format


def natural_key(term_id: str) -> tuple:
    """Sort key comparing digit runs as numbers (``WP100 < WP673 < WP1000``)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", term_id) if part)


def map_entrez_sets(members: Mapping[str, Iterable[str]], id_map: pd.DataFrame
                    ) -> tuple[dict[str, list[str]], list[str]]:
    """Map each set's Entrez ids to symbols (first symbol in sorted order where an id has several).

    Returns
    -------
    tuple
        ``({term id: sorted unique symbols}, sorted distinct ids that did not map)``; unmapped ids are left
        out of the sets.
    """
    ids = sorted({g for genes in members.values() for g in genes})
    table = map_to_symbols(pd.Index(ids, dtype=str), "entrez", id_map)
    mapped = table.loc[table["mapping"] == "mapped", "symbol"].to_dict()
    sets = {term: sorted({mapped[g] for g in genes if g in mapped}) for term, genes in members.items()}
    unmapped = sorted(set(ids) - set(mapped), key=natural_key)
    return sets, unmapped


def format_gmt(names: Mapping[str, str], sets: Mapping[str, Iterable[str]]) -> str:
    """GMT text: ``id<TAB>name<TAB>symbols...`` per term with at least one gene, sorted by :func:`natural_key`.

    Tabs and line breaks inside names become spaces; symbols are de-duplicated and sorted.
    """
    lines = []
    for term_id in sorted(sets, key=natural_key):
        genes = sorted({g.strip() for g in sets[term_id] if g and g.strip()})
        if not genes:
            continue
        name = re.sub(r"\s+", " ", names.get(term_id, term_id)).strip() or term_id
        lines.append("\t".join([term_id, name, *genes]))
    return "".join(line + "\n" for line in lines)


def gmt_counts(gmt_text: str) -> tuple[int, int]:
    """``(number of sets, number of distinct genes)`` of GMT text."""
    rows = [line.split("\t") for line in gmt_text.splitlines() if line.strip()]
    return len(rows), len({g for row in rows for g in row[2:]})


def load_id_map(id_map: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The Entrez -> symbol table and how the manifest records it (the file's name and sha256).

    Raises
    ------
    FileNotFoundError
        If ``id_map`` is a path that does not exist.
    """
    if isinstance(id_map, pd.DataFrame):
        return id_map, {"source": "table given by the caller", "rows": len(id_map)}
    path = Path(id_map)
    if not path.is_file():
        raise FileNotFoundError(f"gene id map '{path}' does not exist; it maps Entrez ids to symbols "
                                "(shipped: resources/gene_ids/hs_gene_id_map.tsv.gz)")
    return read_gene_id_map(path), {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def mapping_record(id_map_info: dict, members: Mapping[str, Iterable[str]], unmapped: list[str],
                   sets: Mapping[str, list[str]]) -> dict:
    """The manifest's ``id_mapping`` of Entrez-id sets ``members`` mapped to ``sets`` (:func:`map_entrez_sets`)."""
    return {"from": "NCBI Gene (Entrez) ids", "to": "HGNC symbols", "id_map": id_map_info,
            "n_ids": len({g for genes in members.values() for g in genes}), "n_ids_unmapped": len(unmapped),
            "unmapped_examples": unmapped[:20],
            "n_sets_without_mapped_genes_dropped": sum(1 for genes in sets.values() if not genes)}


# ---------------------------------------------------------------------------------------------------------------
# Output


def write_outputs(out_dir: str | Path, gmt_text: str, manifest: dict) -> Fetched:
    """Write the GMT then the manifest, each atomically; if the manifest fails, remove the GMT again.

    Parameters
    ----------
    out_dir : str or Path
        The collection's cache folder.
    gmt_text : str
        From :func:`format_gmt`.
    manifest : dict
        The fetcher's record, starting with ``collection``, ``source``, ``organism``, ``version``,
        ``date_fetched``, ``downloads`` and holding ``id_mapping``; the GMT's sha256 and counts are added after
        those six.
    """
    out_dir = Path(out_dir)
    gmt_bytes = gmt_text.encode("utf-8")
    n_sets, n_genes = gmt_counts(gmt_text)
    head = {k: manifest[k] for k in ("collection", "source", "organism", "version", "date_fetched", "downloads")}
    manifest = {**head,
                "gmt": {"file": GMT_NAME, "sha256": hashlib.sha256(gmt_bytes).hexdigest(), "bytes": len(gmt_bytes)},
                "n_sets": n_sets, "n_genes": n_genes,
                "n_ids_unmapped": manifest["id_mapping"]["n_ids_unmapped"],
                **{k: v for k, v in manifest.items() if k not in head}}
    text = ("# Written by workflow/scripts/target_rationale/genesets/sources/ when the run downloaded this "
            "collection.\n"
            "# A cache: delete this folder to download again.\n"
            + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=120))
    gmt_path, manifest_path = out_dir / GMT_NAME, out_dir / MANIFEST_NAME
    write_atomic(gmt_path, lambda tmp: tmp.write_bytes(gmt_bytes))
    try:
        write_atomic(manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except BaseException:
        gmt_path.unlink(missing_ok=True)
        raise
    return Fetched(gmt=gmt_path, manifest_path=manifest_path, manifest=manifest)
