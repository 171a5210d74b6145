"""The shipped WikiPathways and MSigDB Hallmark collections (``resources/genesets/{wikipathways,hallmark}``): a
rebuild from the release files in the repository is byte-identical, the seed's pathways are in them with their
genes, and their manifests carry what the report cites (licence, credit, release date)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from conftest import REPO, load_script
from target_rationale.genesets.gmt import read_gmt, source_provenance

GENESETS = REPO / "resources" / "genesets"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    """``resources/build_offline_collections.py`` as a module (it is a script, not a package)."""
    return load_script(REPO / "resources" / "build_offline_collections.py")


def test_rebuild_is_byte_identical(build: ModuleType, tmp_path: Path) -> None:
    for name, source, run in (("wikipathways", build.WIKIPATHWAYS_SOURCE, build.build_wikipathways),
                              ("hallmark", build.HALLMARK_SOURCE, build.build_hallmark)):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(GENESETS / name / source, folder / source)
        entry = run(folder)
        assert (folder / entry["file"]).read_bytes() == (GENESETS / name / entry["file"]).read_bytes()
        assert (folder / "MANIFEST.yaml").read_text() == (GENESETS / name / "MANIFEST.yaml").read_text()


def test_a_changed_release_file_is_refused(build: ModuleType, tmp_path: Path) -> None:
    folder = tmp_path / "hallmark"
    folder.mkdir()
    (folder / build.HALLMARK_SOURCE).write_bytes(build.gzip_bytes(b"HALLMARK_X\tNA\tEGFR\n"))
    with pytest.raises(SystemExit, match="is not the release's"):
        build.build_hallmark(folder)


def test_the_seed_pathways_are_offline_with_their_genes() -> None:
    """WP4806 (EGFR tyrosine kinase inhibitor resistance: WikiPathways' port of KEGG hsa01521) and the axes'
    other WikiPathways and Hallmark terms, with the genes the axes rest on."""
    wikipathways = read_gmt(GENESETS / "wikipathways" / "wikipathways_hs.gmt.gz")
    hallmark = read_gmt(GENESETS / "hallmark" / "hallmark_v7.0.gmt.gz")
    assert len(wikipathways) == 986 and len(hallmark) == 50
    assert wikipathways["WP4806"].term_name == "EGFR tyrosine kinase inhibitor resistance"
    assert {"EGFR", "ERBB2", "FGFR2", "KDR"} <= set(wikipathways["WP4806"].genes)
    assert {"EGFR", "ERBB2", "ERBB3", "ERBB4", "AREG", "EREG"} <= set(wikipathways["WP673"].genes)
    assert len(hallmark["HALLMARK_ANGIOGENESIS"].genes) == 36 and "VEGFA" in hallmark["HALLMARK_ANGIOGENESIS"].genes


@pytest.mark.parametrize("folder, gmt, licence", [("wikipathways", "wikipathways_hs.gmt.gz", "CC0 1.0"),
                                                  ("hallmark", "hallmark_v7.0.gmt.gz", "CC BY 4.0")])
def test_provenance_reads_licence_credit_and_date(folder: str, gmt: str, licence: str) -> None:
    provenance = source_provenance(GENESETS / folder / gmt)
    shipped = provenance["manifest"]
    assert shipped["collection"]["file"] == gmt and shipped["collection"]["md5"] == provenance["md5"]
    sources = shipped["data_sources"].values()
    assert licence in {s["licence"] for s in sources}
    assert all(s.get("credit") and s.get("release_date") for s in sources)
    manifest = yaml.safe_load((GENESETS / folder / "MANIFEST.yaml").read_text())
    assert manifest["build_command"] == "python resources/build_offline_collections.py"
