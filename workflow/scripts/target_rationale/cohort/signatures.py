"""Gene signatures shipped with the workflow (``resources/signatures/``)."""

from __future__ import annotations

import pandas as pd


def read_liver_signature(path) -> set[str]:
    """Symbols of the shipped hepatocyte signature (``resources/signatures/liver_hepatocyte.tsv``)."""
    return set(pd.read_csv(path, sep="\t", dtype=str)["symbol"])
