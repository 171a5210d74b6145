"""Gene signatures shipped with the workflow (``resources/signatures/``)."""

from __future__ import annotations

from target_rationale.core.io import read_tsv


def read_liver_signature(path) -> set[str]:
    """Symbols of the shipped hepatocyte signature (``resources/signatures/liver_hepatocyte.tsv``)."""
    return set(read_tsv(path)["symbol"].dropna())
