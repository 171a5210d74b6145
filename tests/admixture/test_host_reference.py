"""The shipped host reference (``resources/host_reference/``), its loader and anchors, and the build script.

The reference is built by ``resources/build_host_reference.py`` from the HPA v23 tables in the PyPI wheel
``pirlygenes==4.50.15``. The spot values below are HPA's (nTPM as shipped); a rebuild from another source must
update them deliberately. The build script is tested offline, on a small wheel made here.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO, load_script
from target_rationale.admixture.reference import (
    HOST_MARKERS,
    REBUILD,
    HostReference,
    check_markers,
    load_host_reference,
    tissue_specific_genes,
)
from target_rationale.core.errors import InputError

FOLDER = REPO / "resources" / "host_reference"
FILE = FOLDER / "hpa_v23_host_ntpm.tsv.gz"
MANIFEST = FOLDER / "MANIFEST.yaml"
TUMOUR_SIDE = ["pancreas", "pancreatic_endocrine_cells"]

#: symbol -> {profile: nTPM} as HPA v23 gives them.
SPOT_VALUES = {
    "ALB": {"liver": 205952.1, "pancreas": 1518.9, "hepatocytes": 59612.0},
    "EGFR": {"liver": 33.4, "pancreas": 15.0, "hepatocytes": 70.7, "fibroblasts": 110.9,
             "pancreatic_endocrine_cells": 0.0},
    "CSF1R": {"liver": 26.7, "pancreas": 9.6, "kupffer_cells": 256.3, "macrophages": 218.3},
    "KDR": {"liver": 8.9, "pancreas": 6.1, "endothelial_cells": 159.5, "hepatocytes": 5.4},
    "INS": {"liver": 1.3, "pancreas": 12517.5, "pancreatic_endocrine_cells": 46354.5},
    "GCG": {"liver": 0.0, "pancreas": 1880.7},
    "PRSS1": {"liver": 28.7, "pancreas": 328383.5},
}


def load_build_script():
    """``resources/build_host_reference.py`` as a module (it is a script, not a package)."""
    return load_script(REPO / "resources" / "build_host_reference.py")


@pytest.fixture(scope="module")
def reference() -> HostReference:
    return load_host_reference(FILE, MANIFEST)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def symbols(reference: HostReference, ids: list[str]) -> set[str]:
    return set(reference.table.loc[ids, "symbol"])


# ----------------------------------------------------------------------------------------------------------
# The shipped file
# ----------------------------------------------------------------------------------------------------------
def test_spot_values(reference: HostReference) -> None:
    rows = reference.rows_for(SPOT_VALUES).set_index("symbol")
    for symbol, values in SPOT_VALUES.items():
        for profile, value in values.items():
            assert rows.at[symbol, profile] == value, (symbol, profile)


def test_manifest_describes_the_file(reference: HostReference, manifest: dict) -> None:
    data = FILE.read_bytes()
    entry = manifest["file"]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["bytes"] == len(data) < 2_000_000
    assert entry["rows"] == len(reference.table) == 19761
    assert data[4:8] == b"\0\0\0\0" and not data[3] & 0x08  # gzip mtime 0, no file name
    assert manifest["source"]["wheel_sha256"] == "9cc2d60e8af536da5351136461a6beca1d1bd8abf0427acbba6872529cc2c01b"
    assert {m["name"]: m["md5"] for m in manifest["source"]["members"]} == {
        "pirlygenes/data/pan-cancer-expression.csv": "ba97ec51758790aecdfb81340185cfed",
        "pirlygenes/data/hpa-cell-type-expression.csv": "56b54c673ca577bf30403ed721ae5942"}
    assert manifest["source"]["hpa_release"] == reference.release == "v23"
    assert "CC BY-SA 4.0" in manifest["licence"]["data"]
    assert manifest["build_command"] == REBUILD
    assert reference.hpa_names["kupffer_cells"] == "Kupffer cells"
    assert reference.hpa_names["exocrine_glandular_cells"] == "Exocrine glandular cells"


def test_profiles(reference: HostReference) -> None:
    assert reference.list_profiles("tissue") == ["liver", "pancreas"]
    assert reference.list_profiles("cell_type") == [
        "hepatocytes", "kupffer_cells", "cholangiocytes", "endothelial_cells", "fibroblasts", "smooth_muscle_cells",
        "macrophages", "t_cells", "b_cells", "plasma_cells", "exocrine_glandular_cells", "ductal_cells",
        "pancreatic_endocrine_cells"]
    assert reference.list_profiles() == reference.profiles
    assert reference.table.index.name == "ensembl_gene_id" and reference.table.index.is_unique
    assert (reference.table[reference.profiles] >= 0).all().all()
    # HPA's columns are not on a per-million scale
    assert reference.table["liver"].sum() == pytest.approx(2.658e6, rel=1e-3)


def test_profiles_renormalised_sum_to_one(reference: HostReference) -> None:
    for name in reference.profiles:
        assert reference.profile(name).sum() == pytest.approx(1.0, abs=1e-12)
    universe = [*reference.genes[::7], "ENSG_NOT_A_GENE"]
    liver = reference.profile("liver", universe)
    assert liver.sum() == pytest.approx(1.0, abs=1e-12)
    assert list(liver.index) == list(reference.genes[::7])
    full = reference.profile("liver")
    assert liver.iloc[0] / liver.iloc[1] == pytest.approx(full[liver.index[0]] / full[liver.index[1]])
    with pytest.raises(KeyError, match="unknown host profile"):
        reference.profile("stellate_cells")
    with pytest.raises(ValueError, match="no gene of the universe"):
        reference.profile("liver", ["ENSG_NOT_A_GENE"])


def test_a_corrupted_copy_is_refused(tmp_path: Path) -> None:
    data = bytearray(FILE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy = tmp_path / FILE.name
    copy.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        load_host_reference(copy, MANIFEST)
    assert len(caught.value.problems) == 1 and "\n" not in str(caught.value)
    assert str(copy) in str(caught.value) and "python resources/build_host_reference.py" in str(caught.value)
    with pytest.raises(InputError, match="not found"):
        load_host_reference(tmp_path / "missing.tsv.gz", MANIFEST)
    with pytest.raises(InputError, match="manifest not found"):
        load_host_reference(FILE, tmp_path / "MANIFEST.yaml")


def test_liver_specific_genes(reference: HostReference) -> None:
    versus_pancreas = symbols(reference, tissue_specific_genes(reference, "liver", ["pancreas"]))
    assert {"ALB", "APOA1", "FGB"} <= versus_pancreas
    assert not {"INS", "GCG", "EGFR", "CSF1R", "KDR"} & versus_pancreas
    ids = tissue_specific_genes(reference, "liver", TUMOUR_SIDE)
    assert {"ALB", "APOA1", "FGB", "HP"} <= symbols(reference, ids) <= versus_pancreas
    assert reference.table.at[ids[0], "symbol"] == "ALB"  # highest liver level first
    # TTR is an islet-cell gene (as in pNENs): liver-specific against pancreas tissue, not against islet cells
    assert "TTR" in versus_pancreas and "TTR" not in symbols(reference, ids)
    # a universe (e.g. the cohort's genes) restricts the genes considered and the renormalisation
    universe = reference.genes.drop(reference.rows_for(["ALB"]).index)
    within = symbols(reference, tissue_specific_genes(reference, "liver", TUMOUR_SIDE, universe=universe))
    assert "ALB" not in within and {"APOA1", "FGB", "HP"} <= within
    with pytest.raises(ValueError, match="other than the host"):
        tissue_specific_genes(reference, "liver", ["liver"])


def test_exocrine_specific_genes(reference: HostReference) -> None:
    acinar = symbols(reference, tissue_specific_genes(reference, "pancreas", ["liver", "pancreatic_endocrine_cells"]))
    assert {"PRSS1", "CPA1", "CELA3A", "PNLIP"} <= acinar
    assert not {"INS", "GCG", "ALB"} & acinar


def test_targets_are_not_tissue_specific(reference: HostReference) -> None:
    """EGFR, CSF1R and KDR are only 1.5-3 fold higher in liver than pancreas: host admixture shifts them, it does
    not explain them."""
    rows = reference.rows_for(["EGFR", "CSF1R", "KDR"]).set_index("symbol")
    ratio = rows["liver"] / rows["pancreas"]
    assert ((ratio > 1.4) & (ratio < 3)).all()


def test_anchors_hold_to_their_notes(reference: HostReference) -> None:
    table = check_markers(reference)
    assert set(table["cell_type"]) == set(HOST_MARKERS)
    assert sorted(table["symbol"]) == sorted(g for m in HOST_MARKERS.values() for g in m.genes)
    liver = table[table["tissue"] == "liver"]
    assert (liver["specificity"] > 5).all(), liver.loc[liver["specificity"] <= 5, "symbol"].tolist()
    assert (table.loc[table["tissue"] == "pancreas", "specificity"] > 50).all()
    strong = liver[liver["symbol"] != "VSIG4"]
    assert (strong["specificity"] > 15).all(), strong.loc[strong["specificity"] <= 15, "symbol"].tolist()
    # where HPA has the cell type, the anchors are highest in it
    with_profile = table[table["profile"].notna()]
    assert (with_profile["top_cell_type"] == with_profile["profile"]).all()
    # HPA's pan-tissue endothelial class lacks CLEC4G: no LSEC class
    assert reference.rows_for(["CLEC4G"])["endothelial_cells"].iloc[0] == 0.0
    # the usual cholangiocyte genes are higher in pancreas than in liver, so they are not anchors
    usual = reference.rows_for(["KRT19", "KRT7", "SOX9", "CFTR", "EPCAM"])
    assert (usual["pancreas"] > usual["liver"]).all()
    assert (usual.set_index("symbol").loc["KRT19", ["ductal_cells", "pancreatic_endocrine_cells"]] > 1000).all()
    assert HOST_MARKERS["liver_sinusoidal_endothelium"].profile is None
    assert HOST_MARKERS["hepatic_stellate_cells"].profile is None


# ----------------------------------------------------------------------------------------------------------
# The build script, on a small wheel made here (offline)
# ----------------------------------------------------------------------------------------------------------
def fake_wheel(path: Path, build, cell_symbol_of_g1: str = "GENEA") -> Path:
    """A wheel with the two members: genes G1, G2 in both, G3 tissue-only, G4 cell-only; an FPKM column to drop."""
    tissue_header = ["Ensembl_Gene_ID", "Symbol", "nTPM_adipose_tissue", "nTPM_liver", "nTPM_pancreas", "FPKM_PAAD"]
    tissue = [tissue_header,
              ["ENSG00000000002", "GENEB", "1.0", "0.0", "7.25", "9.9"],
              ["ENSG00000000001", "GENEA", "2.0", "205952.1", "1518.9", "3.3"],
              ["ENSG00000000003", "GENEC", "3.0", "5.0", "6.0", "1.1"]]
    cell_types = [p.hpa_name for p in build.PROFILES.values() if p.kind == "cell_type"]
    cell_header = ["Ensembl_Gene_ID", "Symbol", "Adipocytes", *reversed(cell_types)]
    cell = [cell_header,
            ["ENSG00000000001", cell_symbol_of_g1, "0.5", *(f"{i}.5" for i in range(len(cell_types)))],
            ["ENSG00000000002", "GENEB", "0.0", *("0.0" for _ in cell_types)],
            ["ENSG00000000004", "ENSG00000000004", "1.0", *("1.0" for _ in cell_types)]]

    def as_csv(rows: list[list[str]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue()

    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(build.TISSUE_MEMBER, as_csv(tissue))
        wheel.writestr(build.CELL_MEMBER, as_csv(cell))
        wheel.writestr("pirlygenes/__init__.py", "")
    return path


def test_build_script_extracts_a_compact_reference(tmp_path: Path) -> None:
    build = load_build_script()
    wheel = fake_wheel(tmp_path / build.WHEEL_NAME, build)
    extracted = build.extract_reference(wheel, member_md5=None)
    n_cells = len(build.PROFILES) - 2
    assert extracted.header == ["ensembl_gene_id", "symbol", *build.PROFILES]
    # genes in both members only, sorted by id; values are the wheel's text (7.25 stays 7.25)
    assert [r[:5] for r in extracted.rows] == [["ENSG00000000001", "GENEA", "205952.1", "1518.9", f"{n_cells - 1}.5"],
                                               ["ENSG00000000002", "GENEB", "0.0", "7.25", "0.0"]]
    # the cell types are taken by HPA name, whatever their order in the member
    assert extracted.rows[0][-1] == "0.5"  # pancreatic_endocrine_cells: the last PROFILES entry, the member's first
    assert extracted.only_in_member == {build.TISSUE_MEMBER: 1, build.CELL_MEMBER: 1}
    assert extracted.genes_per_member == {build.TISSUE_MEMBER: 3, build.CELL_MEMBER: 3}

    out = tmp_path / "host_reference"
    manifest = build.build(wheel, out, member_md5=None, wheel_sha256=None)
    data = (out / build.OUTPUT_FILE).read_bytes()
    assert data[4:8] == b"\0\0\0\0" and not data[3] & 0x08
    assert gzip.decompress(data).decode().splitlines()[1].split("\t")[:4] == [
        "ENSG00000000001", "GENEA", "205952.1", "1518.9"]
    assert manifest["file"]["sha256"] == hashlib.sha256(data).hexdigest() and manifest["file"]["rows"] == 2
    assert manifest["source"]["wheel_sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    first = (out / "MANIFEST.yaml").read_bytes()
    build.build(wheel, out, member_md5=None, wheel_sha256=None)
    assert (out / build.OUTPUT_FILE).read_bytes() == data and (out / "MANIFEST.yaml").read_bytes() == first

    # what it writes, the workflow reads
    loaded = load_host_reference(out / build.OUTPUT_FILE, out / "MANIFEST.yaml")
    assert loaded.table.at["ENSG00000000001", "liver"] == 205952.1
    assert loaded.profile("pancreas").to_dict() == pytest.approx({"ENSG00000000001": 1518.9 / 1526.15,
                                                                  "ENSG00000000002": 7.25 / 1526.15})
    assert math.isclose(loaded.profile("pancreatic_endocrine_cells").sum(), 1.0)


def test_build_script_checks_what_it_reads(tmp_path: Path) -> None:
    build = load_build_script()
    wheel = fake_wheel(tmp_path / build.WHEEL_NAME, build)
    with pytest.raises(ValueError, match="md5"):
        build.extract_reference(wheel)  # the pinned md5s: not the real members
    with pytest.raises(ValueError, match="sha256"):
        build.verify_wheel(wheel)
    other = fake_wheel(tmp_path / "other.whl", build, cell_symbol_of_g1="GENEZ")
    with pytest.raises(ValueError, match="different symbols"):
        build.extract_reference(other, member_md5=None)
