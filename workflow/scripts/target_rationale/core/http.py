"""HTTP downloads for the online inputs (gene-set collections, GEO series): one request helper for every caller.

Every request has a timeout for the connection and for each read, and every download an overall deadline
(:data:`MAX_DOWNLOAD_SECONDS`: a server trickling a byte at a time never trips a read timeout) and a size cap
(:data:`MAX_DOWNLOAD_BYTES` into a file, :data:`MAX_MEMORY_BYTES` into memory). Every failure (network error,
timeout, deadline, HTTP error status, empty, truncated or oversized body) becomes one exception whose message the
caller words: the caller passes an ``error`` function (:data:`ErrorFactory`) that turns ``(url, reason,
missing)`` into its own subclass of :class:`DownloadError` (``FetchError`` for gene sets, ``GeoDownloadError``
for GEO), with the fix that suits it. ``reason`` is short and
the same for every caller: ``timed out after 60 s``, ``Connection refused``, ``HTTP 404 Not Found``,
``empty response``, ``truncated: 120 of 4096 bytes received``, ``took longer than 1800 s`` ...

Files are downloaded into a staging folder (:func:`staging_folder`) that holds a lock while its download runs;
one left behind by a killed process is removed by the next download into the same place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Seconds to wait for a connection and for each read before giving up.
DEFAULT_TIMEOUT = 60.0
#: HTTP statuses that mean the server has no such file (rather than a failure worth retrying).
MISSING_STATUSES = (404, 410)
#: Bytes read from the network (and hashed) at a time when streaming into a file.
CHUNK_SIZE = 1 << 20
#: Longest one download may take, from connecting to its last byte. The read timeout bounds each read only, so
#: a server (or a proxy) that trickles a byte every few seconds would keep a job alive forever. 30 minutes fetch
#: :data:`MAX_DOWNLOAD_BYTES` at 1.2 MB/s; GEO and the gene-set servers serve tens of MB/s.
MAX_DOWNLOAD_SECONDS = 30 * 60.0
#: Largest file one download may write. GEO RAW tars of per-sample count files are a few MB to a few hundred
#: MB; a larger body is not a count series (or not what was asked for) and would fill the disk.
MAX_DOWNLOAD_BYTES = 2 * 1024**3
#: Largest body held in memory (listings, gene-set files, series matrices: at most tens of MB; the largest MSigDB
#: file, all collections, is about 40 MB). The jobs that download run with 1 GB.
MAX_MEMORY_BYTES = 256 * 1024**2
#: Name of the lock file in a staging folder, locked (``flock``) while its download runs; the operating system
#: releases it when the process ends, however it ends.
STAGING_LOCK = ".lock"
#: Age after which a staging folder without a lock file (killed before it took the lock) counts as abandoned.
UNLOCKED_STAGING_SECONDS = 60.0


class DownloadError(RuntimeError):
    """A file could not be downloaded, or what arrived was not what the source serves.

    Subclasses word the one-line message for their caller; every one keeps the URL and the short reason.

    Attributes
    ----------
    url : str
        The URL that failed.
    reason : str
        Short reason (``Connection refused``, ``HTTP 404 Not Found``, ``empty response`` ...).
    """

    def __init__(self, message: str, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(message)


#: ``error(url, reason, missing)`` -> the caller's :class:`DownloadError`; ``missing`` is True when the server
#: answered that the file does not exist (HTTP 404 or 410), so the fix can say "check the name" instead of
#: "connect".
ErrorFactory = Callable[[str, str, bool], DownloadError]


@dataclass(frozen=True)
class Downloaded:
    """One downloaded file: where it came from, its size and sha256, and its bytes when kept in memory.

    Attributes
    ----------
    url : str
        The URL requested.
    final_url : str
        The URL the response came from (differs from ``url`` after a redirect).
    size : int
        Bytes received.
    sha256 : str
        Hex digest of those bytes.
    content : bytes or None
        The bytes, for :func:`download`; None for :func:`download_to_file`.
    """

    url: str
    final_url: str
    size: int
    sha256: str
    content: bytes | None = None

    @classmethod
    def of(cls, url: str, response: requests.Response) -> Downloaded:
        """The in-memory download of a finished (not streamed) ``response`` to a GET of ``url``."""
        content = response.content
        return cls(url=url, final_url=response.url or url, size=len(content),
                   sha256=hashlib.sha256(content).hexdigest(), content=content)

    def record(self) -> dict:
        """The manifest entry: ``url``, ``bytes``, ``sha256`` (and ``redirected_to`` if a redirect led elsewhere)."""
        entry = {"url": self.url, "bytes": self.size, "sha256": self.sha256}
        if self.final_url != self.url:
            entry["redirected_to"] = self.final_url
        return entry


def utc_timestamp() -> str:
    """The current time in UTC to the second, as manifests record a download (``2026-06-10T08:15:00Z``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def short_reason(err: BaseException) -> str:
    """A short reason for a failed request (``Connection refused``, ``Failed to resolve 'host'`` ...).

    Parameters
    ----------
    err : BaseException
        What ``requests`` (or the socket below it) raised.

    Returns
    -------
    str
        The operating system's message if there is one (``[Errno 111] Connection refused`` ->
        ``Connection refused``), else the innermost message, on one line of at most 160 characters.
    """
    if isinstance(err, requests.Timeout):
        return "timed out"
    text = str(err)
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[-1].strip()
    for pattern in (r"Failed to resolve '[^']+'", r"NameResolutionError"):
        match = re.search(pattern, text)
        if match:
            return match.group(0)
    cause: BaseException | None = err
    while cause is not None:  # innermost exception with a message, for errors raised below urllib3
        inner = cause.__cause__ or cause.__context__
        if inner is None or not str(inner):
            break
        cause = inner
    text = str(cause) if cause is not None and str(cause) else text or type(err).__name__
    text = re.sub(r"<[^>]+>: ", "", text.splitlines()[0])
    return text if len(text) <= 160 else text[:157] + "..."


class _Deadline:
    """Ends a download that runs past ``seconds``: a timer shuts down the download's sockets, so that a read
    blocked on a trickling server returns at once.

    Attributes
    ----------
    seconds : float
        The limit.
    fired : bool
        Whether the limit was reached (the download must then fail, whatever its reads returned).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the limit is reached (at once if it was)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection that hands its socket to its class's :class:`_Deadline` once connected."""

    deadline: _Deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that hands its socket to its class's :class:`_Deadline` once connected (after the TLS
    handshake, which the connect timeout bounds)."""

    deadline: _Deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) are watched by one
    :class:`_Deadline`."""

    def __init__(self, deadline: _Deadline) -> None:
        watched = {"deadline": deadline}
        self._pools = {
            "http": type("Pool", (HTTPConnectionPool,),
                         {"ConnectionCls": type("Connection", (_WatchedHTTPConnection,), watched)}),
            "https": type("Pool", (HTTPSConnectionPool,),
                          {"ConnectionCls": type("Connection", (_WatchedHTTPSConnection,), watched)}),
        }
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools keep their own classes (no early stop)
            manager.pool_classes_by_scheme = self._pools
        return manager


def _too_slow(deadline: _Deadline, received: int | None = None) -> str:
    got = f"; {received:,} bytes received" if received else ""
    return f"took longer than {deadline.seconds:g} s, the limit for one download{got}"


def _too_large(size: int, limit: int) -> str:
    return f"too large: more than {limit:,} bytes (the limit for one download), got {size:,}"


def _open(url: str, error: ErrorFactory, timeout: float, deadline: _Deadline, max_bytes: int
          ) -> requests.Response:
    """GET ``url`` with its body unread, the connection watched by ``deadline``; any failure is ``error``'s."""
    session = requests.Session()
    adapter = _DeadlineAdapter(deadline)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    try:
        response = session.get(url, timeout=timeout, stream=True)
    except requests.Timeout as err:
        raise error(url, _too_slow(deadline) if deadline.fired else f"timed out after {timeout:g} s", False) from err
    except (requests.RequestException, OSError) as err:
        raise error(url, _too_slow(deadline) if deadline.fired else short_reason(err), False) from err
    finally:
        session.close()  # closes idle connections only; the response keeps its own until closed
    if deadline.fired:  # the headers were cut short by the deadline (urllib3 only warns)
        response.close()
        raise error(url, _too_slow(deadline), False)
    if response.status_code >= 400:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        response.close()
        raise error(url, reason, response.status_code in MISSING_STATUSES)
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        response.close()
        raise error(url, _too_large(int(announced), max_bytes), False)
    return response


def _chunks(response: requests.Response, url: str, error: ErrorFactory, deadline: _Deadline, max_bytes: int
            ) -> Iterator[bytes]:
    """The body of ``response`` in chunks; a broken connection, the deadline or more than ``max_bytes`` raise
    ``error``'s exception (the response is closed in any case)."""
    received = 0
    try:
        for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
            received += len(chunk)
            if deadline.fired:
                break
            if received > max_bytes:
                raise error(url, _too_large(received, max_bytes), False)
            yield chunk
    except (requests.RequestException, OSError) as err:
        if deadline.fired:
            raise error(url, _too_slow(deadline, received), False) from err
        short = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", str(err))
        reason = (f"truncated: {short.group(1)} of {int(short.group(1)) + int(short.group(2))} bytes received" if short
                  else f"connection broken after {received} bytes: {short_reason(err)}")
        raise error(url, reason, False) from err
    finally:
        response.close()
    if deadline.fired:  # the shut-down socket may read as a normal end of the body
        raise error(url, _too_slow(deadline, received), False)


def get(url: str, error: ErrorFactory, timeout: float = DEFAULT_TIMEOUT, *, require_content: bool = False,
        deadline: float | None = None, max_bytes: int | None = None) -> requests.Response:
    """GET ``url`` into memory; any failure becomes the caller's error.

    Parameters
    ----------
    url : str
        What to download.
    error : ErrorFactory
        Builds the exception raised on failure.
    timeout : float
        Seconds to wait for the connection and for each read.
    require_content : bool
        Treat a body that is empty or only white space as a failure (``empty response``).
    deadline : float, optional
        Seconds the whole download may take (default :data:`MAX_DOWNLOAD_SECONDS`).
    max_bytes : int, optional
        Largest body accepted (default :data:`MAX_MEMORY_BYTES`).

    Returns
    -------
    requests.Response
        A successful (status < 400) response, its body read (``content``, ``text``).

    Raises
    ------
    DownloadError
        From ``error``: on a network error, a timeout, the deadline, an HTTP error status, a body larger than
        ``max_bytes`` or, with ``require_content``, an empty body.
    """
    max_bytes = MAX_MEMORY_BYTES if max_bytes is None else max_bytes
    with _Deadline(MAX_DOWNLOAD_SECONDS if deadline is None else deadline) as watch:
        response = _open(url, error, timeout, watch, max_bytes)
        content = b"".join(_chunks(response, url, error, watch, max_bytes))
    response._content, response._content_consumed = content, True  # as requests stores a body it read itself
    if require_content and not content.strip():
        raise error(url, "empty response", False)
    return response


def download(url: str, error: ErrorFactory, timeout: float = DEFAULT_TIMEOUT, *, deadline: float | None = None,
             max_bytes: int | None = None) -> Downloaded:
    """Download ``url`` into memory; an empty body is a failure (see :func:`get`)."""
    return Downloaded.of(url, get(url, error, timeout, require_content=True, deadline=deadline,
                                  max_bytes=max_bytes))


def download_to_file(url: str, destination: str | Path, error: ErrorFactory, timeout: float = DEFAULT_TIMEOUT, *,
                     deadline: float | None = None, max_bytes: int | None = None) -> Downloaded:
    """Stream ``url`` into ``destination``, hashing it on the way and checking the size the server announced.

    Parameters
    ----------
    url : str
        What to download.
    destination : str or Path
        The file to write (replaced if it exists).
    error : ErrorFactory
        Builds the exception raised on failure.
    timeout : float
        Seconds to wait for the connection and for each read.
    deadline : float, optional
        Seconds the whole download may take (default :data:`MAX_DOWNLOAD_SECONDS`).
    max_bytes : int, optional
        Largest file accepted (default :data:`MAX_DOWNLOAD_BYTES`).

    Returns
    -------
    Downloaded
        Its URL(s), size and sha256 (no ``content``).

    Raises
    ------
    DownloadError
        From ``error``: a failure of :func:`get`, a connection broken mid-body, fewer bytes than the announced
        ``Content-Length`` (``truncated: ...``), the deadline, more than ``max_bytes`` or an empty body.
        ``destination`` may then hold a partial file: the caller writes into a staging folder it removes
        (:func:`staging_folder`).
    """
    max_bytes = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    digest, received = hashlib.sha256(), 0
    with _Deadline(MAX_DOWNLOAD_SECONDS if deadline is None else deadline) as watch:
        response = _open(url, error, timeout, watch, max_bytes)
        announced = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        with open(destination, "wb") as handle:
            for chunk in _chunks(response, url, error, watch, max_bytes):
                handle.write(chunk)
                digest.update(chunk)
                received += len(chunk)
    if announced is not None and not encoded and announced.isdigit() and int(announced) != received:
        raise error(url, f"truncated: {received} of {announced} bytes received", False)
    if received == 0:
        raise error(url, "empty response", False)
    return Downloaded(url=url, final_url=response.url or url, size=received, sha256=digest.hexdigest())


# ---------------------------------------------------------------------------------------------------------------
# Staging folders


@contextlib.contextmanager
def staging_folder(parent: str | Path, prefix: str) -> Iterator[Path]:
    """A new folder ``<parent>/<prefix>XXXXXXXX`` to download into, locked while the block runs, removed after.

    Staging folders with the same ``prefix`` that a killed process left behind (their lock free) are removed
    first (:func:`remove_abandoned_staging`).

    Parameters
    ----------
    parent : str or Path
        Where the folder goes (beside the cache folder it will fill: same file system, so files move by rename).
    prefix : str
        Start of its name, e.g. ``.GSE98894.download-``.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(parent, prefix)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        with open(folder / STAGING_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned_staging(parent: str | Path, prefix: str) -> list[Path]:
    """Remove the staging folders ``<parent>/<prefix>*`` whose download is no longer running.

    A folder is abandoned when its lock can be taken (the process that held it has ended), or when it has no
    lock file and is older than :data:`UNLOCKED_STAGING_SECONDS`. A download running in another process keeps
    its folder.

    Returns
    -------
    list of Path
        The folders removed.
    """
    parent = Path(parent)
    removed = []
    if not parent.is_dir():
        return removed
    for folder in sorted(parent.iterdir()):
        if folder.name.startswith(prefix) and folder.is_dir() and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        lock = open(folder / STAGING_LOCK)  # read-only: never creates it
    except FileNotFoundError:
        with contextlib.suppress(FileNotFoundError):
            return time.time() - folder.stat().st_mtime > UNLOCKED_STAGING_SECONDS
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
