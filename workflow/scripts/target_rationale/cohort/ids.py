"""Gene identifiers: detect their type and map Ensembl / Entrez ids to HGNC symbols offline.

The map is the one shipped in ``resources/gene_ids/`` (NCBI gene2ensembl and gene_info through Debian's
org.Hs.eg.db). Original ids are always kept; unmapped and many-to-one ids are reported, never dropped.
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from target_rationale.cohort.tables import gunzip_capped
from target_rationale.core.errors import InputError, listing

ID_TYPES = ("ensembl", "entrez", "symbol")
#: Id patterns, matched against whole ids (``fullmatch``: ``$`` would also match before a final newline).
ENSEMBL = re.compile(r"ENS[A-Z]*G\d{6,}(\.\d+)?(_PAR_Y)?")
ENTREZ = re.compile(r"\d+")
#: Share of ids that must look like a type for ``auto`` to choose it (spike-ins and odd rows are tolerated).
DETECT_SHARE = 0.9


def strip_version(gene_id: str) -> str:
    """``ENSG00000146648.15`` -> ``ENSG00000146648`` (other ids unchanged)."""
    return gene_id.split(".", 1)[0] if gene_id.startswith("ENS") else gene_id


def detect_id_type(gene_ids: pd.Index | list[str]) -> str:
    """Guess whether ids are Ensembl gene ids, Entrez ids or symbols.

    Returns ``ensembl`` or ``entrez`` when at least 90% of the ids match that pattern, else ``symbol``.
    """
    ids = pd.Series(list(gene_ids), dtype=str)
    if len(ids) == 0:
        return "symbol"
    if ids.str.fullmatch(ENSEMBL).mean() >= DETECT_SHARE:
        return "ensembl"
    if ids.str.fullmatch(ENTREZ).mean() >= DETECT_SHARE:
        return "entrez"
    return "symbol"


def resolve_id_type(declared: str, gene_ids: pd.Index, counts_path: str | Path) -> str:
    """The id type to use: ``declared`` unless ``auto``, checked against what the ids look like.

    Raises
    ------
    InputError
        If ``declared`` is unknown, or says ensembl/entrez while fewer than half of the ids look like that.
    """
    if declared == "auto":
        return detect_id_type(gene_ids)
    if declared not in ID_TYPES:
        raise InputError(f"config: gene_id_type '{declared}' is unknown; use one of auto, "
                         f"{', '.join(ID_TYPES)}")
    pattern = {"ensembl": ENSEMBL, "entrez": ENTREZ}.get(declared)
    if pattern is not None:
        ids = pd.Series(list(gene_ids), dtype=str)
        share = ids.str.fullmatch(pattern).mean()
        if share < 0.5:
            examples = list(ids[~ids.str.fullmatch(pattern)][:3])
            raise InputError(f"config: gene_id_type is '{declared}' but only {share:.0%} of the ids in counts "
                             f"file '{counts_path}' look like {declared} ids (e.g. {listing(examples)}); set "
                             "gene_id_type to auto or to the right type")
    return declared


#: The columns of a gene id map (:func:`read_gene_id_map`).
ID_MAP_COLUMNS = ("ensembl_gene_id", "entrez_id", "symbol", "gene_type")


#: The fix of every problem of the config's ``gene_id_map``.
ID_MAP_FIX = "give a tab-separated map with columns ensembl_gene_id, entrez_id, symbol, gene_type (the shipped " \
             "one: resources/gene_ids/hs_gene_id_map.tsv.gz)"


def gene_id_map_problems(path: str | Path) -> list[str]:
    """Problems of the config's ``gene_id_map`` that its header shows (checked when the workflow is planned,
    before any job): a missing file, or a header without the map's columns. One line each, with the fix."""
    path = Path(path)
    fix = ID_MAP_FIX
    if not path.is_file():
        return [f"config: gene_id_map: file '{path}' does not exist; {fix}"]
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            header = handle.readline(1 << 20).rstrip("\r\n").split("\t")
    except (OSError, UnicodeDecodeError, EOFError) as err:
        return [f"config: gene_id_map: file '{path}' cannot be read ({type(err).__name__}); {fix}"]
    missing = [c for c in ID_MAP_COLUMNS if c not in header]
    if missing:
        return [f"config: gene_id_map: file '{path}' lacks column(s) {listing(missing)} in its header; {fix}"]
    return []


def read_gene_id_map(path: str | Path) -> pd.DataFrame:
    """Read the shipped id map (``ensembl_gene_id, entrez_id, symbol, gene_type``) as strings.

    A ``.gz`` map is gunzipped with the workflow's cap on the expanded size
    (:data:`target_rationale.cohort.tables.MAX_UNCOMPRESSED_BYTES`; an :class:`InputError` past it).
    """
    source = path
    if str(path).lower().endswith(".gz"):  # as pandas infers the compression
        source = io.BytesIO(gunzip_capped(Path(path).read_bytes(), f"gene id map '{path}'"))
    with warnings.catch_warnings():
        # a first row longer than the header: pandas would take its extra fields as the index, shifting every column
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            table = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False, index_col=False)
        except pd.errors.ParserWarning as err:
            raise InputError(f"gene id map '{path}': line 2 has more fields than the header") from err
    expected = set(ID_MAP_COLUMNS)
    if not expected <= set(table.columns):
        raise InputError(f"gene id map '{path}' lacks column(s) {listing(sorted(expected - set(table.columns)))}")
    return table


def cohort_symbols(count_ids: Iterable[str], id_type: str, id_map: pd.DataFrame) -> frozenset[str]:
    """Every symbol a gene can carry in this cohort's tables: the map's symbols, and what :func:`map_to_symbols`
    gives the counts' ids (a symbol, or the id itself where the map has none).

    Parameters
    ----------
    count_ids : iterable of str
        The count matrix's gene ids.
    id_type : {'ensembl', 'entrez', 'symbol'}
        Their (resolved) type.
    id_map : pandas.DataFrame
        From :func:`read_gene_id_map`.
    """
    symbols = id_map["symbol"]
    ids = [str(i) for i in count_ids]
    if id_type == "symbol":
        carried = set(ids)
    else:  # a mapped id carries a symbol of the map; an unmapped one its own id (as map_to_symbols does)
        column = "ensembl_gene_id" if id_type == "ensembl" else "entrez_id"
        mapped = set(id_map.loc[(id_map[column] != "") & (symbols != ""), column])
        keys = map(strip_version, ids) if id_type == "ensembl" else ids
        carried = {i for i, key in zip(ids, keys) if key not in mapped}
    return frozenset(symbols[symbols != ""]) | carried


def map_to_symbols(gene_ids: pd.Index, id_type: str, id_map: pd.DataFrame) -> pd.DataFrame:
    """Map gene ids to symbols.

    Parameters
    ----------
    gene_ids : pandas.Index
        Ids as in the counts file (Ensembl version suffixes allowed).
    id_type : {'ensembl', 'entrez', 'symbol'}
        Their type.
    id_map : pandas.DataFrame
        From :func:`read_gene_id_map`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``gene_id`` (input order), columns ``symbol`` (the id itself where unmapped),
        ``mapping`` (``mapped``, ``unmapped``, or for symbols ``known``/``unknown``), ``n_symbols`` (how many
        symbols the id maps to; a protein-coding symbol with the fewest ids is preferred, then alphabetical)
        and ``shared_symbol`` (how many ids of this matrix map to the same symbol).
    """
    ids = pd.Series(list(gene_ids), index=pd.Index(gene_ids, name="gene_id"), dtype=str)
    if id_type == "symbol":
        known = set(id_map["symbol"])
        table = pd.DataFrame({"symbol": ids, "mapping": ids.isin(known).map({True: "known", False: "unknown"}),
                              "n_symbols": 1})
    else:
        column = "ensembl_gene_id" if id_type == "ensembl" else "entrez_id"
        pairs = id_map.loc[(id_map[column] != "") & (id_map["symbol"] != ""),
                           [column, "symbol", "gene_type"]].drop_duplicates([column, "symbol"])
        # An id with several symbols (read-through loci, merged records) gets its most specific one:
        # protein-coding first, then the symbol with the fewest ids of this type, then alphabetical.
        pairs = pairs.assign(
            not_coding=pairs["gene_type"] != "protein-coding",
            ids_of_symbol=pairs.groupby("symbol")[column].transform("size"),
        ).sort_values([column, "not_coding", "ids_of_symbol", "symbol"])
        first = pairs.groupby(column, sort=False)["symbol"].first()
        n_symbols = pairs.groupby(column, sort=False)["symbol"].size()
        keys = ids.map(strip_version) if id_type == "ensembl" else ids
        symbol = keys.map(first)
        table = pd.DataFrame({"symbol": symbol.fillna(ids),
                              "mapping": symbol.notna().map({True: "mapped", False: "unmapped"}),
                              "n_symbols": keys.map(n_symbols).fillna(0).astype(int)})
    table["shared_symbol"] = table.groupby("symbol")["symbol"].transform("size").astype(int)
    return table


def mapping_summary(table: pd.DataFrame, id_type: str) -> list[str]:
    """Human-readable log lines about a :func:`map_to_symbols` result (counts and examples)."""
    lines = [f"gene id type: {id_type}; {len(table)} genes"]
    counts = table["mapping"].value_counts()
    for status, n in counts.items():
        lines.append(f"  {status}: {n}")
    unmapped = table.index[table["mapping"].isin(["unmapped", "unknown"])]
    if len(unmapped):
        lines.append(f"  ids kept with their own id as symbol (no symbol found): {listing(list(unmapped), 20)}")
    multi = table.index[table["n_symbols"] > 1]
    if len(multi):
        lines.append(f"  ids with several symbols (protein-coding, most specific symbol used): {len(multi)}, e.g. "
                     f"{listing(list(multi), 10)}")
    shared = table[table["shared_symbol"] > 1]
    if len(shared):
        lines.append(f"  many-to-one: {len(shared)} ids share {shared['symbol'].nunique()} symbols (all kept), "
                     f"e.g. {listing(sorted(shared['symbol'].unique()), 10)}")
    return lines
