"""KEGG pathways from the KEGG REST API (``source: kegg_rest``): pathway list + pathway-gene links, Entrez ids
mapped to symbols. Registry entry: ``kegg_rest`` in :mod:`target_rationale.genesets.sources.registry`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from target_rationale.core.http import DEFAULT_TIMEOUT, utc_timestamp
from target_rationale.core.jobs import LOG
from target_rationale.genesets.gmt import read_gmt
from target_rationale.genesets.sources.common import (
    Fetched,
    decode,
    download,
    format_gmt,
    load_id_map,
    malformed,
    map_entrez_sets,
    mapping_record,
    write_outputs,
)
from target_rationale.genesets.sources.registry import DEFAULT_ID_MAP, SOURCES

KEGG = SOURCES["kegg_rest"]
#: Pathways the pNEN rationale names; a human download without them is reported in the log.
RATIONALE_PATHWAYS = ("hsa05200", "hsa01521", "hsa05202")


def parse_kegg_list(text: str, organism: str) -> dict[str, str]:
    """Parse KEGG ``list/pathway/{org}``: ``{pathway id: name}``, the organism suffix stripped from names.

    Accepts ``path:hsa04012<TAB>name`` (older) and ``hsa04012<TAB>name`` (current) lines. The suffix is the
    text after the last `` - `` shared by most names (`` - Homo sapiens (human)``), so names that contain
    `` - `` themselves keep it.

    Raises
    ------
    ValueError
        If a non-blank line is not ``[path:]{org}NNNNN<TAB>name`` or no pathway is found.
    """
    pattern = re.compile(rf"^(?:path:)?({re.escape(organism)}\d{{5}})\t(.+)$")
    names: dict[str, str] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = pattern.match(line.rstrip("\r"))
        if not match:
            raise ValueError(f"line {line_no} is not '{organism}NNNNN<TAB>name': {line[:80]!r}")
        names[match.group(1)] = match.group(2).strip()
    if not names:
        raise ValueError("no pathways listed")
    tails = Counter(name.rsplit(" - ", 1)[1] for name in names.values() if " - " in name)
    if tails:
        suffix, n = tails.most_common(1)[0]
        if n > len(names) / 2:
            names = {k: v[: -len(suffix) - 3] if v.endswith(" - " + suffix) else v for k, v in names.items()}
    return names


def parse_kegg_links(text: str, organism: str) -> dict[str, list[str]]:
    """Parse KEGG ``link/{org}/pathway``: ``{pathway id: [gene id, ...]}`` (``hsa:1956`` -> ``1956``).

    Raises
    ------
    ValueError
        If a non-blank line is not ``[path:]{org}NNNNN<TAB>{org}:gene`` or there is no link at all.
    """
    org = re.escape(organism)
    pattern = re.compile(rf"^(?:path:)?({org}\d{{5}})\t{org}:(\S+)$")
    links: dict[str, list[str]] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = pattern.match(line.rstrip("\r"))
        if not match:
            raise ValueError(f"line {line_no} is not 'path:{organism}NNNNN<TAB>{organism}:gene': {line[:80]!r}")
        links.setdefault(match.group(1), []).append(match.group(2))
    if not links:
        raise ValueError("no pathway-gene links")
    return links


def fetch_kegg(out_dir: str | Path, organism: str = KEGG.defaults["organism"],
               id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP, base_url: str = KEGG.defaults["base_url"],
               timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> Fetched:
    """Download KEGG pathways of one organism from the KEGG REST API into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Cache folder; receives ``genesets.gmt`` and ``manifest.yaml`` (only if everything succeeded).
    organism : str
        KEGG organism code (``hsa``). The id map must be for the same organism.
    id_map : str, Path or pandas.DataFrame
        Entrez -> symbol map (:func:`target_rationale.cohort.ids.read_gene_id_map` format).
    base_url : str
        KEGG REST root; ``{base_url}/list/pathway/{org}`` and ``{base_url}/link/{org}/pathway`` are fetched.
    timeout : float
        Seconds per connection / read.
    name : str, optional
        The collection's name in the user's config (``genesets: {name: ...}``), used in error messages and the
        manifest; default ``KEGG``.

    Returns
    -------
    Fetched
        Paths written and the manifest. Which pathways are present (e.g. hsa05200) is for the caller to check.

    Raises
    ------
    FetchError
        Download failed or the content was not in KEGG's format.
    """
    collection = name or "KEGG"
    table, id_map_info = load_id_map(id_map)
    base = base_url.rstrip("/")
    fetched_at = utc_timestamp()
    listing = download(f"{base}/list/pathway/{organism}", collection, timeout)
    links = download(f"{base}/link/{organism}/pathway", collection, timeout)
    try:
        names = parse_kegg_list(decode(listing, collection), organism)
    except ValueError as err:
        raise malformed(collection, listing.url, str(err)) from err
    try:
        members = parse_kegg_links(decode(links, collection), organism)
    except ValueError as err:
        raise malformed(collection, links.url, str(err)) from err
    sets, unmapped = map_entrez_sets(members, table)
    gmt_text = format_gmt(names, sets)
    manifest = {
        "collection": collection,
        "source": "KEGG REST API (https://www.kegg.jp/kegg/rest/keggapi.html)",
        "organism": organism,
        "version": f"not versioned by the API; as of {fetched_at}",
        "date_fetched": fetched_at,
        "downloads": [listing.record(), links.record()],
        "n_pathways_listed": len(names),
        "n_pathways_with_links": len(members),
        "n_pathways_linked_but_not_listed": len(set(members) - set(names)),
        "id_mapping": mapping_record(id_map_info, members, unmapped, sets),
        "licence": KEGG.terms,
        "redistributable": False,
    }
    return write_outputs(out_dir, gmt_text, manifest)


def fetch_spec(spec: Mapping[str, str], out_dir: str | Path,
               id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP) -> Fetched:
    """The registry's fetch function: :func:`fetch_kegg` of a config entry (``organism``, ``base_url``, ``name``).

    A human download that lacks a pathway the pNEN rationale names is reported in the log.
    """
    fetched = fetch_kegg(out_dir, id_map=id_map, name=spec["name"],
                         **{k: spec[k] for k in ("organism", "base_url") if k in spec})
    if spec.get("organism", KEGG.defaults["organism"]) == "hsa":
        present = set(read_gmt(fetched.gmt))
        missing = [p for p in RATIONALE_PATHWAYS if p not in present]
        if missing:
            LOG.warning("KEGG download lacks %s, which the pNEN rationale names", ", ".join(missing))
    return fetched
