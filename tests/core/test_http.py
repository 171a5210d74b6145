"""The one HTTP download helper (core.http), against a local server on 127.0.0.1 only; never the internet."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from conftest import REPO, LocalServer, serving
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


# ---------------------------------------------------------------------------------------------------------------
# Deadline and size cap: a trickling or endless server ends the download, with one clear reason


class ScriptedServer(LocalServer):
    """A :class:`LocalServer` whose paths in ``scripted`` are answered by ``function(handler)``, which writes the
    status line, headers and body itself (slowly, without Content-Length ...)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scripted: dict[str, Callable] = {}
        base = self.httpd.RequestHandlerClass  # functools.partial(Handler, directory=...)
        scripted = self.scripted

        class Handler(base.func):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path in scripted:
                    with contextlib.suppress(OSError):  # the client hung up: the point of most tests here
                        scripted[self.path](self)
                    self.close_connection = True
                    return
                super().do_GET()

        self.httpd.RequestHandlerClass = partial(Handler, **base.keywords)


def trickle(body: bytes, delay: float, length: bool = True, head_delay: float = 0.0) -> Callable:
    """A scripted answer sending ``body`` a byte every ``delay`` seconds (and its headers a byte every
    ``head_delay`` seconds, if given)."""
    def answer(handler) -> None:
        head = b"HTTP/1.0 200 OK\r\n" + (f"Content-Length: {len(body)}\r\n".encode() if length else b"")
        head += b"X-Slow: " + b"." * (40 if head_delay else 1) + b"\r\n\r\n"
        for i, byte in enumerate(head):
            handler.wfile.write(bytes([byte]))
            if head_delay and i > 20:
                time.sleep(head_delay)
        for byte in body:
            handler.wfile.write(bytes([byte]))
            time.sleep(delay)
    return answer


def endless(length: bool) -> Callable:
    """A scripted answer that never ends its body (64 kB blocks), announcing 1 GB or nothing."""
    def answer(handler) -> None:
        handler.send_response(200)
        if length:
            handler.send_header("Content-Length", str(10**9))
        handler.end_headers()
        while True:
            handler.wfile.write(b"x" * 65536)
    return answer


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with serving(ScriptedServer()) as local:
        yield local


DOWNLOADS = {
    "file": lambda url, tmp_path: http.download_to_file(url, tmp_path / "f", Failed, timeout=5),
    "memory": lambda url, tmp_path: http.download(url, Failed, timeout=5),
    "get": lambda url, tmp_path: http.get(url, Failed, timeout=5),
}


@pytest.mark.parametrize("how", DOWNLOADS)
@pytest.mark.parametrize(("answer", "received"), [
    (trickle(b"0123456789" * 4, 0.1), r"(; \d bytes received)?"),
    (trickle(b"0123456789" * 4, 0.1, length=False), r"(; \d bytes received)?"),
    (trickle(b"0123", 0.1, head_delay=0.1), ""),  # the headers themselves trickle
], ids=["body", "body-without-length", "headers"])
def test_a_trickling_server_is_stopped_at_the_deadline(scripted: ScriptedServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, how: str, answer: Callable,
                                                       received: str) -> None:
    """Each read gets a byte within the read timeout (5 s), so only the overall deadline ends these (4 s each)."""
    monkeypatch.setattr(http, "MAX_DOWNLOAD_SECONDS", 0.6)
    scripted.scripted["/slow"] = answer
    started = time.monotonic()
    with pytest.raises(Failed) as caught:
        DOWNLOADS[how](f"{scripted.url}/slow", tmp_path)
    assert time.monotonic() - started < 2
    assert re.fullmatch(rf"took longer than 0\.6 s, the limit for one download{received}", caught.value.reason), \
        caught.value.reason
    assert str(caught.value) == f"cannot download {scripted.url}/slow ({caught.value.reason}); connect"


def test_downloads_within_the_deadline_are_unchanged(scripted: ScriptedServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_DOWNLOAD_SECONDS", 5.0)
    scripted.scripted["/slow"] = trickle(b"abc", 0.05, length=False)
    got = http.download_to_file(f"{scripted.url}/slow", tmp_path / "f", Failed, timeout=5)
    assert (tmp_path / "f").read_bytes() == b"abc" and got.size == 3
    assert http.download(f"{scripted.url}/slow", Failed, timeout=5).content == b"abc"
    assert http.get(f"{scripted.url}/{LIST}", Failed, timeout=5).text == (scripted.directory / LIST).read_text()


@pytest.mark.parametrize(("how", "limit"), [("file", "MAX_DOWNLOAD_BYTES"), ("memory", "MAX_MEMORY_BYTES"),
                                            ("get", "MAX_MEMORY_BYTES")])
@pytest.mark.parametrize("length", [True, False], ids=["announced", "not-announced"])
def test_a_body_past_the_size_cap_is_refused(scripted: ScriptedServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, how: str, limit: str,
                                             length: bool) -> None:
    monkeypatch.setattr(http, limit, 100_000)
    monkeypatch.setattr(http, "MAX_DOWNLOAD_SECONDS", 20.0)  # an endless body must not end by the deadline
    scripted.scripted["/big"] = endless(length)
    with pytest.raises(Failed, match=r"\(too large: more than 100,000 bytes \(the limit for one download\), got "
                                     r"[\d,]+\); connect$") as caught:
        DOWNLOADS[how](f"{scripted.url}/big", tmp_path)
    assert caught.value.reason.endswith("got 1,000,000,000") is length  # refused before reading, if announced
    if how == "file" and (tmp_path / "f").exists():
        assert (tmp_path / "f").stat().st_size <= 100_000 + http.CHUNK_SIZE


# ---------------------------------------------------------------------------------------------------------------
# Staging folders of killed downloads


HOLD_LOCK = """
import sys, time
sys.path.insert(0, {scripts!r})
from target_rationale.core import http
with http.staging_folder({parent!r}, ".GSE1.download-") as folder:
    (folder / "GSE1_RAW.tar").write_bytes(b"partial")
    print(folder, flush=True)
    time.sleep(60)
"""


def start_download(parent: Path) -> tuple[subprocess.Popen, Path]:
    """A process that holds a staging folder in ``parent`` (as a download does) until it is killed."""
    code = HOLD_LOCK.format(scripts=str(REPO / "workflow" / "scripts"), parent=str(parent))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return process, Path(process.stdout.readline().strip())


def test_staging_folder_of_a_killed_download_is_removed_by_the_next(tmp_path: Path) -> None:
    process, left = start_download(tmp_path)
    try:
        assert (left / "GSE1_RAW.tar").is_file()
        assert http.remove_abandoned_staging(tmp_path, ".GSE1.download-") == []  # still running: kept
        with http.staging_folder(tmp_path, ".GSE1.download-") as mine:
            assert left.is_dir() and mine.is_dir()
    finally:
        process.kill()
        process.wait()
    assert left.is_dir() and not mine.exists()
    other = tmp_path / ".GSE2.download-abcd1234"  # another series' folder is not ours to judge
    other.mkdir()
    with http.staging_folder(tmp_path, ".GSE1.download-") as mine:
        assert not left.exists()  # its process was killed (kill -9): removed before this download began
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, mine.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]


def test_staging_folder_without_a_lock_is_removed_once_old(tmp_path: Path) -> None:
    young, old = tmp_path / ".GSE1.download-young", tmp_path / ".GSE1.download-old"
    young.mkdir()
    old.mkdir()
    (old / "GSE1_RAW.tar").write_bytes(b"partial")
    long_ago = time.time() - http.UNLOCKED_STAGING_SECONDS - 10
    os.utime(old, (long_ago, long_ago))
    assert http.remove_abandoned_staging(tmp_path, ".GSE1.download-") == [old]
    assert young.is_dir() and not old.exists()
