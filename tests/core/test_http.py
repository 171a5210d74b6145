"""The one HTTP download helper (core.http), against a local server on 127.0.0.1 only; never the internet."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import LocalServer
from target_rationale.core import http
from target_rationale.core.http import Downloaded, DownloadError

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
LIST = "kegg/list/pathway/hsa"


class Failed(DownloadError):
    """A caller's error: its own wording, the factory's arguments kept for the test."""

    def __init__(self, url: str, reason: str, missing: bool) -> None:
        self.missing = missing
        super().__init__(f"cannot download {url} ({reason}); {'check the name' if missing else 'connect'}", url,
                         reason)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests must go straight to 127.0.0.1, never through a proxy from the environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_download_into_memory_records_size_sha256_and_redirect(server: LocalServer) -> None:
    got = http.download(f"{server.url}/{LIST}", Failed, timeout=10)
    body = (server.directory / LIST).read_bytes()
    assert got.content == body and got.size == len(body) and got.sha256 == server.sha256(LIST)
    assert got.record() == {"url": f"{server.url}/{LIST}", "bytes": len(body), "sha256": server.sha256(LIST)}
    folder = http.download(f"{server.url}/kegg", Failed, timeout=10)  # the server redirects a folder to '/kegg/'
    assert folder.record()["redirected_to"] == f"{server.url}/kegg/"


def test_download_to_file_streams_and_hashes(server: LocalServer, tmp_path: Path) -> None:
    got = http.download_to_file(f"{server.url}/{LIST}", tmp_path / "hsa", Failed, timeout=10)
    assert (tmp_path / "hsa").read_bytes() == (server.directory / LIST).read_bytes()
    assert got == Downloaded(url=f"{server.url}/{LIST}", final_url=f"{server.url}/{LIST}",
                             size=(tmp_path / "hsa").stat().st_size, sha256=server.sha256(LIST))


@pytest.mark.parametrize(("status", "missing"), [(404, True), (410, True), (503, False)])
def test_http_error_status_is_the_callers_error(server: LocalServer, status: int, missing: bool) -> None:
    server.responses[f"/{LIST}"] = (status, b"no")
    with pytest.raises(Failed) as caught:
        http.get(f"{server.url}/{LIST}", Failed, timeout=10)
    assert caught.value.reason.startswith(f"HTTP {status}") and caught.value.missing is missing
    assert caught.value.url == f"{server.url}/{LIST}"


def test_empty_and_truncated_bodies(server: LocalServer, tmp_path: Path) -> None:
    server.responses[f"/{LIST}"] = (200, b" \n")
    with pytest.raises(Failed, match=r"\(empty response\); connect$"):
        http.download(f"{server.url}/{LIST}", Failed, timeout=10)
    assert http.get(f"{server.url}/{LIST}", Failed, timeout=10).content == b" \n"  # only if asked to check
    del server.responses[f"/{LIST}"]
    server.truncated.add(f"/{LIST}")
    size = (server.directory / LIST).stat().st_size
    with pytest.raises(Failed, match=rf"\(truncated: {size // 2} of {size} bytes received\)"):
        http.download_to_file(f"{server.url}/{LIST}", tmp_path / "hsa", Failed, timeout=10)


def test_refused_and_silent_servers_give_short_reasons() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Failed, match=r"\(Connection refused\); connect$"):
        http.get(f"http://127.0.0.1:{port}/x", Failed, timeout=5)
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(Failed, match=r"\(timed out after 0\.2 s\)"):
            http.get(f"http://127.0.0.1:{silent.getsockname()[1]}/x", Failed, timeout=0.2)


def test_short_reason_of_nested_errors() -> None:
    assert http.short_reason(OSError(101, "Network is unreachable")) == "Network is unreachable"
    try:
        try:
            raise ValueError("inner cause\nsecond line")
        except ValueError as inner:
            raise RuntimeError("<urllib3.Connection object at 0x1>: wrapper") from inner
    except RuntimeError as outer:
        assert http.short_reason(outer) == "inner cause"
    assert len(http.short_reason(RuntimeError("x" * 500))) == 160
