"""Gene-set layer: the one loader, collection checks, provenance, and the workflow's gene-set stage.

Online collections are only ever fetched from a local server on 127.0.0.1; every other run has network
connections blocked in all of its processes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import OFFLINE, REPO, Cohort, LocalServer, run_workflow
from target_rationale.core.errors import InputError
from target_rationale.genesets.gmt import (
    GeneSet,
    as_gseapy_dict,
    check_collection,
    read_gmt,
    restrict,
    source_provenance,
    write_gmt,
)
from target_rationale.genesets.sources.registry import cache_key

GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"


def test_read_gmt_takes_names_from_column_two_unless_it_is_a_url(tmp_path: Path) -> None:
    path = tmp_path / "mine.gmt"
    path.write_text("T1\tfirst term\tA\tB\tA\n"
                    "HALLMARK_X\thttp://www.gsea-msigdb.org/x\tC\n"
                    "T3\tNA\t\n")
    sets = read_gmt(path)
    assert sets["T1"] == GeneSet("T1", "first term", ("A", "B"))  # duplicate gene dropped, order kept
    assert sets["HALLMARK_X"].term_name == "HALLMARK_X"
    assert sets["T3"].genes == ()


def test_read_gmt_rejects_duplicate_terms_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.gmt"
    path.write_text("T1\tx\tA\nT2\ty\tB\nT1\tz\tC\n")
    with pytest.raises(ValueError, match=r"dup.gmt', line 3: term 'T1' occurs twice"):
        read_gmt(path)


def test_read_gmt_names_the_file_of_a_short_line_or_a_truncated_download(tmp_path: Path) -> None:
    short_line = tmp_path / "short.gmt"
    short_line.write_text("T1\tx\tA\nT2\n")
    with pytest.raises(InputError, match=r"GMT file '.*short.gmt', line 2: fewer than 2 tab-separated fields"):
        read_gmt(short_line)
    whole = gzip.compress(("".join(f"T{i}\tterm {i}\tA\tB\n" for i in range(2000))).encode())
    truncated = tmp_path / "cut.gmt.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"GMT file '.*cut.gmt.gz' cannot be read to its end \(EOFError"):
        read_gmt(truncated)


def test_write_gmt_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    sets = {"GO:1": GeneSet("GO:1", "one", ("A", "B")), "GO:2": GeneSet("GO:2", "two", ("C",))}
    write_gmt(sets, tmp_path / "a.gmt.gz")
    write_gmt(sets, tmp_path / "b.gmt.gz")
    assert (tmp_path / "a.gmt.gz").read_bytes() == (tmp_path / "b.gmt.gz").read_bytes()
    assert read_gmt(tmp_path / "a.gmt.gz") == sets


def test_check_collection_counts_against_the_cohort() -> None:
    sets = {"T1": GeneSet("T1", "a", ("A", "B", "X")), "T2": GeneSet("T2", "b", ()),
            "T3": GeneSet("T3", "c", ("Y",))}
    check = check_collection(sets, universe={"A", "B", "C"})
    assert list(check.sets) == ["T1", "T3"]
    assert check.empty_terms == ["T2"]
    assert check.summary() == {"n_terms": 2, "n_empty_terms_dropped": 1, "n_genes": 4, "n_genes_in_cohort": 2,
                               "n_genes_not_in_cohort": 2, "n_terms_without_cohort_genes": 1}
    assert check.genes_not_in_universe == ["X", "Y"]


def test_restrict_counts_size_within_the_universe() -> None:
    sets = {"T1": GeneSet("T1", "a", ("A", "B", "X")), "T2": GeneSet("T2", "b", ("A", "B", "C", "D"))}
    kept = restrict(sets, {"A", "B", "C"}, min_size=2, max_size=2)
    assert kept == {"T1": GeneSet("T1", "a", ("A", "B"))}
    assert as_gseapy_dict(kept) == {"T1": ["A", "B"]}


def test_shipped_go_provenance_names_release_licence_and_checksum() -> None:
    provenance = source_provenance(GO_BP)
    assert provenance["md5"] == hashlib.md5(GO_BP.read_bytes()).hexdigest()
    manifest = provenance["manifest"]
    assert manifest["collection"]["file"] == "go_bp.gmt.gz"
    assert manifest["collection"]["n_sets"] == 6482
    assert manifest["data_sources"]["gene_ontology"]["release_date"] == "2022-07-01"
    assert manifest["data_sources"]["gene_ontology"]["licence"] == "CC BY 4.0"


def test_sockets_are_really_blocked_in_offline_runs(server: LocalServer) -> None:
    """The guard the workflow tests rely on: with tests/offline on PYTHONPATH, even 127.0.0.1 is refused."""
    code = f"import urllib.request; urllib.request.urlopen('{server.url}/kegg/list/pathway/hsa', timeout=5)"
    env = {**os.environ, "PYTHONPATH": str(OFFLINE)}
    blocked = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert blocked.returncode != 0 and "blocked by tests/offline/sitecustomize.py" in blocked.stderr
    env.pop("PYTHONPATH")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def _with_collections(cohort: Cohort, genesets: dict, cache: Path) -> Cohort:
    cohort.config["genesets"] = genesets
    cohort.config["geneset_cache"] = str(cache)
    return cohort.write()


@pytest.mark.workflow
def test_online_collection_is_fetched_once_then_read_from_the_cache(cohort: Cohort, server: LocalServer,
                                                                    tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _with_collections(cohort, {"KEGG": {"source": "kegg_rest", "organism": "hsa", "base_url": f"{server.url}/kegg"},
                               "GO_BP": {"gmt": str(GO_BP)}}, cache)
    targets = ["results/genesets/KEGG.manifest.yaml", "results/genesets/GO_BP.manifest.yaml"]
    first = run_workflow(cohort.folder, cohort.config_path, "--cores", "2", *targets, offline=False)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(server.requested) == ["/kegg/link/hsa/pathway", "/kegg/list/pathway/hsa"]
    cached = cache / cache_key({"source": "kegg_rest", "organism": "hsa", "base_url": f"{server.url}/kegg"})
    assert cached.name.startswith("kegg_rest-hsa-url_")  # another server, another cache folder
    assert sorted(p.name for p in cached.iterdir()) == ["genesets.gmt", "manifest.yaml"]

    kegg = read_gmt(cohort.folder / "results" / "genesets" / "KEGG.gmt.gz")
    assert {"hsa01521", "hsa05200", "hsa05202"} <= set(kegg)
    assert kegg["hsa01521"].term_name == "EGFR tyrosine kinase inhibitor resistance"
    assert "EGFR" in kegg["hsa01521"].genes
    manifest = yaml.safe_load((cohort.folder / "results" / "genesets" / "KEGG.manifest.yaml").read_text())
    downloads = manifest["source"]["manifest"]["downloads"]
    assert [d["url"] for d in downloads] == [f"{server.url}/kegg/list/pathway/hsa",
                                             f"{server.url}/kegg/link/hsa/pathway"]
    assert downloads[0]["sha256"] == server.sha256("kegg/list/pathway/hsa")
    assert manifest["checks"]["n_terms"] == len(kegg)

    # A later run, offline and with the server gone, rebuilds from the cache without any download.
    server.requested.clear()
    again = run_workflow(cohort.folder, cohort.config_path, "--cores", "1", *targets, "--forcerun", "collection")
    assert again.returncode == 0, again.stderr[-3000:]
    assert server.requested == []
    assert not (cohort.folder / "results" / "diffexp").exists()  # only the gene-set jobs ran

    # Renamed in the config (and its server with a trailing slash), the collection is the same download: read
    # from the cache, never fetched again.
    _with_collections(cohort, {"kegg_pathways": {"source": "kegg_rest", "organism": "hsa",
                                                 "base_url": f"{server.url}/kegg/"}}, cache)
    renamed = run_workflow(cohort.folder, cohort.config_path, "--cores", "1",
                           "results/genesets/kegg_pathways.manifest.yaml")
    assert renamed.returncode == 0, renamed.stderr[-3000:]
    assert server.requested == [] and "fetch_collection" not in renamed.stderr
    assert set(read_gmt(cohort.folder / "results" / "genesets" / "kegg_pathways.gmt.gz")) == set(kegg)


@pytest.mark.workflow
def test_online_collection_while_offline_fails_with_a_clear_message(cohort: Cohort, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _with_collections(cohort, {"KEGG": {"source": "kegg_rest"}}, cache)
    result = run_workflow(cohort.folder, cohort.config_path, "--cores", "1", "results/genesets/KEGG.manifest.yaml")
    assert result.returncode != 0
    log = (cohort.folder / "logs" / "genesets" / "fetch_kegg_rest-hsa.log").read_text().strip().splitlines()
    last = log[-1]
    assert "FAILED: FetchError: collection 'kegg_rest-hsa': cannot download https://rest.kegg.jp/list/pathway/hsa" \
        in last  # the download is labelled by its cache key: one download serves every config name
    assert "give the collection as a local file instead" in last
    assert "collection 'kegg_rest-hsa': cannot download https://rest.kegg.jp/list/pathway/hsa" in result.stderr
    assert not (cache / "kegg_rest-hsa" / "genesets.gmt").exists()
    assert not list(cache.rglob("*.gmt"))


@pytest.mark.workflow
def test_missing_local_gmt_stops_before_any_job(cohort: Cohort, tmp_path: Path) -> None:
    _with_collections(cohort, {"Mine": {"gmt": "no/such.gmt"}}, tmp_path / "cache")
    result = run_workflow(cohort.folder, cohort.config_path, "--cores", "1")
    assert result.returncode != 0
    assert "Input error: config: genesets.Mine.gmt: file 'no/such.gmt' does not exist" in result.stderr
    assert not (cohort.folder / "results").exists()


@pytest.mark.workflow
def test_user_gmt_is_checked_against_the_cohort(cohort: Cohort, tmp_path: Path) -> None:
    gmt = tmp_path / "mine.gmt.gz"
    gmt.write_bytes(gzip.compress(b"AXIS1\tmy axis\tEGFR\tKDR\tNOTAGENE\nEMPTY\tnothing\t\n"))
    _with_collections(cohort, {"Mine": {"gmt": str(gmt)}}, tmp_path / "cache")
    result = run_workflow(cohort.folder, cohort.config_path, "--cores", "1", "results/genesets/Mine.manifest.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = yaml.safe_load((cohort.folder / "results" / "genesets" / "Mine.manifest.yaml").read_text())
    assert manifest["source"] == {"file": str(gmt), "md5": hashlib.md5(gmt.read_bytes()).hexdigest()}
    assert manifest["checks"] == {"n_terms": 1, "n_empty_terms_dropped": 1, "n_genes": 3, "n_genes_in_cohort": 2,
                                  "n_genes_not_in_cohort": 1, "n_terms_without_cohort_genes": 0}
    log = (cohort.folder / "logs" / "genesets" / "Mine.log").read_text()
    assert "empty terms dropped: EMPTY" in log and "NOTAGENE" in log
    genes = pd.read_csv(cohort.folder / "results" / "cohort" / "gene_ids.tsv", sep="\t")
    assert {"EGFR", "KDR"} <= set(genes["symbol"])
