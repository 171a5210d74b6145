"""The R limma reference shared by the engine tests (``tests/data/rotation/``, made by ``make_reference.R``):
expression, designs and gene sets, and the expected tables. Imported by the test modules beside it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data" / "rotation"


def load_reference(expected: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[int]], pd.DataFrame]:
    """``(y, designs, set row indices, the expected table <expected>.tsv)``; ``NA`` stays a set name, not a
    missing value, except in ``inter_gene_cor``."""
    y = pd.read_csv(DATA / "y.tsv", sep="\t", index_col=0)
    designs = pd.read_csv(DATA / "designs.tsv", sep="\t", index_col=0)
    sets = pd.read_csv(DATA / "sets.tsv", sep="\t", keep_default_na=False)
    index = {name: [y.index.get_loc(g) for g in group["gene"]] for name, group in sets.groupby("set", sort=False)}
    table = pd.read_csv(DATA / f"{expected}.tsv", sep="\t", keep_default_na=False,
                        na_values={"inter_gene_cor": "NA"})
    return y, designs, index, table
