"""Gene-set collections: one loader for every collection (GMT files, plain or gzipped)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path


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
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


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
    ValueError
        If a line has fewer than two fields or a term id occurs twice.
    """
    path = Path(path)
    sets: dict[str, GeneSet] = {}
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 2:
                raise ValueError(f"{path}: line {line_no} has fewer than 2 tab-separated fields; a GMT line is "
                                 "'term_id<TAB>description<TAB>gene...'")
            term_id, description = fields[0].strip(), fields[1].strip()
            if term_id in sets:
                raise ValueError(f"{path}: line {line_no}: term '{term_id}' occurs twice; term ids must be unique")
            name = description if description and description != "NA" and "://" not in description else term_id
            genes = tuple(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
            sets[term_id] = GeneSet(term_id=term_id, term_name=name, genes=genes)
    return sets
