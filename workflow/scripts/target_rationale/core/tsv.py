"""The one reader of the workflow's own tables: names stay text, only empty cells are missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Columns of the workflow's own tables that hold names (ids, symbols, samples, terms, levels): always text.
TEXT_COLUMNS = ("gene_id", "symbol", "sample", "patient", "term_id", "term_name", "contrast", "axis", "therapy",
                "drugs", "covers", "uncovered", "leading_edge", "genes", "best_term", "best_term_name", "role")


def read_tsv(path: str | Path, text: tuple[str, ...] = TEXT_COLUMNS, na_values: list[str] | None = None,
             **kwargs) -> pd.DataFrame:
    """Read a table the workflow wrote, with NA parsing off.

    Only empty cells are missing values: a gene called ``NA``, ``NaN``, ``null`` or ``#N/A`` stays that text
    (pandas' default NA parsing would turn it into a missing value and break every later step). Columns named in
    ``text`` are read as strings; other columns get pandas' type inference. ``na_values=[]`` keeps empty cells as
    empty strings too.
    """
    dtype = {column: str for column in text} | kwargs.pop("dtype", {})
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""] if na_values is None else na_values,
                       dtype=dtype, **kwargs)
