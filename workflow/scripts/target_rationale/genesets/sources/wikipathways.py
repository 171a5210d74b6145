"""WikiPathways from its monthly release GMT (``source: wikipathways``): the newest file of one organism in the
release folder's listing, Entrez ids mapped to symbols. Registry entry: ``wikipathways`` in
:mod:`target_rationale.genesets.sources.registry`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urljoin

import pandas as pd

from target_rationale.core.http import DEFAULT_TIMEOUT, utc_timestamp
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

WIKIPATHWAYS = SOURCES["wikipathways"]


def find_wikipathways_gmt(listing: str, organism: str) -> tuple[str, str]:
    """Find the organism's GMT in a WikiPathways directory listing (HTML).

    Parameters
    ----------
    listing : str
        The HTML of ``.../current/gmt/``.
    organism : str
        Latin name, e.g. ``Homo sapiens`` (spaces become underscores in the file name).

    Returns
    -------
    tuple of str
        ``(href, release)``: the link as written (relative or absolute) and its date ``YYYYMMDD``; the newest
        release if several are listed.

    Raises
    ------
    ValueError
        If no ``wikipathways-YYYYMMDD-gmt-{Organism}.gmt`` link is found (the message lists the organisms seen).
    """
    species = organism.strip().replace(" ", "_")
    pattern = re.compile(rf"""href=["']([^"']*?wikipathways-(\d{{8}})-gmt-{re.escape(species)}\.gmt)["']""")
    found = sorted(((release, href) for href, release in pattern.findall(listing)), reverse=True)
    if not found:
        seen = sorted(set(re.findall(r"wikipathways-\d{8}-gmt-([A-Za-z_]+)\.gmt", listing)))
        raise ValueError(f"no link to wikipathways-YYYYMMDD-gmt-{species}.gmt; organisms listed: "
                         f"{', '.join(s.replace('_', ' ') for s in seen) or 'none'}")
    release, href = found[0]
    return href, release


def parse_wikipathways_gmt(text: str) -> tuple[dict[str, str], dict[str, list[str]], set[str]]:
    """Parse a WikiPathways GMT (``Title%WikiPathways_YYYYMMDD%WPnnn%Organism<TAB>url<TAB>entrez...``).

    Returns
    -------
    tuple
        ``({WP id: title}, {WP id: [entrez id, ...]}, {release label, e.g. WikiPathways_20260610})``.

    Raises
    ------
    ValueError
        If a non-blank line does not have that form, an id occurs twice, or there is no pathway.
    """
    names: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    releases: set[str] = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        head = fields[0].rsplit("%", 3)
        if len(fields) < 2 or len(head) != 4 or not re.fullmatch(r"WP\d+", head[2]):
            raise ValueError(f"line {line_no} is not 'Title%Release%WPnnn%Organism<TAB>url<TAB>genes': "
                             f"{line[:80]!r}")
        title, release, wp_id, _ = head
        if wp_id in names:
            raise ValueError(f"line {line_no}: {wp_id} occurs twice")
        names[wp_id] = title.strip() or wp_id
        members[wp_id] = [g.strip() for g in fields[2:] if g.strip()]
        releases.add(release)
    if not names:
        raise ValueError("no pathways")
    return names, members, releases


def fetch_wikipathways(out_dir: str | Path, organism: str = WIKIPATHWAYS.defaults["organism"],
                       id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP,
                       base_url: str = WIKIPATHWAYS.defaults["base_url"], timeout: float = DEFAULT_TIMEOUT,
                       name: str | None = None) -> Fetched:
    """Download the current WikiPathways monthly GMT of one organism into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Cache folder; receives ``genesets.gmt`` and ``manifest.yaml`` (only if everything succeeded).
    organism : str
        Latin name as in the file names (``Homo sapiens`` -> ``...-gmt-Homo_sapiens.gmt``).
    id_map : str, Path or pandas.DataFrame
        Entrez -> symbol map for that organism.
    base_url : str
        Folder whose HTML listing links ``wikipathways-YYYYMMDD-gmt-{Organism}.gmt``.
    timeout : float
        Seconds per connection / read.
    name : str, optional
        The collection's name in the user's config (``genesets: {name: ...}``), used in error messages and the
        manifest; default ``WikiPathways``.

    Returns
    -------
    Fetched
        Paths written and the manifest (term id = WP id, name = pathway title).

    Raises
    ------
    FetchError
        Download failed, the listing has no file for the organism, or the GMT is malformed.
    """
    collection = name or "WikiPathways"
    table, id_map_info = load_id_map(id_map)
    listing_url = base_url if base_url.endswith("/") else base_url + "/"
    fetched_at = utc_timestamp()
    listing = download(listing_url, collection, timeout)
    try:
        href, release = find_wikipathways_gmt(decode(listing, collection), organism)
    except ValueError as err:
        raise malformed(collection, listing_url, str(err)) from err
    gmt = download(urljoin(listing_url, href), collection, timeout)
    try:
        names, members, releases = parse_wikipathways_gmt(decode(gmt, collection))
    except ValueError as err:
        raise malformed(collection, gmt.url, str(err)) from err
    sets, unmapped = map_entrez_sets(members, table)
    gmt_text = format_gmt(names, sets)
    manifest = {
        "collection": collection,
        "source": "WikiPathways monthly release GMT (https://data.wikipathways.org)",
        "organism": organism,
        "version": release,
        "release_labels": sorted(releases),
        "date_fetched": fetched_at,
        "downloads": [listing.record(), gmt.record()],
        "n_pathways_in_file": len(names),
        "id_mapping": mapping_record(id_map_info, members, unmapped, sets),
        "licence": WIKIPATHWAYS.terms,
        "redistributable": True,
    }
    return write_outputs(out_dir, gmt_text, manifest)


def fetch_spec(spec: Mapping[str, str], out_dir: str | Path,
               id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP) -> Fetched:
    """The registry's fetch function: :func:`fetch_wikipathways` of a config entry (``organism``, ``base_url``,
    ``name``)."""
    return fetch_wikipathways(out_dir, id_map=id_map, name=spec["name"],
                              **{k: spec[k] for k in ("organism", "base_url") if k in spec})
