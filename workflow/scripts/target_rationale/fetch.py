"""Optional online gene-set collections (KEGG, WikiPathways, MSigDB), downloaded once into a cache folder.

Each fetcher downloads everything into memory first, converts it to the project's GMT format and only then
writes two files into ``out_dir``:

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

import contextlib
import hashlib
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

import pandas as pd
import requests
import yaml

from .gene_ids import map_to_symbols, read_gene_id_map
from .genesets import read_gmt
from .runtime import LOG, write_atomic

#: Seconds to wait for a connection and for each read before giving up.
DEFAULT_TIMEOUT = 60.0
#: File names written into ``out_dir``.
GMT_NAME = "genesets.gmt"
MANIFEST_NAME = "manifest.yaml"
#: The shipped Entrez/Ensembl -> symbol map (human).
DEFAULT_ID_MAP = Path(__file__).resolve().parents[3] / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"

KEGG_BASE_URL = "https://rest.kegg.jp"
WIKIPATHWAYS_BASE_URL = "https://data.wikipathways.org/current/gmt/"
MSIGDB_DEFAULT_VERSION = "2024.1.Hs"

KEGG_TERMS = "KEGG REST API, free for academic use; not redistributable"
WIKIPATHWAYS_TERMS = "CC0 1.0 (WikiPathways); cite Agrawal et al. 2024, Nucleic Acids Res 52:D679"
MSIGDB_TERMS = ("CC BY 4.0 (MSigDB); some collections keep their source's terms (e.g. KEGG-derived c2.cp.kegg*); "
                "cite Subramanian et al. 2005, PNAS 102:15545 and Liberzon et al. 2011, Bioinformatics 27:1739")
HALLMARK_CITATION = "Liberzon et al. 2015, Cell Systems 1:417 (MSigDB Hallmark)"

_LOCAL_FILE_HINT = ("give the collection as a local file instead, e.g. "
                    "`genesets: {{{name}: {{gmt: /path/to/{file}.gmt}}}}`")


class FetchError(RuntimeError):
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
        self.collection, self.url, self.reason = collection, url, reason
        super().__init__(f"collection '{collection}': cannot download {url} ({reason}); {fix}")


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


@dataclass(frozen=True)
class Download:
    """One downloaded file, kept in memory."""

    url: str
    content: bytes
    final_url: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def record(self) -> dict:
        """The manifest entry: url, bytes, sha256 (and where a redirect led)."""
        entry = {"url": self.url, "bytes": len(self.content), "sha256": self.sha256}
        if self.final_url != self.url:
            entry["redirected_to"] = self.final_url
        return entry


# ---------------------------------------------------------------------------------------------------------------
# Download helper


def _hint(collection: str, *, missing: bool = False) -> str:
    name = collection.split()[0]
    local = _LOCAL_FILE_HINT.format(name=name, file=name.lower())
    if missing:
        return f"the server has no such file: check the organism / collection / version, or {local}"
    return f"this run needs internet for it: connect, or {local}"


def _short_reason(err: BaseException) -> str:
    """A short reason for a failed request (``Connection refused``, ``timed out after 60 s`` ...)."""
    if isinstance(err, requests.Timeout):
        return "timed out"
    text = str(err)
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[-1].strip()
    for pattern in (r"Failed to resolve '[^']+'", r"NameResolutionError"):
        match = re.search(pattern, text)
        if match:
            return match.group(0)
    cause: BaseException | None = err
    while cause is not None:  # innermost exception with a message, for errors raised below urllib3
        inner = cause.__cause__ or cause.__context__
        if inner is None or not str(inner):
            break
        cause = inner
    text = str(cause) if cause is not None and str(cause) else text or type(err).__name__
    text = re.sub(r"<[^>]+>: ", "", text.splitlines()[0])
    return text if len(text) <= 160 else text[:157] + "..."


def http_get(url: str, collection: str, timeout: float = DEFAULT_TIMEOUT) -> requests.Response:
    """GET ``url``; any failure becomes a :class:`FetchError`.

    Parameters
    ----------
    url : str
        What to download.
    collection : str
        Collection name for the error message.
    timeout : float
        Seconds to wait for the connection and for each read.

    Returns
    -------
    requests.Response
        A successful (status < 400), non-empty response.

    Raises
    ------
    FetchError
        On a network error, a timeout, an HTTP error status or an empty body.
    """
    try:
        response = requests.get(url, timeout=timeout)
    except requests.Timeout as err:
        raise FetchError(collection, url, f"timed out after {timeout:g} s", _hint(collection)) from err
    except (requests.RequestException, OSError) as err:
        raise FetchError(collection, url, _short_reason(err), _hint(collection)) from err
    if response.status_code >= 400:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        raise FetchError(collection, url, reason, _hint(collection, missing=response.status_code in (404, 410)))
    if not response.content.strip():
        raise FetchError(collection, url, "empty response", _hint(collection))
    return response


def download(url: str, collection: str, timeout: float = DEFAULT_TIMEOUT) -> Download:
    """Download ``url`` into memory (see :func:`http_get` for errors)."""
    response = http_get(url, collection, timeout)
    return Download(url=url, content=response.content, final_url=response.url or url)


def _malformed(collection: str, url: str, detail: str) -> FetchError:
    name = collection.split()[0]
    return FetchError(collection, url, f"unexpected content: {detail}",
                      "the source may have changed its format; "
                      + _LOCAL_FILE_HINT.format(name=name, file=name.lower()))


def _decode(item: Download, collection: str) -> str:
    try:
        return item.content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _malformed(collection, item.url, f"not UTF-8 text ({err.reason} at byte {err.start})") from err


# ---------------------------------------------------------------------------------------------------------------
# Pure parsing and formatting


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


def _utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _load_id_map(id_map: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    if isinstance(id_map, pd.DataFrame):
        return id_map, {"source": "table given by the caller", "rows": len(id_map)}
    path = Path(id_map)
    if not path.is_file():
        raise FileNotFoundError(f"gene id map '{path}' does not exist; it maps Entrez ids to symbols "
                                "(shipped: resources/gene_ids/hs_gene_id_map.tsv.gz)")
    return read_gene_id_map(path), {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _write_outputs(out_dir: str | Path, gmt_text: str, manifest: dict) -> Fetched:
    """Write the GMT then the manifest, each atomically; if the manifest fails, remove the GMT again."""
    out_dir = Path(out_dir)
    gmt_bytes = gmt_text.encode("utf-8")
    n_sets, n_genes = gmt_counts(gmt_text)
    head = {k: manifest[k] for k in ("collection", "source", "organism", "version", "date_fetched", "downloads")}
    manifest = {**head,
                "gmt": {"file": GMT_NAME, "sha256": hashlib.sha256(gmt_bytes).hexdigest(), "bytes": len(gmt_bytes)},
                "n_sets": n_sets, "n_genes": n_genes,
                "n_ids_unmapped": manifest["id_mapping"]["n_ids_unmapped"],
                **{k: v for k, v in manifest.items() if k not in head}}
    text = ("# Written by workflow/scripts/target_rationale/fetch.py when the run downloaded this collection.\n"
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


def _mapping_record(id_map_info: dict, n_ids: int, unmapped: list[str], n_dropped: int) -> dict:
    return {"from": "NCBI Gene (Entrez) ids", "to": "HGNC symbols", "id_map": id_map_info,
            "n_ids": n_ids, "n_ids_unmapped": len(unmapped), "unmapped_examples": unmapped[:20],
            "n_sets_without_mapped_genes_dropped": n_dropped}


# ---------------------------------------------------------------------------------------------------------------
# Fetchers


def fetch_kegg(out_dir: str | Path, organism: str = "hsa", id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP,
               base_url: str = KEGG_BASE_URL, timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> Fetched:
    """Download KEGG pathways of one organism from the KEGG REST API into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Cache folder; receives ``genesets.gmt`` and ``manifest.yaml`` (only if everything succeeded).
    organism : str
        KEGG organism code (``hsa``). The id map must be for the same organism.
    id_map : str, Path or pandas.DataFrame
        Entrez -> symbol map (:func:`target_rationale.gene_ids.read_gene_id_map` format).
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
    table, id_map_info = _load_id_map(id_map)
    base = base_url.rstrip("/")
    fetched_at = _utc_now()
    listing = download(f"{base}/list/pathway/{organism}", collection, timeout)
    links = download(f"{base}/link/{organism}/pathway", collection, timeout)
    try:
        names = parse_kegg_list(_decode(listing, collection), organism)
    except ValueError as err:
        raise _malformed(collection, listing.url, str(err)) from err
    try:
        members = parse_kegg_links(_decode(links, collection), organism)
    except ValueError as err:
        raise _malformed(collection, links.url, str(err)) from err
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
        "id_mapping": _mapping_record(id_map_info, len({g for v in members.values() for g in v}), unmapped,
                                      sum(1 for genes in sets.values() if not genes)),
        "licence": KEGG_TERMS,
        "redistributable": False,
    }
    return _write_outputs(out_dir, gmt_text, manifest)


def fetch_wikipathways(out_dir: str | Path, organism: str = "Homo sapiens",
                       id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP,
                       base_url: str = WIKIPATHWAYS_BASE_URL, timeout: float = DEFAULT_TIMEOUT,
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
    table, id_map_info = _load_id_map(id_map)
    listing_url = base_url if base_url.endswith("/") else base_url + "/"
    fetched_at = _utc_now()
    listing = download(listing_url, collection, timeout)
    try:
        href, release = find_wikipathways_gmt(_decode(listing, collection), organism)
    except ValueError as err:
        raise _malformed(collection, listing_url, str(err)) from err
    gmt = download(urljoin(listing_url, href), collection, timeout)
    try:
        names, members, releases = parse_wikipathways_gmt(_decode(gmt, collection))
    except ValueError as err:
        raise _malformed(collection, gmt.url, str(err)) from err
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
        "id_mapping": _mapping_record(id_map_info, len({g for v in members.values() for g in v}), unmapped,
                                      sum(1 for genes in sets.values() if not genes)),
        "licence": WIKIPATHWAYS_TERMS,
        "redistributable": True,
    }
    return _write_outputs(out_dir, gmt_text, manifest)


_GSEAPY_LOCK = threading.Lock()


@contextlib.contextmanager
def _gseapy_requests(collection: str, timeout: float, seen: list[Download]) -> Iterator[None]:
    """Let gseapy's Msigdb download through :func:`http_get` (timeout, clear errors) and keep the raw bytes.

    gseapy 1.3.1 calls ``requests.get(url)`` without a timeout (a dead network can hang it) and turns every
    failure into ``None``. Its module's ``requests`` name is swapped for this shim while the block runs (only in
    ``gseapy.msigdb``; serialised by a lock), and restored afterwards.
    """
    import gseapy.msigdb as gseapy_msigdb

    if not hasattr(gseapy_msigdb, "requests"):
        raise RuntimeError("gseapy.msigdb no longer downloads through `requests`; update "
                           "target_rationale.fetch.fetch_msigdb for this gseapy version")

    class Shim:
        @staticmethod
        def get(url: str, *args, **kwargs) -> requests.Response:
            response = http_get(url, collection, timeout)
            seen.append(Download(url=url, content=response.content, final_url=response.url or url))
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


def fetch_msigdb(out_dir: str | Path, collection: str = "h.all", version: str = MSIGDB_DEFAULT_VERSION,
                 base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> Fetched:
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
    from gseapy import Msigdb

    for label, value in (("collection", collection), ("version", version)):
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
            raise ValueError(f"MSigDB {label} '{value}' is not a name like 'h.all' / '2024.1.Hs'")
    name = name or f"MSigDB {collection}"
    root = (base_url or Msigdb.url).rstrip("/")
    source_class = type("CachedMsigdb", (Msigdb,), {"url": root})
    fetched_at = _utc_now()
    seen: list[Download] = []
    with _gseapy_requests(name, timeout, seen):
        gene_sets = source_class.get_gmt(category=collection, dbver=version)
    if not seen:
        raise RuntimeError("gseapy's Msigdb.get_gmt did not download through requests.get; update "
                           "target_rationale.fetch.fetch_msigdb for this gseapy version")
    raw = seen[-1]
    try:
        _check_msigdb_gmt(_decode(raw, name))
    except ValueError as err:
        raise _malformed(name, raw.url, str(err)) from err
    if not gene_sets:
        raise _malformed(name, raw.url, "gseapy found no gene sets")
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
        "licence": MSIGDB_TERMS,
        "redistributable": "kegg" not in collection.lower(),  # CC BY 4.0 with attribution; KEGG-derived: no
    }
    if collection.startswith("h."):
        manifest["citation"] = HALLMARK_CITATION
    return _write_outputs(out_dir, gmt_text, manifest)


def cache_key(spec: Mapping[str, str]) -> str:
    """Folder name, under the gene-set cache, of an online collection: its source and what selects its content.

    >>> cache_key({"source": "wikipathways", "organism": "Homo sapiens"})
    'wikipathways-Homo_sapiens'
    """
    source = spec["source"]
    if source == "msigdb":
        parts = [source, spec["collection"], spec.get("version", MSIGDB_DEFAULT_VERSION)]
    elif source == "kegg_rest":
        parts = [source, spec.get("organism", "hsa")]
    else:
        parts = [source, spec.get("organism", "Homo sapiens")]
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", part) for part in parts)


def fetch_collection(spec: Mapping[str, str], out_dir: str | Path,
                     id_map: str | Path | pd.DataFrame = DEFAULT_ID_MAP) -> Fetched:
    """Fetch the online collection a config entry describes (rule ``fetch_collection``).

    Parameters
    ----------
    spec : mapping
        The config entry plus its ``name``: ``{name, source: kegg_rest | wikipathways | msigdb, organism,
        collection, version, base_url}`` (absent keys take the fetchers' defaults).
    out_dir : str or Path
        Cache folder of this collection.
    id_map : str, Path or pandas.DataFrame
        Entrez -> symbol map for KEGG and WikiPathways.
    """

    source, name = spec["source"], spec["name"]
    options = {k: spec[k] for k in ("organism", "base_url") if k in spec}
    if source == "kegg_rest":
        fetched = fetch_kegg(out_dir, id_map=id_map, name=name, **options)
        organism = spec.get("organism", "hsa")
        if organism == "hsa":
            present = set(read_gmt(fetched.gmt))
            missing = [p for p in ("hsa05200", "hsa01521", "hsa05202") if p not in present]
            if missing:
                LOG.warning("KEGG download lacks %s, which the pNEN rationale names", ", ".join(missing))
    elif source == "wikipathways":
        fetched = fetch_wikipathways(out_dir, id_map=id_map, name=name, **options)
    elif source == "msigdb":
        fetched = fetch_msigdb(out_dir, collection=spec["collection"], name=name,
                               **{k: spec[k] for k in ("version", "base_url") if k in spec})
    else:
        raise ValueError(f"unknown gene-set source '{source}'")
    LOG.info("collection %s fetched from %s into %s: %s sets, %s genes", name, source, out_dir,
             fetched.manifest.get("n_sets"), fetched.manifest.get("n_genes"))
    return fetched

