"""Public-cohort import (GEO series, local folders of per-sample count files), against a local server only.

The fixtures in tests/data/geo are hand-written in GEO's formats (README there) and served from 127.0.0.1; the
internet is never reached.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, LocalServer, input_errors, run_workflow, serving
from target_rationale.cohort.geo_download import GeoDownloadError, download_series, read_cache_manifest
from target_rationale.cohort.geo_series import (
    find_series_matrices,
    geo_sample_sheet,
    parse_series_matrix,
    raw_tar_url,
    safe_column_name,
    safe_sample_names,
    series_matrix_name,
    series_url,
)
from target_rationale.cohort.import_plan import cohort_config_problems, plan_import
from target_rationale.cohort.importing import import_cohort, import_local
from target_rationale.cohort.tables import read_counts, read_counts_text
from target_rationale.cohort.validation import plan_inputs
from target_rationale.core.errors import InputError

DATA = REPO / "tests" / "data" / "geo"
SERIES = DATA / "series" / "GSE98nnn" / "GSE98894"
TAR = SERIES / "suppl" / "GSE98894_RAW.tar"
MATRIX = SERIES / "matrix" / "GSE98894_series_matrix.txt.gz"
TAR_PATH = "/series/GSE98nnn/GSE98894/suppl/GSE98894_RAW.tar"
MATRIX_PATH = "/series/GSE98nnn/GSE98894/matrix/GSE98894_series_matrix.txt.gz"
LISTING_PATH = "/series/GSE98nnn/GSE98894/matrix/"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

#: The fixture's counts, as written into each sample's HTSeq file (genes in HTSeq's order).
GENES = ["1436", "1956", "213", "2260", "2321", "2597", "3791", "60"]
EXPECTED_COUNTS = {
    "GSM9900001": [35, 410, 12, 88, 150, 5230, 240, 9120],
    "GSM9900002": [96, 980, 15400, 131, 95, 6011, 170, 10240],
    "GSM9900003": [41, 377, 9, 102, 188, 4870, 301, 8655],
    "GSM9900004": [120, 1105, 22050, 97, 77, 5502, 129, 9987],
    "GSM9900005": [64, 215, 18800, 45, 60, 5800, 90, 9400],
    "GSM9900006": [58, 502, 0, 76, 133, 5110, 205, 9050],
}
EXPECTED_SUMMARY = {"GSM9900002": {"__no_feature": 1588, "__ambiguous": 402, "__too_low_aQual": 0,
                                   "__not_aligned": 0, "__alignment_not_unique": 3120}}
SAMPLE_OF = {"GSM9900001": "PNET-01_primary", "GSM9900002": "PNET-01_liver_metastasis",
             "GSM9900003": "PNET-02_primary", "GSM9900004": "PNET-02_liver_metastasis",
             "GSM9900005": "SINET-03_liver_metastasis", "GSM9900006": "PNET-04_lymph_node_metastasis"}
PANCREAS_FILTER = {"origin": "pancreas", "type": ["primary", "liver metastasis"]}
SELECTED = ["GSM9900001", "GSM9900002", "GSM9900003", "GSM9900004"]
SHEET_COLUMNS = ["sample", "geo_accession", "title", "source_name", "platform", "type", "origin", "tumor_grade"]


@pytest.fixture
def geo_server() -> Iterator[LocalServer]:
    """GEO's series folders (``/series/GSE98nnn/GSE98894/...``) from ``tests/data/geo`` on 127.0.0.1."""
    with serving(LocalServer(DATA, url_path="/series/")) as local:
        yield local


@pytest.fixture
def geo_unsized() -> Iterator[UnsizedServer]:
    """As ``geo_server``, with paths that can be answered without Content-Length (:class:`UnsizedServer`)."""
    with serving(UnsizedServer(DATA, url_path="/series/")) as local:
        yield local


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests must go straight to 127.0.0.1, never through a proxy from the environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected_matrix(accessions: list[str]) -> pd.DataFrame:
    return pd.DataFrame({SAMPLE_OF[a]: EXPECTED_COUNTS[a] for a in accessions}, index=pd.Index(GENES, name="gene_id"))


def read_outputs(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    counts = pd.read_csv(out / "counts.tsv.gz", sep="\t", dtype={"gene_id": str}).set_index("gene_id")
    sheet = pd.read_csv(out / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    record = yaml.safe_load((out / "import.yaml").read_text())
    return counts, sheet, record


def outputs(out: Path) -> dict[str, Path]:
    return {"out_counts": out / "counts.tsv.gz", "out_samples": out / "samples.tsv", "out_record": out / "import.yaml"}


# ---------------------------------------------------------------------------------------------------------------
# GEO layout and formats


def test_urls_follow_geo_folder_layout() -> None:
    assert series_url("GSE98894") == "https://ftp.ncbi.nlm.nih.gov/geo/series/GSE98nnn/GSE98894/"
    assert series_url("gse1", "http://mirror/geo/") == "http://mirror/geo/GSEnnn/GSE1/"
    assert series_url("GSE1234") == "https://ftp.ncbi.nlm.nih.gov/geo/series/GSE1nnn/GSE1234/"
    assert raw_tar_url("GSE98894") == \
        "https://ftp.ncbi.nlm.nih.gov/geo/series/GSE98nnn/GSE98894/suppl/GSE98894_RAW.tar"
    assert series_matrix_name("GSE98894") == "GSE98894_series_matrix.txt.gz"
    assert series_matrix_name("GSE98894", "GPL16791") == "GSE98894-GPL16791_series_matrix.txt.gz"
    with pytest.raises(InputError, match="'GPL570' is not a GEO series accession"):
        series_url("GPL570")


def test_series_matrices_are_found_in_the_folder_listing() -> None:
    assert find_series_matrices((SERIES / "matrix" / "index.html").read_text(), "GSE98894") == \
        ["GSE98894_series_matrix.txt.gz"]
    two_platforms = ('<a href="/geo/series/GSE67nnn/GSE67835/">Parent Directory</a>\n'
                     '<a href="GSE67835-GPL18573_series_matrix.txt.gz">GSE67835-GPL18573_series_matrix.txt.gz</a>\n'
                     '<a href="GSE67835-GPL15520_series_matrix.txt.gz">GSE67835-GPL15520_series_matrix.txt.gz</a>\n'
                     '<a href="GSE678350_series_matrix.txt.gz">other series</a>\n')
    assert find_series_matrices(two_platforms, "GSE67835") == ["GSE67835-GPL15520_series_matrix.txt.gz",
                                                              "GSE67835-GPL18573_series_matrix.txt.gz"]
    with pytest.raises(ValueError, match=r"names no GSE1\[-GPLnnn\]_series_matrix"):
        find_series_matrices("<html>Not Found</html>", "GSE1")


def test_series_matrix_characteristics_are_read_by_key_not_by_row() -> None:
    metadata = parse_series_matrix(gzip.decompress(MATRIX.read_bytes()).decode())
    assert list(metadata.index) == list(EXPECTED_COUNTS)
    assert list(metadata.columns) == ["title", "source_name", "platform", "type", "origin", "tumor grade"]
    assert metadata.loc["GSM9900004", ["type", "origin", "tumor grade"]].tolist() == \
        ["liver metastasis", "pancreas", "G2"]  # 'origin' came first in this sample's cells
    assert metadata.loc["GSM9900003", "tumor grade"] is None  # empty cell
    assert metadata.loc["GSM9900005", "source_name"] == "small intestinal NET, liver metastasis"
    sheet = geo_sample_sheet(metadata)
    assert list(sheet.columns) == SHEET_COLUMNS
    assert dict(zip(sheet["geo_accession"], sheet["sample"])) == SAMPLE_OF


def test_safe_names_for_columns_and_samples() -> None:
    assert [safe_column_name(k) for k in ("Tumor grade", "Ki-67 (%)", "1st line", "!")] == \
        ["tumor_grade", "ki_67", "x1st_line", "characteristic"]
    titles = pd.Series(["liver met", "liver met", "", "P1/primary", "GSM4"],
                       index=["GSM1", "GSM2", "GSM3", "GSM4", "GSM5"])
    assert safe_sample_names(titles).tolist() == ["liver_met_GSM1", "liver_met_GSM2", "GSM3", "P1_primary", "GSM5"]


def test_htseq_file_is_read_by_the_one_counts_loader() -> None:
    text = "1956\t10\n3791\t0\n__no_feature\t100\n__ambiguous\t3\n__too_low_aQual\t0\n__not_aligned\t0\n" \
           "__alignment_not_unique\t7\n"
    matrix = read_counts_text(text, "x/GSM1_P1_counts.txt.gz")
    assert matrix.source_format == "HTSeq"
    assert list(matrix.counts.columns) == ["GSM1_P1_counts"]  # named after the file
    assert matrix.counts["GSM1_P1_counts"].to_dict() == {"1956": 10, "3791": 0}
    assert matrix.summary_rows.iloc[:, 0].to_dict() == {"__no_feature": 100, "__ambiguous": 3, "__too_low_aQual": 0,
                                                        "__not_aligned": 0, "__alignment_not_unique": 7}
    assert read_counts_text(text, "f.txt", sample="S1").renamed == {"f": "S1"}
    with pytest.raises(InputError, match=r"counts file 'f.txt', line 2 \(gene '3791'\), column 'S1': value -4 is "
                                         "negative"):
        read_counts_text("1956\t10\n3791\t-4\n", "f.txt", sample="S1")
    with pytest.raises(InputError, match="has no gene rows .only '__' summary counters"):
        read_counts_text("__no_feature\t3\n", "f.txt")


# ---------------------------------------------------------------------------------------------------------------
# Download and import


def test_download_then_import_gives_the_expected_matrix_and_sheet(geo_server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "GSE98894"
    manifest = download_series("GSE98894", cache, base_url=geo_server.url, timeout=10)
    assert geo_server.requested == [LISTING_PATH, MATRIX_PATH, TAR_PATH]
    assert sorted(p.name for p in cache.iterdir()) == ["GSE98894_RAW.tar", "GSE98894_series_matrix.txt.gz",
                                                       "manifest.yaml"]
    assert manifest["raw_tar"] == {"file": "GSE98894_RAW.tar", "url": geo_server.url.rstrip("/") + TAR_PATH[7:],
                                   "bytes": TAR.stat().st_size, "sha256": sha256(TAR), "n_sample_files": 6}
    assert manifest["series_matrices"][0]["sha256"] == sha256(MATRIX)
    assert manifest["series_matrices"][0]["n_samples"] == 6
    assert manifest["series_matrices"][0]["platforms"] == ["GPL16791"]
    assert read_cache_manifest(cache) == manifest  # as written, files matching their sha256
    assert not [p for p in cache.parent.iterdir() if p.name.startswith(".")]  # no staging folder left

    out = tmp_path / "import"
    spec = {"geo": "GSE98894", "filter": PANCREAS_FILTER}
    import_cohort(spec, cache_dir=cache, **outputs(out))
    counts, sheet, record = read_outputs(out)
    pd.testing.assert_frame_equal(counts, expected_matrix(SELECTED))  # __ rows gone, lesser samples filtered out
    assert list(sheet.columns) == SHEET_COLUMNS
    assert sheet["geo_accession"].tolist() == SELECTED  # GSM ids kept, series order
    assert sheet["sample"].tolist() == [SAMPLE_OF[a] for a in SELECTED]
    assert sheet["type"].tolist() == ["primary", "liver metastasis", "primary", "liver metastasis"]
    assert set(sheet["origin"]) == {"pancreas"}
    assert sheet["tumor_grade"].tolist() == ["G1", "G2", "", "G2"]
    assert record["spec"] == spec
    assert record["n_samples_in_source"] == 6 and record["n_samples_selected"] == 4 and record["n_genes"] == 8
    assert [d["sha256"] for d in record["downloads"]] == [sha256(TAR), sha256(MATRIX)]
    by_sample = {s["sample"]: s for s in record["samples"]}
    second = by_sample["PNET-01_liver_metastasis"]
    assert second["file"] == "GSM9900002_PNET-01_liver_met_counts.txt.gz" and second["format"] == "HTSeq"
    assert {k: v for k, v in second.items() if k.startswith("__")} == EXPECTED_SUMMARY["GSM9900002"]
    assert second["assigned"] == sum(EXPECTED_COUNTS["GSM9900002"])

    # The workflow's own loader reads the result as it reads any user matrix.
    assert read_counts(out / "counts.tsv.gz").counts.equals(expected_matrix(SELECTED))


def test_cache_file_changed_after_download_is_refused(geo_server: LocalServer, tmp_path: Path) -> None:
    cache = tmp_path / "GSE98894"
    download_series("GSE98894", cache, base_url=geo_server.url, timeout=10)
    with open(cache / "GSE98894_RAW.tar", "ab") as handle:
        handle.write(b"\0" * 512)
    with pytest.raises(InputError, match="'GSE98894_RAW.tar' does not match the sha256 recorded .* delete the folder"):
        import_cohort({"geo": "GSE98894"}, cache_dir=cache, **outputs(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("failure, path, reason", [
    ("missing", TAR_PATH, "HTTP 404"),
    ("truncated", TAR_PATH, f"truncated: {TAR.stat().st_size // 2} of {TAR.stat().st_size} bytes received"),
    ("truncated", MATRIX_PATH, f"truncated: {MATRIX.stat().st_size // 2} of {MATRIX.stat().st_size} bytes received"),
    ("error", LISTING_PATH, "HTTP 503"),
    ("garbled", MATRIX_PATH, "unexpected content"),
])
def test_download_failure_is_one_clear_line_and_caches_nothing(geo_server: LocalServer, tmp_path: Path, failure: str,
                                                               path: str, reason: str) -> None:
    if failure == "missing":
        geo_server.responses[path] = (404, b"Not Found")
    elif failure == "error":
        geo_server.responses[path] = (503, b"Service Unavailable")
    elif failure == "garbled":
        geo_server.responses[path] = (200, gzip.compress(b"<html>maintenance</html>\n"))
    else:
        geo_server.truncated.add(path)
    cache_root = tmp_path / "cache"
    with pytest.raises(GeoDownloadError) as caught:
        download_series("GSE98894", cache_root / "GSE98894", base_url=geo_server.url, timeout=10)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"GEO series GSE98894: cannot download {geo_server.url.rstrip('/')}{path[7:]} (")
    assert reason in message and message.endswith("nothing was cached")
    assert list(cache_root.iterdir()) == []  # neither files nor the series folder nor a staging folder


def test_unreachable_server_gives_the_offline_fix(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GeoDownloadError, match=r"\(Connection refused\); this step needs internet: connect and run "
                                                r"again, or download .* `cohort: \{folder: GSE98894_RAW.tar, samples: "
                                                r"GSE98894_series_matrix.txt.gz\}`"):
        download_series("GSE98894", tmp_path / "GSE98894", base_url=f"http://127.0.0.1:{port}/", timeout=5)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------------
# Local folders and tars: the same parser, no download


def test_local_tar_with_series_matrix_equals_the_geo_import(tmp_path: Path) -> None:
    spec = {"folder": str(TAR), "samples": str(MATRIX), "filter": PANCREAS_FILTER}
    import_cohort(spec, **outputs(tmp_path))
    counts, sheet, _ = read_outputs(tmp_path)
    pd.testing.assert_frame_equal(counts, expected_matrix(SELECTED))
    assert sheet["geo_accession"].tolist() == SELECTED and list(sheet.columns) == SHEET_COLUMNS


def test_local_folder_of_htseq_and_featurecounts_files_with_a_sheet(tmp_path: Path) -> None:
    folder = tmp_path / "counts"
    folder.mkdir()
    with tarfile.open(TAR) as archive:
        for member in archive.getmembers()[:3]:
            (folder / member.name).write_bytes(archive.extractfile(member).read())
    # A featureCounts file of one sample, with featureCounts' own comment line.
    (folder / "T4.featureCounts.txt").write_text(
        "# Program:featureCounts v2.0.3; Command:\"featureCounts\" \"-a\" \"genes.gtf\"\n"
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/T4.bam\n"
        + "".join(f"{g}\tchr1\t1\t100\t+\t100\t{c}\n" for g, c in zip(GENES, EXPECTED_COUNTS["GSM9900004"])))
    (folder / "notes.md").write_text("not a count file\n")
    sheet_path = tmp_path / "samples.csv"
    sheet_path.write_text("sample,site,patient\nGSM9900001,primary,P1\nGSM9900002,liver_met,P1\n"
                          "GSM9900003,primary,P2\nT4,liver_met,P2\n")
    cohort = import_local(folder, sheet_path, pattern="*.txt*")
    assert list(cohort.counts.columns) == ["GSM9900001", "GSM9900002", "GSM9900003", "T4"]
    assert cohort.counts["T4"].tolist() == EXPECTED_COUNTS["GSM9900004"]
    assert cohort.counts["GSM9900002"].tolist() == EXPECTED_COUNTS["GSM9900002"]
    assert [f["format"] for f in cohort.files] == ["HTSeq", "HTSeq", "HTSeq", "featureCounts"]
    assert list(cohort.sheet.columns) == ["sample", "site", "patient"]

    # A `file` column names each sample's file; the filter works on the user's columns.
    sheet_path.write_text("sample,site,file\nA,primary,GSM9900001_PNET-01_primary_counts.txt.gz\n"
                          "B,liver_met,T4.featureCounts.txt\nC,liver_met,GSM9900002_PNET-01_liver_met_counts.txt.gz\n")
    cohort = import_local(folder, sheet_path, sample_filter={"sample": ["A", "B"]})
    assert cohort.counts.to_dict(orient="list") == {"A": EXPECTED_COUNTS["GSM9900001"],
                                                    "B": EXPECTED_COUNTS["GSM9900004"]}
    assert list(cohort.sheet.columns) == ["sample", "site"]


def test_import_problems_name_the_file_and_the_fix(tmp_path: Path) -> None:
    def problems(**kwargs) -> str:
        with pytest.raises(InputError) as caught:
            import_local(**{"location": TAR, "samples_path": MATRIX, **kwargs})
        return "\n".join(caught.value.problems)

    message = problems(sample_filter={"origin": "pancraes", "site": "liver"})
    assert "cohort.filter: value(s) 'pancraes' do not occur in column 'origin' of series matrix" in message
    assert "(values: 'pancreas', 'small intestine')" in message
    assert "cohort.filter: column 'site' is not in series matrix" in message and "'tumor_grade'" in message
    assert "selects no sample" in problems(sample_filter={"origin": "small intestine", "type": "primary"})
    assert "have no count file" in problems(pattern="*primary*")  # the filter keeps samples the pattern lost

    folder = tmp_path / "counts"
    folder.mkdir()
    (folder / "A.txt").write_text("1956\t10\n3791\t2\n")
    (folder / "B.txt").write_text("1956\t10\n7157\t2\n")
    (folder / "B_rerun.txt").write_text("1956\t10\n3791\t2\n")
    sheet = tmp_path / "s.tsv"
    sheet.write_text("sample\tsite\nA\tx\nB\ty\nC\ty\n")
    with pytest.raises(InputError, match=r"sample\(s\) 'C' have no count file .* \(matched by sample name\)"):
        import_local(folder, sheet)
    sheet.write_text("sample\tsite\nA\tx\nB\ty\n")
    with pytest.raises(InputError, match=r"counts file '.*B.txt' lists other genes than '.*A.txt' \(only here: 1, "
                                         r"e.g. '7157'; only there: 1, e.g. '3791'\)"):
        import_local(folder, sheet)
    (folder / "B.txt").unlink()
    (folder / "B.2.txt").write_text("1956\t1\n3791\t2\n")
    with pytest.raises(InputError, match=r"sample\(s\) 'B' \('B.2.txt', 'B_rerun.txt'\) match several files"):
        import_local(folder, sheet)
    # Filtering by GEO's own spelling of a key works too.
    assert len(import_local(TAR, MATRIX, sample_filter={"Tumor Grade": "G2"}).counts.columns) == 2


# ---------------------------------------------------------------------------------------------------------------
# What the workflow checks before the imported files exist


def test_plan_is_current_only_for_the_same_spec_and_fresh_outputs(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = {"folder": str(TAR), "samples": str(MATRIX), "filter": PANCREAS_FILTER}
    plan = plan_import(spec)
    assert plan.accession is None and plan.inputs == [str(TAR), str(MATRIX)]
    assert not plan.is_current
    import_cohort(plan.import_spec, out_counts=plan.counts, out_samples=plan.samples, out_record=plan.record)
    assert plan.is_current
    assert not plan_import({**spec, "filter": {"origin": "pancreas"}}).is_current  # filter changed: import again
    Path(plan.record).unlink()
    assert not plan.is_current

    geo = plan_import({"geo": "gse98894", "cache": "my/cache/"})
    assert geo.accession == "GSE98894" and geo.cache_dir == "my/cache/GSE98894"
    assert geo.inputs == ["my/cache/GSE98894/GSE98894_RAW.tar", "my/cache/GSE98894/manifest.yaml"]
    # The import reads neither the server nor the cache's root (its files are its inputs): a mirror imports nothing
    # again, and its rule's params do not change.
    mirror = plan_import({"geo": "gse98894", "cache": "my/cache/", "base_url": "http://mirror/geo/", "files": "*.gz"})
    assert mirror.import_spec == geo.import_spec | {"files": "*.gz"} == {"geo": "gse98894", "files": "*.gz"}
    with pytest.raises(InputError, match="cohort.folder: 'nowhere' does not exist"):
        plan_import({"folder": "nowhere", "samples": str(MATRIX)})


def test_config_level_checks_without_the_sample_sheet() -> None:
    contrasts = [{"name": "met_vs_primary", "variable": "type", "target": "liver metastasis", "reference": "primary",
                  "samples": {"origin": ["pancreas"]}}]
    planned = plan_inputs("auto", "~ type", contrasts)
    assert planned.matrix is None and planned.id_type == "auto"
    assert list(planned.sheet.columns) == ["origin", "type"] and planned.sheet.empty
    bad = contrasts + [{"name": "met_vs_primary", "variable": "grade", "target": "G2", "reference": "G2"},
                       {"name": "x", "variable": "type", "target": "a", "reference": "b", "design": "~ type +"},
                       {"name": "y", "variable": "type", "target": "a", "reference": "a"}]
    with pytest.raises(InputError) as caught:
        plan_inputs("auto", "~ type", bad)
    assert caught.value.problems[0] == ("config: contrast 'met_vs_primary': the name is used by two contrasts; give "
                                        "each contrast a unique name")
    assert "variable 'grade' is not in its design '~ type'" in caught.value.problems[1]
    assert caught.value.problems[2].startswith("config: contrast 'x': design '~ type +' is not a valid formula")
    assert caught.value.problems[3] == ("config: contrast 'y': target and reference are both 'a'; compare two "
                                        "different levels")
    assert cohort_config_problems({"cohort": {"geo": "GSE98894"}, "counts": "c.tsv"})[0].startswith(
        "config: `cohort` imports the count matrix and the sample sheet, so `counts` must be left out; remove it")
    assert "'samples' missing" in cohort_config_problems({"counts": "c.tsv"})[0]
    assert cohort_config_problems({"cohort": None, "counts": "c", "samples": "s"}) == []


# ---------------------------------------------------------------------------------------------------------------
# The workflow


def _geo_config(folder: Path, base_url: str, contrasts: list[dict]) -> Path:
    config = {"cohort": {"geo": "GSE98894", "filter": PANCREAS_FILTER, "base_url": base_url,
                         "cache": str(folder / "cache")},
              "design": "~ type", "contrasts": contrasts, "targets": None,
              "genesets": {"GO_BP": {"gmt": str(REPO / "resources" / "genesets" / "go_bp.gmt.gz")}}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.workflow
def test_workflow_plans_before_download_and_validates_in_the_cohort_job(geo_server: LocalServer,
                                                                       tmp_path: Path) -> None:
    # A contrast level the imported sheet will lack ('liver metastasis' is GEO's spelling).
    config = _geo_config(tmp_path, geo_server.url, [{"name": "liver_met_vs_primary", "variable": "type",
                                                     "target": "liver_metastasis", "reference": "primary"}])
    # Before anything is downloaded: the config is checked, the whole DAG planned, nothing fetched.
    dry = run_workflow(tmp_path, config, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    for rule in ("geo_download", "import_cohort", "cohort", "fit", "contrast", "enrich", "compare_contrasts"):
        assert f"rule {rule}:" in dry.stdout, dry.stdout[-3000:]
    assert geo_server.requested == []

    # Download and import run; the cohort job validates the imported files first and reports the bad level as the
    # usual one-line input error.
    run = run_workflow(tmp_path, config, "--cores", "1", "results/cohort/cohort.h5ad", offline=False)
    assert run.returncode != 0
    expected = ("Input error: config: contrast 'liver_met_vs_primary': target level 'liver_metastasis' does not occur "
                "in column 'type' of samples file 'results/import/samples.tsv' (levels: 'liver metastasis', 'primary')")
    assert expected in run.stderr, run.stderr[-3000:]
    assert geo_server.requested == [LISTING_PATH, MATRIX_PATH, TAR_PATH]
    assert (tmp_path / "cache" / "GSE98894" / "manifest.yaml").is_file()
    assert pd.read_csv(tmp_path / "results" / "import" / "samples.tsv", sep="\t")["geo_accession"].tolist() == SELECTED
    assert not (tmp_path / "results" / "cohort" / "cohort.h5ad").exists()

    # Once the import exists (and is current), the files are validated before any job, as for a user's own files.
    again = run_workflow(tmp_path, config, "-n")
    assert again.returncode != 0 and expected in again.stderr
    assert "rule cohort:" not in again.stdout


@pytest.mark.workflow
def test_targets_symbols_of_an_import_are_checked_in_the_cohort_job_then_before_any_job(geo_server: LocalServer,
                                                                                      tmp_path: Path) -> None:
    """The parse cannot check the targets file's symbols against an import that has not run: the cohort job does,
    before it writes anything; once the import exists the parse does, as for a user's own files."""
    targets = yaml.safe_load((REPO / "config" / "targets.yaml").read_text(encoding="utf-8"))
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets, sort_keys=False), encoding="utf-8")
    config = _geo_config(tmp_path, geo_server.url, [{"name": "liver_met_vs_primary", "variable": "type",
                                                     "target": "liver metastasis", "reference": "primary"}])
    settings = yaml.safe_load(config.read_text())
    settings.update(targets="targets.yaml", target_contrasts={"metastasis_vs_primary": "liver_met_vs_primary"})
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    checked = "targets file: its gene symbols are checked against the counts' genes"

    # The null twin first: the import's first run, every symbol right, the cohort job checks them and goes on.
    run = run_workflow(tmp_path, config, "--cores", "1", "results/cohort/cohort.h5ad", offline=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert checked in (tmp_path / "logs" / "cohort.log").read_text()

    targets["axes"]["EGFR"]["receptors"] = ["EGRF", "ERBB2"]
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump(targets, sort_keys=False), encoding="utf-8")
    expected = ["Input error: targets file 'targets.yaml': axes.EGFR.receptors: 'EGRF' is not a symbol of the gene "
                "id map or of the counts' genes; fix the spelling (HGNC symbols), add the gene to the gene_id_map, "
                "or remove it"]
    again = run_workflow(tmp_path, config, "-n")  # the import exists and is current: checked before any job
    assert input_errors(again) == expected and again.returncode != 0
    assert "rule cohort:" not in again.stdout

    # An import that is not current (here: removed; it is made again from the cache): the cohort job's check.
    shutil.rmtree(tmp_path / "results")
    run = run_workflow(tmp_path, config, "--cores", "1", "results/cohort/cohort.h5ad")
    assert run.returncode != 0
    assert input_errors(run) == expected, run.stderr[-3000:]
    assert "Error in rule cohort" in run.stderr and (tmp_path / "results" / "import" / "counts.tsv.gz").is_file()
    log = (tmp_path / "logs" / "cohort.log").read_text()
    assert "removed the outputs this job had written" not in log and checked not in log  # stopped before writing
    assert not any(path.is_file() for path in (tmp_path / "results" / "cohort").rglob("*"))


@pytest.mark.workflow
def test_shipped_gse98894_config_plans_the_target_stage_without_normal_tissue(tmp_path: Path) -> None:
    """config/gse98894.yaml as shipped (no normals, no patients): the dry run plans the whole workflow, the target
    stage included (judged in metastasis vs primary), without touching the network and without a deprecation."""
    dry = run_workflow(tmp_path, REPO / "config" / "gse98894.yaml", "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    for rule in ("geo_download", "import_cohort", "axis_tests", "targets", "target_plots", "report"):
        assert f"rule {rule}:" in dry.stdout, dry.stdout[-3000:]
    assert "Deprecated" not in dry.stderr and "Input error" not in dry.stderr


# ---------------------------------------------------------------------------------------------------------------
# A tar cut short without Content-Length; a download killed half-way


class UnsizedServer(LocalServer):
    """GEO's folders on 127.0.0.1; a path in ``unsized`` is answered with the bytes given there and no
    Content-Length (the body ends when the connection closes, as an HTTP/1.0 server may do), slowly if
    ``delay`` is set."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unsized: dict[str, bytes] = {}
        self.delay = 0.0
        base, server = self.httpd.RequestHandlerClass, self

        class Handler(base.func):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path not in server.unsized:
                    return super().do_GET()
                server.requested.append(self.path)
                self.send_response(200)
                self.end_headers()
                body = server.unsized[self.path]
                with contextlib.suppress(OSError):
                    for start in range(0, len(body), 512):
                        self.wfile.write(body[start:start + 512])
                        time.sleep(server.delay)
                self.close_connection = True

        self.httpd.RequestHandlerClass = partial(Handler, **base.keywords)


def tar_without(*dropped: str) -> bytes:
    """The fixture's RAW tar without the members of the samples ``dropped`` (a whole, well-formed tar)."""
    out = io.BytesIO()
    with tarfile.open(TAR) as source, tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as target:
        for member in source.getmembers():
            if not member.name.startswith(dropped):
                target.addfile(member, source.extractfile(member))
    return out.getvalue()


def member_end(index: int) -> int:
    """Byte offset just after the data (padded to a block) of the fixture tar's member ``index``."""
    with tarfile.open(TAR) as archive:
        member = archive.getmembers()[index]
    return member.offset_data + -(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


@pytest.mark.parametrize(("body", "reason"), [
    (lambda tar: tar[:member_end(2)], "the tar ends after 3 file(s) without its end-of-archive blocks"),
    (lambda tar: tar[:member_end(5)], "the tar ends after 6 file(s) without its end-of-archive blocks"),
    (lambda tar: tar[:member_end(5) + 512], "the tar ends after 6 file(s) without its end-of-archive blocks"),
    (lambda tar: tar[:member_end(3) - 100], "not a readable tar archive"),
    (lambda tar: tar_without("GSM9900005"), "the tar lacks the file(s) of 1 sample(s) the series matrix lists "
                                            "('GSM9900005')"),
], ids=["at-a-member-end", "before-the-end-blocks", "half-the-end-blocks", "mid-member", "sample-missing"])
def test_tar_cut_short_without_content_length_is_not_cached(geo_unsized: UnsizedServer, tmp_path: Path,
                                                            body, reason: str) -> None:
    geo_unsized.unsized[TAR_PATH] = body(TAR.read_bytes())
    cache_root = tmp_path / "cache"
    with pytest.raises(GeoDownloadError) as caught:
        download_series("GSE98894", cache_root / "GSE98894", base_url=geo_unsized.url, timeout=10)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 500
    assert message.startswith(f"GEO series GSE98894: cannot download {geo_unsized.url.rstrip('/')}{TAR_PATH[7:]} "
                              f"({reason}")
    assert message.endswith("nothing was cached")
    assert list(cache_root.iterdir()) == []


def test_whole_tar_without_content_length_is_cached(geo_unsized: UnsizedServer, tmp_path: Path) -> None:
    geo_unsized.unsized[TAR_PATH] = TAR.read_bytes()
    manifest = download_series("GSE98894", tmp_path / "GSE98894", base_url=geo_unsized.url, timeout=10)
    assert manifest["raw_tar"]["sha256"] == sha256(TAR) and manifest["raw_tar"]["n_sample_files"] == 6


KILLED_DOWNLOAD = """
import sys
sys.path.insert(0, {scripts!r})
from target_rationale.cohort.geo_download import download_series
download_series("GSE98894", {cache!r}, base_url={url!r}, timeout=10)
"""


def test_staging_folder_of_a_killed_download_is_removed_on_the_next_run(geo_unsized: UnsizedServer,
                                                                       tmp_path: Path) -> None:
    geo_unsized.unsized[TAR_PATH] = TAR.read_bytes()
    geo_unsized.delay = 1.0  # 20 blocks: 20 s, long enough to be killed half-way
    cache = tmp_path / "cache" / "GSE98894"
    code = KILLED_DOWNLOAD.format(scripts=str(REPO / "workflow" / "scripts"), cache=str(cache), url=geo_unsized.url)
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        partial_tar = None
        for _ in range(400):  # until the tar's download has begun (its file is open in the staging folder)
            partial_tar = next((cache.parent.glob(".GSE98894.download-*/GSE98894_RAW.tar")), None)
            if partial_tar is not None:
                break
            time.sleep(0.05)
        assert partial_tar is not None
        time.sleep(0.5)
    finally:
        process.kill()  # kill -9: no clean-up of its own
        process.wait()
    assert partial_tar.is_file() and not cache.exists()

    geo_unsized.delay = 0.0
    download_series("GSE98894", cache, base_url=geo_unsized.url, timeout=10)
    assert sorted(p.name for p in cache.parent.iterdir()) == ["GSE98894"]  # the killed one's folder is gone
    assert read_cache_manifest(cache)["raw_tar"]["sha256"] == sha256(TAR)
