"""Ids are text: gene ids that pandas would read as missing values (NA, NaN, null, #N/A, ...) survive the whole
workflow, because every table the workflow writes is read back with NA parsing off (core.io.read_tsv)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_CONFIG, run_workflow

#: Symbols pandas' default NA parsing turns into NaN.
NA_LIKE = ["NA", "NaN", "null", "#N/A", "N/A", "nan"]


@pytest.mark.workflow
def test_na_like_gene_ids_survive_end_to_end(tmp_path: Path) -> None:
    counts = pd.read_csv(REPO / "tests" / "data" / "counts.tsv.gz", sep="\t", index_col="gene_id")
    symbols = [f"GENE{i}" for i in range(len(counts))]
    planted = {index: name for index, name in zip(range(0, 6 * 40, 40), NA_LIKE)}
    for index, name in planted.items():
        symbols[index] = name
    counts.index = pd.Index(symbols, name="gene_id")
    with gzip.open(tmp_path / "counts.tsv.gz", "wt") as handle:
        counts.to_csv(handle, sep="\t", lineterminator="\n")
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config.update(counts=str(tmp_path / "counts.tsv.gz"), gene_id_type="symbol")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # up to the rationale: every stage that reads a table with gene ids (DE, enrichment, comparison, axes,
    # rationale), without the figures and the report, which only draw what those tables hold
    result = run_workflow(tmp_path, tmp_path / "config.yaml", "--cores", "2", "results/targets/rationale.tsv")
    assert result.returncode == 0, result.stderr[-3000:]
    for contrast in ("primary_vs_normal", "liver_met_vs_normal", "liver_met_vs_primary"):
        text = (tmp_path / "results" / "diffexp" / f"{contrast}.tsv").read_text().splitlines()
        ids = {line.split("\t")[0] for line in text[1:]}
        assert set(NA_LIKE) <= ids, contrast
        table = pd.read_csv(tmp_path / "results" / "diffexp" / f"{contrast}.tsv", sep="\t",
                            keep_default_na=False, na_values=[""])
        assert set(NA_LIKE) <= set(table["symbol"])
        # each kept its own counts: the rows of the NA-like ids are genes with a mean, not empty rows
        assert table.set_index("symbol").loc[NA_LIKE, "baseMean"].gt(0).all(), contrast
    gene_ids = pd.read_csv(tmp_path / "results" / "cohort" / "gene_ids.tsv", sep="\t", dtype=str,
                           keep_default_na=False)
    assert set(NA_LIKE) <= set(gene_ids["gene_id"]) and not gene_ids["gene_id"].eq("").any()
