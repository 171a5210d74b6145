"""Checks on the shipped offline annotation resources (``resources/genesets``, ``resources/gene_ids``).

They are built by ``resources/build_orgdb_resources.py`` from Debian's ``r-bioc-org.hs.eg.db`` and
``r-bioc-go.db`` 3.16.0-1 (GO 2022-07-01, NCBI Gene 2022-Sep12). The reference numbers below are those of
that build; a rebuild from other package versions must update them deliberately.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from target_rationale.genesets.gmt import read_gmt

ROOT = Path(__file__).resolve().parents[2]
GENESETS = ROOT / "resources" / "genesets"
GENE_IDS = ROOT / "resources" / "gene_ids"

#: file -> (sets, distinct genes) for propagated GO, 10-500 genes per set.
REFERENCE_COUNTS = {
    "go_bp.gmt.gz": (6482, 16041),
    "go_mf.gmt.gz": (1246, 13876),
    "go_cc.gmt.gz": (794, 11507),
}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def genesets_manifest() -> dict:
    return yaml.safe_load((GENESETS / "MANIFEST.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gene_ids_manifest() -> dict:
    return yaml.safe_load((GENE_IDS / "MANIFEST.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gmts() -> dict:
    return {name: read_gmt(GENESETS / name) for name in REFERENCE_COUNTS}


@pytest.fixture(scope="module")
def gene_map() -> pd.DataFrame:
    return pd.read_csv(GENE_IDS / "hs_gene_id_map.tsv.gz", sep="\t", dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------------------------- gene sets
def test_manifest_lists_the_three_collections(genesets_manifest):
    assert [c["file"] for c in genesets_manifest["collections"]] == list(REFERENCE_COUNTS)


@pytest.mark.parametrize("name", list(REFERENCE_COUNTS))
def test_gmt_counts_match_manifest_and_reference(name, gmts, genesets_manifest):
    sets = gmts[name]
    entry = next(c for c in genesets_manifest["collections"] if c["file"] == name)
    n_sets = len(sets)
    n_genes = len({g for s in sets.values() for g in s.genes})
    assert (n_sets, n_genes) == (entry["n_sets"], entry["n_genes"])
    assert (n_sets, n_genes) == REFERENCE_COUNTS[name]


@pytest.mark.parametrize("name", list(REFERENCE_COUNTS))
def test_gmt_md5_matches_manifest(name, genesets_manifest):
    entry = next(c for c in genesets_manifest["collections"] if c["file"] == name)
    assert _md5(GENESETS / name) == entry["md5"]


@pytest.mark.parametrize("name", list(REFERENCE_COUNTS))
def test_gmt_format_sizes_and_order(name, gmts, genesets_manifest):
    size = genesets_manifest["method"]["size_filter"]
    assert (size["min_genes"], size["max_genes"]) == (10, 500)
    sets = gmts[name]
    assert list(sets) == sorted(sets), "terms must be sorted by GO id"
    for term_id, gs in sets.items():
        assert term_id.startswith("GO:") and len(term_id) == 10
        assert gs.term_name and gs.term_name != term_id
        assert size["min_genes"] <= len(gs.genes) <= size["max_genes"]
    # genes sorted and unique within each line (read_gmt de-duplicates, so check the raw file too)
    with gzip.open(GENESETS / name, "rt", encoding="utf-8") as handle:
        for line in handle:
            genes = line.rstrip("\n").split("\t")[2:]
            assert genes == sorted(set(genes))


def test_gmt_gzip_header_is_deterministic():
    for name in REFERENCE_COUNTS:
        header = (GENESETS / name).read_bytes()[:10]
        assert header[:2] == b"\x1f\x8b"
        assert header[4:8] == b"\x00\x00\x00\x00", "gzip mtime must be 0"
        assert header[3] & 0x08 == 0, "no file name in the gzip header"


@pytest.mark.parametrize("name, term, gene", [
    ("go_bp.gmt.gz", "GO:0007173", "EGFR"),
    ("go_bp.gmt.gz", "GO:0048010", "KDR"),
    ("go_bp.gmt.gz", "GO:0036006", "CSF1R"),
    ("go_bp.gmt.gz", "GO:0008543", "FGFR1"),
])
def test_known_memberships(name, term, gene, gmts):
    assert gene in gmts[name][term].genes


def test_known_term_name(gmts):
    assert gmts["go_bp.gmt.gz"]["GO:0007173"].term_name == "epidermal growth factor receptor signaling pathway"


def test_genesets_manifest_provenance(genesets_manifest):
    packages = {p["debian_package"]: p for p in genesets_manifest["source_packages"]}
    assert set(packages) == {"r-bioc-org.hs.eg.db", "r-bioc-go.db"}
    for p in packages.values():
        assert p["debian_version"] == "3.16.0-1"
        assert p["bioconductor_version"] == "3.16.0"
        assert p["licence"] == "Artistic-2.0"
    go = genesets_manifest["data_sources"]["gene_ontology"]
    assert str(go["release_date"]) == "2022-07-01"
    assert go["licence"] == "CC BY 4.0" and "Gene Ontology Consortium" in go["credit"]
    ncbi = genesets_manifest["data_sources"]["ncbi_gene"]
    assert ncbi["gene2go_date"] == "2022-Sep12"
    assert "public domain" in ncbi["licence"]
    assert "build_date" not in str(genesets_manifest).lower()


# ------------------------------------------------------------------------------------------------ id map
def test_gene_map_columns(gene_map):
    assert list(gene_map.columns) == ["ensembl_gene_id", "entrez_id", "symbol", "gene_type"]
    assert (gene_map["entrez_id"].str.fullmatch(r"\d+")).all()
    assert (gene_map["symbol"] != "").all()


def test_gene_map_md5_and_counts_match_manifest(gene_map, gene_ids_manifest):
    f = gene_ids_manifest["file"]
    assert _md5(GENE_IDS / f["name"]) == f["md5"]
    with_ens = gene_map[gene_map["ensembl_gene_id"] != ""]
    assert len(gene_map) == f["rows"]
    assert len(with_ens) == f["rows_with_ensembl"] == 40102
    assert len(gene_map) - len(with_ens) == f["rows_without_ensembl"]
    assert with_ens["ensembl_gene_id"].nunique() == f["distinct_ensembl_gene_id"] == 39708
    assert with_ens["entrez_id"].nunique() == f["distinct_entrez_id_with_ensembl"] == 36596
    assert gene_map["entrez_id"].nunique() == f["distinct_entrez_id"]
    assert gene_map["symbol"].nunique() == f["distinct_symbol"]


def test_gene_map_rows_are_unique_and_every_entrez_is_present(gene_map):
    assert not gene_map.duplicated(["ensembl_gene_id", "entrez_id"]).any()
    no_ens = gene_map[gene_map["ensembl_gene_id"] == ""]
    assert not no_ens["entrez_id"].isin(gene_map.loc[gene_map["ensembl_gene_id"] != "", "entrez_id"]).any()
    # each Entrez id has one symbol and one gene type
    assert (gene_map.groupby("entrez_id")[["symbol", "gene_type"]].nunique() == 1).all().all()


def test_gene_map_known_ids(gene_map):
    egfr = gene_map[gene_map["ensembl_gene_id"] == "ENSG00000146648"]
    assert egfr[["entrez_id", "symbol"]].values.tolist() == [["1956", "EGFR"]]
    kdr = gene_map[gene_map["entrez_id"] == "3791"]
    assert set(kdr["symbol"]) == {"KDR"}


def test_gene_ids_manifest_provenance(gene_ids_manifest):
    (pkg,) = gene_ids_manifest["source_packages"]
    assert (pkg["debian_package"], pkg["debian_version"]) == ("r-bioc-org.hs.eg.db", "3.16.0-1")
    ncbi = gene_ids_manifest["data_sources"]["ncbi_gene"]
    assert ncbi["gene_info_date"] == ncbi["gene2ensembl_date"] == "2022-Sep12"
    assert "public domain" in ncbi["licence"]
