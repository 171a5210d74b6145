"""MSigDB collections through gseapy's ``Msigdb`` (``source: msigdb``): gene symbols as published, one
collection of one release. Registry entry: ``msigdb`` in :mod:`target_rationale.genesets.sources.registry`.

gseapy is imported only when a collection is fetched: it is heavy (it imports matplotlib), and only this source
needs it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pandas as pd
import requests

from target_rationale.core import http
from target_rationale.core.http import DEFAULT_TIMEOUT, Downloaded, utc_timestamp
from target_rationale.genesets.sources.common import (
    Fetched,
    decode,
    download_error,
    format_gmt,
    malformed,
    write_outputs,
)
from target_rationale.genesets.sources.registry import DEFAULT_ID_MAP, SOURCES

MSIGDB = SOURCES["msigdb"]
HALLMARK_CITATION = "Liberzon et al. 2015, Cell Systems 1:417 (MSigDB Hallmark)"
_GSEAPY_LOCK = threading.Lock()


@contextlib.contextmanager
def _gseapy_requests(gseapy_msigdb: ModuleType, collection: str, timeout: float, seen: list[Downloaded]
                     ) -> Iterator[None]:
    """Let gseapy's Msigdb download through :func:`target_rationale.core.http.get` (timeout, clear errors) and
    keep the raw bytes.

    gseapy 1.3.1 calls ``requests.get(url)`` without a timeout (a dead network can hang it) and turns every
    failure into ``None``. Its module's ``requests`` name is swapped for this shim while the block runs (only in
    ``gseapy.msigdb``, given as ``gseapy_msigdb``; serialised by a lock), and restored afterwards.
    """
    if not hasattr(gseapy_msigdb, "requests"):
        raise RuntimeError("gseapy.msigdb no longer downloads through `requests`; update "
                           "target_rationale.genesets.sources.msigdb.fetch_msigdb for this gseapy version")

    class Shim:
        @staticmethod
        def get(url: str, *args, **kwargs) -> requests.Response:
            response = http.get(url, download_error(collection), timeout, require_content=True)
            seen.append(Downloaded.of(url, response))
            return response

    with _GSEAPY_LOCK:
        original = gseapy_msigdb.requests
        gseapy_msigdb.requests = Shim
        try:
            yield
        finally:
            gseapy_msigdb.requests = original


def _check_msigdb_gmt(text: str) -> None:
    """Raise ValueError unless every non-blank line is ``NAME<TAB>description<TAB>gene...``."""
    n = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) < 3 or not re.fullmatch(r"[A-Za-z0-9_.\-]+", fields[0]):
            raise ValueError(f"line {line_no} is not 'SET_NAME<TAB>description<TAB>genes': {line[:80]!r}")
        n += 1
    if n == 0:
        raise ValueError("no gene sets")


def fetch_msigdb(out_dir: str | Path, collection: str = "h.all", version: str = MSIGDB.defaults["version"],
                 base_url: str | None = MSIGDB.defaults["base_url"], timeout: float = DEFAULT_TIMEOUT,
                 name: str | None = None) -> Fetched:
    """Download one MSigDB collection (gene symbols) through gseapy's ``Msigdb`` into ``out_dir``.

    gseapy builds the URL as ``{Msigdb.url}/{version}/{collection}.v{version}.symbols.gmt``. A subclass with
    ``url`` set to ``base_url`` (or gseapy's own, without its trailing slash) is used, so gseapy's class is never
    modified. ``Msigdb()`` is not instantiated: its constructor fetches and parses the release listings (two
    more requests, and ``pandas.read_html`` needs lxml).

    Parameters
    ----------
    out_dir : str or Path
        Cache folder; receives ``genesets.gmt`` and ``manifest.yaml`` (only if everything succeeded).
    collection : str
        MSigDB collection as in its file names (``h.all``, ``c2.cp.reactome``, ``c2.cp.kegg_medicus`` ...).
    version : str
        MSigDB release (``2024.1.Hs``).
    base_url : str, optional
        Release root instead of gseapy's ``https://data.broadinstitute.org/gsea-msigdb/msigdb/release/``.
    timeout : float
        Seconds per connection / read.
    name : str, optional
        The collection's name in the user's config (``genesets: {name: ...}``), used in error messages and the
        manifest; default ``MSigDB {collection}``.

    Returns
    -------
    Fetched
        Paths written and the manifest. Column 2 of the GMT is the set name (gseapy drops MSigDB's column 2,
        which is a URL anyway). Symbols are kept as published (not re-mapped), so no id is unmapped.

    Raises
    ------
    FetchError
        Download failed or the file was not a GMT.
    ValueError
        If ``collection`` or ``version`` contain characters other than letters, digits, ``._-``.
    """
    # Lazy: gseapy is heavy (it imports matplotlib), and only an MSigDB download needs it.
    import gseapy.msigdb as gseapy_msigdb

    for label, value in (("collection", collection), ("version", version)):
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
            raise ValueError(f"MSigDB {label} '{value}' is not a name like 'h.all' / '2024.1.Hs'")
    name = name or f"MSigDB {collection}"
    root = (base_url or gseapy_msigdb.Msigdb.url).rstrip("/")
    source_class = type("CachedMsigdb", (gseapy_msigdb.Msigdb,), {"url": root})
    fetched_at = utc_timestamp()
    seen: list[Downloaded] = []
    with _gseapy_requests(gseapy_msigdb, name, timeout, seen):
        gene_sets = source_class.get_gmt(category=collection, dbver=version)
    if not seen:
        raise RuntimeError("gseapy's Msigdb.get_gmt did not download through requests.get; update "
                           "target_rationale.genesets.sources.msigdb.fetch_msigdb for this gseapy version")
    raw = seen[-1]
    try:
        _check_msigdb_gmt(decode(raw, name))
    except ValueError as err:
        raise malformed(name, raw.url, str(err)) from err
    if not gene_sets:
        raise malformed(name, raw.url, "gseapy found no gene sets")
    sets = {set_name.strip(): [g.strip() for g in genes] for set_name, genes in gene_sets.items()}
    gmt_text = format_gmt({k: k for k in sets}, sets)
    manifest = {
        "collection": name,
        "source": "MSigDB via gseapy.Msigdb.get_gmt (https://www.gsea-msigdb.org)",
        "organism": "Homo sapiens" if version.endswith(".Hs") else "Mus musculus" if version.endswith(".Mm")
        else "see version",
        "msigdb_collection": collection,
        "version": version,
        "date_fetched": fetched_at,
        "downloads": [d.record() for d in seen],
        "n_sets_in_file": len(sets),
        "id_mapping": {"from": "gene symbols as published by MSigDB", "to": "unchanged", "n_ids_unmapped": 0},
        "licence": MSIGDB.terms,
        "redistributable": "kegg" not in collection.lower(),  # CC BY 4.0 with attribution; KEGG-derived: no
    }
    if collection.startswith("h."):
        manifest["citation"] = HALLMARK_CITATION
    return write_outputs(out_dir, gmt_text, manifest)


def fetch_spec(spec: Mapping[str, str], out_dir: str | Path,
               id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP) -> Fetched:
    """The registry's fetch function: :func:`fetch_msigdb` of a config entry (``collection``, ``version``,
    ``base_url``, ``name``). ``id_map`` is not used: MSigDB publishes symbols."""
    return fetch_msigdb(out_dir, collection=spec["collection"], name=spec["name"],
                        **{k: spec[k] for k in ("version", "base_url") if k in spec})
