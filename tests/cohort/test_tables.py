"""The counts / sample-sheet loader, gene-id mapping and design checks, called directly on hand-made inputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from target_rationale.cohort.design import Contrast, check_contrasts, dependent_columns, design_matrix
from target_rationale.cohort.ids import (
    detect_id_type,
    gene_id_map_problems,
    map_to_symbols,
    read_gene_id_map,
    resolve_id_type,
)
from target_rationale.cohort.tables import read_counts, read_sample_sheet
from target_rationale.core.errors import InputError

GENE_ID_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"


@pytest.fixture(scope="module")
def id_map() -> pd.DataFrame:
    return read_gene_id_map(GENE_ID_MAP)


def test_tsv_csv_and_gzip_give_the_same_matrix(tmp_path: Path) -> None:
    text = "gene_id\tS1\tS2\nENSG00000146648.15\t10\t0\nENSG00000128052\t3\t7\n"
    (tmp_path / "a.tsv").write_text(text)
    (tmp_path / "b.csv").write_text(text.replace("\t", ","))
    (tmp_path / "c.tsv.gz").write_bytes(gzip.compress(text.encode()))
    matrices = [read_counts(tmp_path / name).counts for name in ("a.tsv", "b.csv", "c.tsv.gz")]
    for matrix in matrices:
        pd.testing.assert_frame_equal(matrix, matrices[0])
    assert matrices[0].index.tolist() == ["ENSG00000146648.15", "ENSG00000128052"]  # ids kept as given
    assert matrices[0].to_numpy().tolist() == [[10, 0], [3, 7]]
    assert matrices[0].dtypes.unique().tolist() == [np.dtype("int64")]


def test_featurecounts_output_is_read_and_bam_paths_become_sample_names(tmp_path: Path) -> None:
    path = tmp_path / "fc.txt"
    path.write_text("# Program:featureCounts v2.0.3; Command:...\n"
                    "Geneid\tChr\tStart\tEnd\tStrand\tLength\tbam/S1.bam\t/x/S2.Aligned.sortedByCoord.out.bam\n"
                    "ENSG00000146648\tchr7\t1\t9\t+\t9000\t5\t6\n"
                    "ENSG00000128052\tchr4\t1\t9\t-\t4000\t0\t2\n")
    matrix = read_counts(path)
    assert matrix.source_format == "featureCounts"
    assert list(matrix.counts.columns) == ["S1", "S2"]
    assert matrix.renamed == {"bam/S1.bam": "S1", "/x/S2.Aligned.sortedByCoord.out.bam": "S2"}
    assert matrix.counts.loc["ENSG00000128052"].tolist() == [0, 2]


def test_integer_valued_floats_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "c.tsv").write_text("gene\tA\tB\nX\t1.0\t2\nY\t0\t4.00\n")
    assert read_counts(tmp_path / "c.tsv").counts.to_numpy().tolist() == [[1, 2], [0, 4]]


def test_featurecounts_errors_name_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "fc.txt"
    path.write_text("# comment\nGeneid\tChr\tStart\tEnd\tStrand\tLength\tS1\tS2\nG1\tc\t1\t2\t+\t2\t5\t-1\n")
    with pytest.raises(InputError, match=r"line 3 \(gene 'G1'\), column 'S2': value -1 is negative"):
        read_counts(path)


def test_sample_sheet_keeps_text_values_and_reports_every_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "s.tsv"
    path.write_text("sample\tpatient\nA\t01\nB\t02\nC d\t03\n\t04\n")
    with pytest.raises(InputError) as caught:
        read_sample_sheet(path)
    problems = caught.value.problems
    assert len(problems) == 2
    assert "line 5: the 'sample' cell is empty" in problems[0]
    assert "line 4: sample name 'C d' is not a safe identifier" in problems[1]
    path.write_text("sample\tpatient\nA\t01\nB\t02\n")
    sheet = read_sample_sheet(path)
    assert sheet["patient"].tolist() == ["01", "02"]  # not turned into numbers


def test_trailing_separators_are_dropped_and_an_unnamed_first_column_is_one_line(tmp_path: Path) -> None:
    trailing = tmp_path / "trailing.tsv"  # a spreadsheet export: a tab at the end of every line
    trailing.write_text("gene_id\tS1\tS2\nG1\t1\t2\t\nG2\t3\t4\t\n")
    assert read_counts(trailing).counts.to_numpy().tolist() == [[1, 2], [3, 4]]
    unnamed = tmp_path / "r.tsv"  # R's write.table: no name for the row names' column
    unnamed.write_text("S1\tS2\nG1\t1\t2\nG2\t3\t4\n")
    with pytest.raises(InputError, match=r"r.tsv', line 2: 3 fields, the header has 2; .*needs one: e.g. 'gene_id'"):
        read_counts(unnamed)
    blank_id = tmp_path / "blank.tsv"
    blank_id.write_text("gene_id\tS1\nG1\t1\n   \t3\n")
    with pytest.raises(InputError, match=r"blank.tsv', line 3: the gene id \(first column\) is only spaces"):
        read_counts(blank_id)


def test_a_stray_quote_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "quote.tsv"
    path.write_text('# comment\ngene_id\tS1\nG1\t1\nG2\t"2\nG3\t3\n')
    with pytest.raises(InputError, match=r"quote.tsv', line 4: a quote \(\"\) opens a field that no quote closes"):
        read_counts(path)


def test_sample_sheet_header_spaces_and_cells_of_spaces(tmp_path: Path) -> None:
    path = tmp_path / "samples.tsv"
    path.write_text(" sample \tsite \tpatient\nA\tprimary\t   \nB\t  \tP2\n")
    sheet = read_sample_sheet(path)
    assert sheet.columns.tolist() == ["site", "patient"] and sheet.index.tolist() == ["A", "B"]
    assert sheet.isna().to_numpy().tolist() == [[False, True], [True, False]]  # spaces alone: missing


def test_gene_id_map_problems_are_found_from_its_header(tmp_path: Path) -> None:
    assert gene_id_map_problems(GENE_ID_MAP) == []
    wrong = tmp_path / "map.tsv"
    wrong.write_text("id\tsymbol\nX\tY\n")
    (problem,) = gene_id_map_problems(wrong)
    assert "lacks column(s) 'ensembl_gene_id', 'entrez_id', 'gene_type'" in problem and "\n" not in problem
    assert "does not exist" in gene_id_map_problems(tmp_path / "none.tsv.gz")[0]


@pytest.mark.parametrize("ids, expected", [
    (["ENSG00000146648.15", "ENSG00000128052", "ERCC-00002"] + [f"ENSG{i:011d}" for i in range(30)], "ensembl"),
    (["1956", "3791", "2321"], "entrez"),
    (["EGFR", "KDR", "1956"], "symbol"),
])
def test_detect_id_type(ids: list[str], expected: str) -> None:
    assert detect_id_type(ids) == expected


def test_declared_id_type_must_fit_the_ids() -> None:
    with pytest.raises(InputError, match=r"gene_id_type is 'ensembl' but only 0% .* \(e.g. 'EGFR', 'KDR'\)"):
        resolve_id_type("ensembl", pd.Index(["EGFR", "KDR"]), "c.tsv")
    assert resolve_id_type("auto", pd.Index(["1956", "3791"]), "c.tsv") == "entrez"


def test_ensembl_entrez_and_symbol_mapping(id_map: pd.DataFrame) -> None:
    ensembl = map_to_symbols(pd.Index(["ENSG00000146648.15", "ENSG00000128052", "ENSG99999999999"]),
                             "ensembl", id_map)
    assert ensembl["symbol"].tolist() == ["EGFR", "KDR", "ENSG99999999999"]
    assert ensembl["mapping"].tolist() == ["mapped", "mapped", "unmapped"]
    assert ensembl.index.tolist() == ["ENSG00000146648.15", "ENSG00000128052", "ENSG99999999999"]
    entrez = map_to_symbols(pd.Index(["1956", "3791", "2321", "0"]), "entrez", id_map)
    assert entrez["symbol"].tolist() == ["EGFR", "KDR", "FLT1", "0"]
    symbols = map_to_symbols(pd.Index(["EGFR", "NOT_A_GENE"]), "symbol", id_map)
    assert symbols["mapping"].tolist() == ["known", "unknown"]


def test_many_to_one_ids_are_kept_and_counted(id_map: pd.DataFrame) -> None:
    table = map_to_symbols(pd.Index(["ENSG00000146648", "ENSG00000146648.3", "1956x"]), "ensembl", id_map)
    assert table["shared_symbol"].tolist() == [2, 2, 1]
    assert len(table) == 3


def test_dependent_columns_names_the_confounded_columns() -> None:
    sheet = pd.DataFrame({"site": ["a", "a", "b", "b", "c", "c"], "batch": ["x", "x", "y", "y", "x", "x"]})
    found = dependent_columns(design_matrix(sheet, "~ batch + site"))
    assert found == [("site[T.b]", ["batch[T.y]"])]  # site b is exactly batch y
    sheet["batch"] = ["x", "y", "x", "y", "x", "y"]
    assert dependent_columns(design_matrix(sheet, "~ batch + site")) == []


def test_contrast_checks_on_a_subset() -> None:
    sheet = pd.DataFrame({"site": ["n", "n", "p", "p", "m", "m"], "patient": ["1", "2", "1", "2", "1", "2"]},
                         index=[f"s{i}" for i in range(6)])
    ok = Contrast("m_vs_p", "site", "m", "p", "~ patient + site", {"site": ["m", "p"]})
    assert check_contrasts([ok], sheet, "s.tsv") == []
    wrong_subset = Contrast("m_vs_n", "site", "m", "n", "~ patient + site", {"site": ["m", "p"]})
    problems = check_contrasts([wrong_subset], sheet, "s.tsv")
    assert len(problems) == 1 and "reference level 'n' does not occur" in problems[0]
    assert "within the contrast's `samples:` subset" in problems[0]
    no_df = Contrast("m_vs_p", "site", "m", "p", "~ patient * site", {"site": ["m", "p"]})
    assert "no residual degrees of freedom" in check_contrasts([no_df], sheet, "s.tsv")[0]
