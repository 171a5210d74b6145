"""Online gene-set fetchers, tested against a local HTTP server only (127.0.0.1); never the internet."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import yaml
from conftest import DATA_FETCH as DATA
from conftest import REPO, LocalServer
from target_rationale.cohort.ids import read_gene_id_map
from target_rationale.core.errors import InputError
from target_rationale.genesets.gmt import read_gmt
from target_rationale.genesets.sources import common
from target_rationale.genesets.sources.cache import verify_cached_gmt
from target_rationale.genesets.sources.common import FetchError
from target_rationale.genesets.sources.kegg import fetch_kegg, parse_kegg_links, parse_kegg_list
from target_rationale.genesets.sources.msigdb import fetch_msigdb
from target_rationale.genesets.sources.registry import (
    SOURCES,
    cache_key,
    download_spec,
    fetch_collection,
    online_collections,
)
from target_rationale.genesets.sources.wikipathways import fetch_wikipathways, find_wikipathways_gmt

ID_MAP_PATH = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
UNMAPPED = "127898555"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests must go straight to 127.0.0.1, never through a proxy from the environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="module")
def id_map():
    return read_gene_id_map(ID_MAP_PATH)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def manifest_of(out_dir: Path) -> dict:
    return yaml.safe_load((out_dir / "manifest.yaml").read_text())


def assert_nothing_written(out_dir: Path) -> None:
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------------
# Parsers


def test_parse_kegg_list_both_formats_and_suffix() -> None:
    old = ("path:hsa00532\tGlycosaminoglycan biosynthesis - chondroitin sulfate / dermatan sulfate - Homo sapiens "
           "(human)\npath:hsa04012\tErbB signaling pathway - Homo sapiens (human)\n")
    new = old.replace("path:", "")
    for text in (old, new):
        assert parse_kegg_list(text, "hsa") == {
            "hsa00532": "Glycosaminoglycan biosynthesis - chondroitin sulfate / dermatan sulfate",
            "hsa04012": "ErbB signaling pathway"}
    with pytest.raises(ValueError, match="line 1"):
        parse_kegg_list("<html>Service unavailable</html>\n", "hsa")
    assert parse_kegg_links("path:hsa04012\thsa:1956\nhsa04012\thsa:2064\n", "hsa") == {"hsa04012": ["1956", "2064"]}


def test_find_wikipathways_gmt_picks_newest_and_lists_organisms() -> None:
    listing = ('<a href="wikipathways-20260510-gmt-Homo_sapiens.gmt">x</a> '
               "<a href='./wikipathways-20260610-gmt-Homo_sapiens.gmt'>y</a> "
               '<a href="wikipathways-20260610-gmt-Mus_musculus.gmt">z</a>')
    assert find_wikipathways_gmt(listing, "Homo sapiens") == ("./wikipathways-20260610-gmt-Homo_sapiens.gmt",
                                                              "20260610")
    with pytest.raises(ValueError, match="organisms listed: Homo sapiens, Mus musculus"):
        find_wikipathways_gmt(listing, "Danio rerio")


# ---------------------------------------------------------------------------------------------------------------
# Fetchers against the local server


@pytest.mark.parametrize("folder", ["kegg", "kegg_path_prefix"])
def test_fetch_kegg(server: LocalServer, id_map, tmp_path: Path, folder: str) -> None:
    out = tmp_path / "kegg"
    result = fetch_kegg(out, "hsa", id_map=id_map, base_url=f"{server.url}/{folder}/")
    assert sorted(p.name for p in out.iterdir()) == ["genesets.gmt", "manifest.yaml"]
    sets = read_gmt(result.gmt)
    assert list(sets) == ["hsa01521", "hsa04012", "hsa04370", "hsa05200", "hsa05202"]  # hsa00532: unmapped only
    assert sets["hsa04012"].term_name == "ErbB signaling pathway"
    assert sets["hsa05200"].term_name == "Pathways in cancer"
    assert sets["hsa04012"].genes == ("AKT1", "EGF", "EGFR", "ERBB2", "PIK3CA", "TGFA")
    assert sets["hsa05202"].genes == ("CSF1R", "FGFR1")
    assert set(sets["hsa05200"].genes) >= {"KDR", "FLT1", "FLT4", "FGFR1", "CSF1R", "EGFR"}
    assert UNMAPPED not in {g for s in sets.values() for g in s.genes}

    manifest = manifest_of(out)
    assert manifest == result.manifest
    assert manifest["collection"] == "KEGG" and manifest["organism"] == "hsa"
    assert [d["url"] for d in manifest["downloads"]] == [f"{server.url}/{folder}/list/pathway/hsa",
                                                         f"{server.url}/{folder}/link/hsa/pathway"]
    assert [d["sha256"] for d in manifest["downloads"]] == [server.sha256(f"{folder}/list/pathway/hsa"),
                                                            server.sha256(f"{folder}/link/hsa/pathway")]
    assert manifest["gmt"]["sha256"] == hashlib.sha256(result.gmt.read_bytes()).hexdigest()
    assert (manifest["n_sets"], manifest["n_genes"], manifest["n_ids_unmapped"]) == (5, 12, 1)
    assert manifest["id_mapping"]["unmapped_examples"] == [UNMAPPED]
    assert manifest["id_mapping"]["n_sets_without_mapped_genes_dropped"] == 1
    assert manifest["licence"] == "KEGG REST API, free for academic use; not redistributable"
    assert manifest["date_fetched"].endswith("Z")


def test_fetch_kegg_gmt_lines_exact(server: LocalServer, tmp_path: Path) -> None:
    """Default id map (the shipped file); exact bytes of one line."""
    result = fetch_kegg(tmp_path / "k", base_url=f"{server.url}/kegg")
    lines = result.gmt.read_text().splitlines()
    assert lines[2] == "hsa04370\tVEGF signaling pathway\tAKT1\tKDR\tPIK3CA\tVEGFA"
    assert result.manifest["id_mapping"]["id_map"]["file"] == "hs_gene_id_map.tsv.gz"


def test_fetch_wikipathways(server: LocalServer, id_map, tmp_path: Path) -> None:
    out = tmp_path / "wp"
    base = f"{server.url}/wikipathways/current/gmt/"
    result = fetch_wikipathways(out, "Homo sapiens", id_map=id_map, base_url=base)
    sets = read_gmt(result.gmt)
    assert list(sets) == ["WP673", "WP3888", "WP4223", "WP4255", "WP5502"]
    assert sets["WP673"].term_name == "ErbB signaling"
    assert sets["WP5502"].term_name == "16p13 11 copy number variation syndrome"
    assert sets["WP673"].genes == ("AKT1", "EGF", "EGFR", "ERBB2", "PIK3CA", "TGFA")
    assert sets["WP5502"].genes == ("GATA3", "PLAGL1")
    assert sets["WP4223"].genes == ("AKT1", "CSF1R", "EGFR", "FGFR1", "FLT1", "FLT4", "KDR", "PIK3CA")

    manifest = manifest_of(out)
    gmt_path = "wikipathways/current/gmt/wikipathways-20260610-gmt-Homo_sapiens.gmt"
    assert [d["url"] for d in manifest["downloads"]] == [base, f"{server.url}/{gmt_path}"]
    assert manifest["downloads"][1]["sha256"] == server.sha256(gmt_path)
    assert manifest["downloads"][0]["sha256"] == server.sha256("wikipathways/current/gmt/index.html")
    assert manifest["version"] == "20260610"
    assert (manifest["n_sets"], manifest["n_genes"], manifest["n_ids_unmapped"]) == (5, 14, 1)
    assert "CC0" in manifest["licence"]


def test_fetch_msigdb_through_gseapy(server: LocalServer, tmp_path: Path) -> None:
    import gseapy

    original_url = gseapy.Msigdb.url
    out = tmp_path / "h"
    result = fetch_msigdb(out, "h.all", "2024.1.Hs", base_url=f"{server.url}/msigdb/release/")
    assert gseapy.Msigdb.url == original_url  # gseapy's class is not modified
    gmt_path = "msigdb/release/2024.1.Hs/h.all.v2024.1.Hs.symbols.gmt"
    assert server.requested == [f"/{gmt_path}"]  # one request: no listing fetched by Msigdb()
    sets = read_gmt(result.gmt)
    assert list(sets) == ["HALLMARK_ANGIOGENESIS", "HALLMARK_APICAL_JUNCTION", "HALLMARK_KRAS_SIGNALING_UP"]
    assert sets["HALLMARK_ANGIOGENESIS"].term_name == "HALLMARK_ANGIOGENESIS"
    assert sets["HALLMARK_ANGIOGENESIS"].genes == ("FGFR1", "KDR", "POSTN", "VEGFA")
    manifest = manifest_of(out)
    assert manifest["downloads"] == [{"url": f"{server.url}/{gmt_path}", "bytes": (DATA / gmt_path).stat().st_size,
                                      "sha256": server.sha256(gmt_path)}]
    assert (manifest["n_sets"], manifest["n_genes"], manifest["n_ids_unmapped"]) == (3, 9, 0)
    assert manifest["version"] == "2024.1.Hs" and "CC BY 4.0" in manifest["licence"]
    assert "Liberzon et al. 2015" in manifest["citation"]


# ---------------------------------------------------------------------------------------------------------------
# Failures: clear message, nothing left behind


@pytest.mark.parametrize(("status", "reason"), [(404, "HTTP 404"), (500, "HTTP 500")])
def test_http_error_on_second_download_leaves_nothing(server: LocalServer, id_map, tmp_path: Path,
                                                      status: int, reason: str) -> None:
    server.responses["/kegg/link/hsa/pathway"] = (status, b"error")
    out = tmp_path / "kegg"
    out.mkdir()  # as Snakemake would have created it
    with pytest.raises(FetchError) as info:
        fetch_kegg(out, id_map=id_map, base_url=f"{server.url}/kegg")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"collection 'KEGG': cannot download {server.url}/kegg/link/hsa/pathway ({reason}")
    assert "genesets: {KEGG: {gmt: /path/to/kegg.gmt}}" in message
    assert_nothing_written(out)


def test_connection_refused(closed_port_url: str, id_map, tmp_path: Path) -> None:
    out = tmp_path / "wp"
    with pytest.raises(FetchError) as info:
        fetch_wikipathways(out, id_map=id_map, base_url=f"{closed_port_url}/gmt/")
    message = str(info.value)
    assert f"collection 'WikiPathways': cannot download {closed_port_url}/gmt/ (Connection refused)" in message
    assert "needs internet" in message and "{gmt: /path/to/wikipathways.gmt}" in message
    assert_nothing_written(out)


@pytest.mark.parametrize("body", [b"", b"<html><body>Service unavailable</body></html>\n"])
def test_empty_or_malformed_response(server: LocalServer, id_map, tmp_path: Path, body: bytes) -> None:
    server.responses["/kegg/list/pathway/hsa"] = (200, body)
    with pytest.raises(FetchError, match=r"collection 'KEGG': cannot download .*/kegg/list/pathway/hsa "
                                         r"\((empty response|unexpected content)"):
        fetch_kegg(tmp_path / "k", id_map=id_map, base_url=f"{server.url}/kegg")
    assert_nothing_written(tmp_path / "k")


def test_wikipathways_organism_missing(server: LocalServer, id_map, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="organisms listed: Bos taurus, Homo sapiens, Mus musculus"):
        fetch_wikipathways(tmp_path / "wp", "Danio rerio", id_map=id_map,
                           base_url=f"{server.url}/wikipathways/current/gmt")


def test_msigdb_missing_collection(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch_msigdb(tmp_path / "c", "c99.none", base_url=f"{server.url}/msigdb/release")
    url = f"{server.url}/msigdb/release/2024.1.Hs/c99.none.v2024.1.Hs.symbols.gmt"
    assert str(info.value).startswith(f"collection 'MSigDB c99.none': cannot download {url} (HTTP 404")
    assert "check the organism / collection / version" in str(info.value)
    assert_nothing_written(tmp_path / "c")


def test_sockets_blocked_fails_fast(monkeypatch: pytest.MonkeyPatch, id_map, tmp_path: Path) -> None:
    """No network at all: every fetcher fails with FetchError (default URLs; nothing leaves the machine)."""
    def blocked(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setattr(socket, "getaddrinfo", blocked)  # no DNS query either
    with pytest.raises(FetchError, match=r"cannot download https://rest\.kegg\.jp/list/pathway/hsa "
                                         r"\(Network is unreachable\); this run needs internet"):
        fetch_kegg(tmp_path / "k", id_map=id_map)
    with pytest.raises(FetchError, match=r"https://data\.wikipathways\.org/current/gmt/ \("):
        fetch_wikipathways(tmp_path / "w", id_map=id_map)
    with pytest.raises(FetchError, match=r"collection 'MSigDB h\.all': cannot download https://data\.broadinstitute"
                                         r"\.org/gsea-msigdb/msigdb/release/2024\.1\.Hs/h\.all\.v2024\.1\.Hs\.symbols"
                                         r"\.gmt \("):
        fetch_msigdb(tmp_path / "m")
    assert not any((tmp_path / d).exists() for d in ("k", "w", "m"))


def test_connect_blocked_on_loopback(monkeypatch: pytest.MonkeyPatch, server: LocalServer, id_map,
                                     tmp_path: Path) -> None:
    def blocked(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    with pytest.raises(FetchError, match=r"\(Connection refused\)"):
        fetch_kegg(tmp_path / "k", id_map=id_map, base_url=f"{server.url}/kegg")
    assert server.requested == []


def test_timeout_when_server_never_answers(id_map, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(FetchError, match=r"\(timed out after 0\.2 s\)"):
            fetch_kegg(tmp_path / "k", id_map=id_map, base_url=url, timeout=0.2)
    assert_nothing_written(tmp_path / "k")


def test_failed_manifest_write_removes_gmt(server: LocalServer, id_map, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real_write_atomic = common.write_atomic

    def write_atomic(path, write):
        if Path(path).name == "manifest.yaml":  # the GMT is in place by now; the manifest fails
            assert (Path(path).parent / "genesets.gmt").is_file()
            real_write_atomic(path, lambda tmp: (write(tmp), (_ for _ in ()).throw(OSError("disk full"))))
        real_write_atomic(path, write)

    monkeypatch.setattr(common, "write_atomic", write_atomic)
    out = tmp_path / "k"
    with pytest.raises(OSError, match="disk full"):
        fetch_kegg(out, id_map=id_map, base_url=f"{server.url}/kegg")
    assert_nothing_written(out)


def test_config_name_in_message_and_manifest(server: LocalServer, closed_port_url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"^collection 'Hallmark': cannot download .*\(Connection refused\); .*"
                                         r"`genesets: \{Hallmark: \{gmt: /path/to/hallmark\.gmt\}\}`$"):
        fetch_msigdb(tmp_path / "x", base_url=closed_port_url, name="Hallmark")
    result = fetch_msigdb(tmp_path / "h", base_url=f"{server.url}/msigdb/release", name="Hallmark")
    assert result.manifest["collection"] == "Hallmark" and result.manifest["msigdb_collection"] == "h.all"


# ---------------------------------------------------------------------------------------------------------------
# The registry


@pytest.mark.parametrize(("spec", "key"), [
    ({"source": "kegg_rest"}, "kegg_rest-hsa"),
    ({"source": "wikipathways"}, "wikipathways-Homo_sapiens"),
    ({"source": "wikipathways", "organism": "Mus musculus"}, "wikipathways-Mus_musculus"),
    ({"source": "msigdb", "collection": "h.all"}, "msigdb-h.all-2024.1.Hs"),
    ({"source": "msigdb", "collection": "c5.go/bp (all)", "version": "2024.1.Mm"}, "msigdb-c5.go_bp_all_-2024.1.Mm"),
    # base_url set to the source's own server, or to nothing: the same download, the same folder
    ({"source": "kegg_rest", "base_url": "https://rest.kegg.jp/"}, "kegg_rest-hsa"),
    ({"source": "msigdb", "collection": "h.all", "base_url": None}, "msigdb-h.all-2024.1.Hs"),
])
def test_cache_key_names_the_cached_folders_as_before(spec: dict, key: str) -> None:
    """Cached downloads are found by these folder names: they must not change."""
    assert cache_key(spec) == key


@pytest.mark.parametrize(("spec", "key"), [
    ({"source": "kegg_rest", "organism": "mmu", "base_url": "http://127.0.0.1:1/kegg"},
     "kegg_rest-mmu-url_" + hashlib.sha256(b"http://127.0.0.1:1/kegg").hexdigest()[:12]),
    ({"source": "msigdb", "collection": "c2.cp.kegg_medicus", "version": "2023.2.Hs", "base_url": "http://x/y/"},
     "msigdb-c2.cp.kegg_medicus-2023.2.Hs-url_" + hashlib.sha256(b"http://x/y").hexdigest()[:12]),
])
def test_cache_key_of_another_server_names_the_server(spec: dict, key: str) -> None:
    """A mirror's (or a test server's) download is cached apart from the public one: its key has the URL's hash,
    with or without a trailing slash."""
    assert cache_key(spec) == key
    assert cache_key({**spec, "base_url": spec["base_url"].rstrip("/") + "/"}) == key
    assert cache_key({**spec, "base_url": "http://elsewhere/"}) not in (key, cache_key({"source": spec["source"],
                                                                                          **spec, "base_url": None}))


def test_registry_entries_and_online_collections() -> None:
    assert sorted(SOURCES) == ["kegg_rest", "msigdb", "wikipathways"]
    for source in SOURCES.values():
        assert callable(source.fetch_function())
        assert source.terms
    genesets = {"GO_BP": {"gmt": "go_bp.gmt.gz"}, "KEGG": {"source": "kegg_rest"},
                "Hallmark": {"source": "msigdb", "collection": "h.all"}}
    assert online_collections(genesets) == {"kegg_rest-hsa": {"source": "kegg_rest", "organism": "hsa"},
                                            "msigdb-h.all-2024.1.Hs": {"source": "msigdb", "collection": "h.all",
                                                                       "version": "2024.1.Hs"}}
    # What the fetch job gets: the same for another name or a default spelt out; a server is part of it.
    renamed = {"kegg_pathways": {"source": "kegg_rest", "organism": "hsa"}}
    assert online_collections(renamed) == {"kegg_rest-hsa": online_collections(genesets)["kegg_rest-hsa"]}
    assert download_spec({"source": "wikipathways", "base_url": "http://127.0.0.1:9/"}) == {
        "source": "wikipathways", "organism": "Homo sapiens", "base_url": "http://127.0.0.1:9/"}
    with pytest.raises(ValueError, match="unknown gene-set source 'reactome'"):
        cache_key({"source": "reactome"})


def test_fetch_collection_dispatches_through_the_registry(server: LocalServer, id_map, tmp_path: Path) -> None:
    spec = {"name": "Pathways", "source": "kegg_rest", "base_url": f"{server.url}/kegg"}
    result = fetch_collection(spec, tmp_path / cache_key(spec), id_map=id_map)
    assert result.gmt == tmp_path / cache_key(spec) / "genesets.gmt"
    assert cache_key(spec).startswith("kegg_rest-hsa-url_")
    assert result.manifest["collection"] == "Pathways" and result.manifest["licence"] == SOURCES["kegg_rest"].terms
    spec = {"source": "msigdb", "collection": "h.all", "base_url": f"{server.url}/msigdb/release"}
    fetched = fetch_collection(spec, tmp_path / "h")  # as the job calls it: no name, the cache key labels it
    assert fetched.manifest["n_sets"] == 3 and fetched.manifest["collection"] == cache_key(spec)


# ---------------------------------------------------------------------------------------------------------------
# The cache on disk: a reused GMT is checked against its manifest; a killed fetch's leftovers are removed


def test_cached_gmt_is_checked_against_its_manifest_on_reuse(server: LocalServer, id_map, tmp_path: Path) -> None:
    spec = {"name": "KEGG", "source": "kegg_rest", "base_url": f"{server.url}/kegg"}
    folder = tmp_path / cache_key(spec)
    fetched = fetch_collection(spec, folder, id_map=id_map)
    assert verify_cached_gmt(fetched.gmt) == manifest_of(folder)  # as downloaded

    fetched.gmt.write_text(fetched.gmt.read_text().replace("EGFR", "EGFR\tMYGENE"))  # edited since
    with pytest.raises(InputError) as caught:
        verify_cached_gmt(fetched.gmt)
    assert caught.value.problems == [
        f"gene-set cache '{folder}': 'genesets.gmt' does not match the sha256 recorded in manifest.yaml when it was "
        f"downloaded (changed or damaged since); delete the folder '{folder}' to download the collection again"]

    manifest = manifest_of(folder)
    del manifest["gmt"]
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(InputError, match=r"manifest.yaml records no checksum of genesets.gmt .*delete the folder"):
        verify_cached_gmt(fetched.gmt)
    (folder / "manifest.yaml").write_text("gmt: [unclosed\n")
    with pytest.raises(InputError, match=r"^gene-set cache '.*': manifest '.*manifest.yaml' is not valid YAML: "):
        verify_cached_gmt(fetched.gmt)


def test_gmt_that_is_not_a_cached_download_is_not_checked(tmp_path: Path) -> None:
    assert verify_cached_gmt(REPO / "resources" / "genesets" / "go_bp.gmt.gz") is None  # shipped, MANIFEST.yaml
    mine = tmp_path / "mine.gmt"
    mine.write_text("T1\tterm\tEGFR\n")
    assert verify_cached_gmt(mine) is None
    (tmp_path / "manifest.yaml").write_text("my notes: [unrelated\n")  # a user's own file of that name
    assert verify_cached_gmt(mine) is None


def test_fetch_removes_what_a_killed_fetch_left(closed_port_url: str, server: LocalServer, id_map,
                                                tmp_path: Path) -> None:
    out = tmp_path / "kegg"
    out.mkdir()
    leftovers = [out / ".genesets.gmt.k1ll3d_x.gmt", out / ".manifest.yaml.abcd1234.yaml"]
    for path in leftovers:
        path.write_text("half a file")
    (out / "notes.txt").write_text("not ours")
    with pytest.raises(FetchError):  # even a fetch that fails (offline) clears them
        fetch_collection({"name": "KEGG", "source": "kegg_rest", "base_url": closed_port_url}, out, id_map=id_map)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    for path in leftovers:
        path.write_text("half a file")
    fetch_collection({"name": "KEGG", "source": "kegg_rest", "base_url": f"{server.url}/kegg"}, out, id_map=id_map)
    assert sorted(p.name for p in out.iterdir()) == ["genesets.gmt", "manifest.yaml", "notes.txt"]
