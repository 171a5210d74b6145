"""The online gene-set sources a config may name (``genesets: {NAME: {source: ...}}``): one entry each.

An entry holds everything the workflow knows about a source before it downloads anything: the defaults of the
spec fields the config may leave out, which fields select the content (with the source, they name the cache
folder: :func:`cache_key`), the licence / terms recorded in the manifest, and the function that fetches it,
named ``module:function`` and imported only when a collection is fetched. This module is light (standard
library only), so the Snakefile can plan online collections without importing requests or pandas.

Adding a source is one :data:`SOURCES` entry plus its module in this package, whose fetch function is called as
``fetch(spec, out_dir, id_map) -> Fetched`` (:mod:`target_rationale.genesets.sources.common`).
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from target_rationale.core.jobs import LOG
from target_rationale.genesets.sources.cache import remove_leftovers

if TYPE_CHECKING:  # annotations only: importing pandas here would make the Snakefile's parse step heavy
    import pandas as pd

    from target_rationale.genesets.sources.common import Fetched

#: The shipped Entrez/Ensembl -> symbol map (human), with which KEGG and WikiPathways ids become symbols.
DEFAULT_ID_MAP = Path(__file__).resolve().parents[5] / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"


@dataclass(frozen=True)
class Source:
    """One online gene-set source.

    Attributes
    ----------
    name : str
        Its ``source:`` value in the config (``kegg_rest``).
    fetcher : str
        ``module:function`` of its fetch function, called as ``function(spec, out_dir, id_map)`` with the
        download's spec plus a ``name`` to label its messages; returns a ``Fetched``.
    defaults : mapping
        Values of the spec fields the config may leave out (``organism``, ``version``, ``base_url``); None
        leaves the choice to the fetcher (MSigDB: gseapy's release root).
    key : tuple of str
        The spec fields that select the content; with the source they name its cache folder. A field without
        a default is required.
    terms : str
        Licence / terms of use, recorded in the manifest.
    """

    name: str
    fetcher: str
    defaults: Mapping[str, str | None]
    key: tuple[str, ...]
    terms: str

    def cache_key(self, spec: Mapping[str, str]) -> str:
        """See :func:`cache_key`."""
        parts = [self.name, *(spec.get(field, self.defaults[field]) if field in self.defaults else spec[field]
                              for field in self.key)]
        server = _server(spec.get("base_url"))
        if server and server != _server(self.defaults.get("base_url")):
            parts.append("url_" + hashlib.sha256(server.encode("utf-8")).hexdigest()[:URL_DIGITS])
        return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", part) for part in parts)

    def fetch_function(self) -> Callable[..., Fetched]:
        """The fetch function (its module imported now: it needs requests and pandas)."""
        module, function = self.fetcher.split(":")
        return getattr(importlib.import_module(module), function)


def _server(base_url: str | None) -> str:
    """``base_url`` as it selects a server: without white space around it or slashes at its end."""
    return str(base_url or "").strip().rstrip("/")


#: Hex digits of the sha256 of ``base_url`` in the cache key of a collection fetched from another server.
URL_DIGITS = 12

_PACKAGE = __name__.rsplit(".", 1)[0]

#: Every online source, by its ``source:`` value.
SOURCES: dict[str, Source] = {source.name: source for source in [
    Source(
        name="kegg_rest",
        fetcher=f"{_PACKAGE}.kegg:fetch_spec",
        defaults={"organism": "hsa", "base_url": "https://rest.kegg.jp"},
        key=("organism",),
        terms="KEGG REST API, free for academic use; not redistributable",
    ),
    Source(
        name="wikipathways",
        fetcher=f"{_PACKAGE}.wikipathways:fetch_spec",
        defaults={"organism": "Homo sapiens", "base_url": "https://data.wikipathways.org/current/gmt/"},
        key=("organism",),
        terms="CC0 1.0 (WikiPathways); cite Agrawal et al. 2024, Nucleic Acids Res 52:D679",
    ),
    Source(
        name="msigdb",
        fetcher=f"{_PACKAGE}.msigdb:fetch_spec",
        defaults={"version": "2024.1.Hs", "base_url": None},
        key=("collection", "version"),
        terms="CC BY 4.0 (MSigDB); some collections keep their source's terms (e.g. KEGG-derived c2.cp.kegg*); "
              "cite Subramanian et al. 2005, PNAS 102:15545 and Liberzon et al. 2011, Bioinformatics 27:1739",
    ),
]}


def source_of(spec: Mapping[str, str]) -> Source:
    """The :class:`Source` a config entry names (``spec['source']``).

    Raises
    ------
    ValueError
        If it is not one of :data:`SOURCES`.
    """
    source = spec["source"]
    if source not in SOURCES:
        raise ValueError(f"unknown gene-set source '{source}'")
    return SOURCES[source]


def cache_key(spec: Mapping[str, str]) -> str:
    """Folder name, under the gene-set cache, of an online collection: its source and what selects its content.

    The fields of the source's ``key`` (defaults filled in) joined by ``-`` after the source, each with runs of
    characters other than letters, digits, ``_`` and ``.`` replaced by ``_``. A ``base_url`` other than the
    source's own adds ``url_`` and the first :data:`URL_DIGITS` hex digits of its sha256 (trailing slashes
    ignored), so a mirror's or a test server's download never stands in for the public one; specs without
    ``base_url`` keep the key they always had.

    >>> cache_key({"source": "wikipathways", "organism": "Homo sapiens"})
    'wikipathways-Homo_sapiens'
    >>> cache_key({"source": "msigdb", "collection": "h.all"})
    'msigdb-h.all-2024.1.Hs'
    >>> cache_key({"source": "kegg_rest", "base_url": "http://127.0.0.1:8000/kegg/"})
    'kegg_rest-hsa-url_ca76958213d5'
    """
    return source_of(spec).cache_key(spec)


def download_spec(spec: Mapping[str, str]) -> dict[str, str]:
    """What selects a download: the source, its :attr:`Source.key` fields (defaults filled in) and a ``base_url``
    the entry gives; what the fetch job hands the fetcher (not the config name: one download serves every name
    with its cache key).

    >>> download_spec({"source": "kegg_rest", "name": "KEGG"})
    {'source': 'kegg_rest', 'organism': 'hsa'}
    """
    source = source_of(spec)
    chosen = {"source": source.name, **{field: spec.get(field, source.defaults.get(field)) for field in source.key}}
    return {**chosen, "base_url": spec["base_url"]} if spec.get("base_url") is not None else chosen


def online_collections(collections: Mapping[str, Mapping[str, str]]) -> dict[str, dict]:
    """The online collections of a config's ``genesets:`` by cache key: ``{key: download_spec(spec)}``.

    Entries with a ``gmt`` file instead of a ``source`` are left out. Two names with the same source and key
    share one download.
    """
    return {cache_key(spec): download_spec(spec) for spec in collections.values() if "source" in spec}


def fetch_collection(spec: Mapping[str, str], out_dir: str | Path,
                     id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP) -> Fetched:
    """Fetch the online collection a config entry describes (rule ``fetch_collection``).

    Parameters
    ----------
    spec : mapping
        The config entry (the job gets its :func:`download_spec`): ``{source: kegg_rest | wikipathways | msigdb,
        organism, collection, version, base_url}`` (absent keys take the source's defaults), and optionally
        ``name``, the label of messages; without it the label is the cache key (one download serves every
        config name with that key).
    out_dir : str or Path
        Cache folder of this collection.
    id_map : str, Path or pandas.DataFrame
        Entrez -> symbol map for the sources that publish Entrez ids (KEGG and WikiPathways).

    Returns
    -------
    Fetched
        Paths written and the manifest.
    """
    spec = {**spec, "name": spec.get("name") or cache_key(spec)}
    source, name = spec["source"], spec["name"]
    for stale in remove_leftovers(out_dir):
        LOG.info("removed %s, left by an earlier fetch that was stopped", stale)
    fetched = source_of(spec).fetch_function()(spec, out_dir, id_map)
    LOG.info("collection %s fetched from %s into %s: %s sets, %s genes", name, source, out_dir,
             fetched.manifest.get("n_sets"), fetched.manifest.get("n_genes"))
    return fetched
