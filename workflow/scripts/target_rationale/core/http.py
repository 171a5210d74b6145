"""HTTP downloads for the online inputs (gene-set collections, GEO series): one request helper for every caller.

Every request has a timeout; every failure (network error, timeout, HTTP error status, empty or truncated body)
becomes one exception whose message the caller words: the caller passes an ``error`` function
(:data:`ErrorFactory`) that turns ``(url, reason, missing)`` into its own subclass of :class:`DownloadError`
(``FetchError`` for gene sets, ``GeoDownloadError`` for GEO), with the fix that suits it. ``reason`` is short and
the same for every caller: ``timed out after 60 s``, ``Connection refused``, ``HTTP 404 Not Found``,
``empty response``, ``truncated: 120 of 4096 bytes received`` ...
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests

#: Seconds to wait for a connection and for each read before giving up.
DEFAULT_TIMEOUT = 60.0
#: HTTP statuses that mean the server has no such file (rather than a failure worth retrying).
MISSING_STATUSES = (404, 410)
#: Bytes read from the network (and hashed) at a time when streaming into a file.
CHUNK_SIZE = 1 << 20


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


def get(url: str, error: ErrorFactory, timeout: float = DEFAULT_TIMEOUT, *, stream: bool = False,
        require_content: bool = False) -> requests.Response:
    """GET ``url``; any failure becomes the caller's error.

    Parameters
    ----------
    url : str
        What to download.
    error : ErrorFactory
        Builds the exception raised on failure.
    timeout : float
        Seconds to wait for the connection and for each read.
    stream : bool
        Leave the body unread (for :func:`download_to_file`); the caller must close the response.
    require_content : bool
        Treat a body that is empty or only white space as a failure (``empty response``).

    Returns
    -------
    requests.Response
        A successful (status < 400) response.

    Raises
    ------
    DownloadError
        From ``error``: on a network error, a timeout, an HTTP error status (the response is closed) or, with
        ``require_content``, an empty body.
    """
    try:
        response = requests.get(url, timeout=timeout, stream=stream)
    except requests.Timeout as err:
        raise error(url, f"timed out after {timeout:g} s", False) from err
    except (requests.RequestException, OSError) as err:
        raise error(url, short_reason(err), False) from err
    if response.status_code >= 400:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        response.close()
        raise error(url, reason, response.status_code in MISSING_STATUSES)
    if require_content and not response.content.strip():
        raise error(url, "empty response", False)
    return response


def download(url: str, error: ErrorFactory, timeout: float = DEFAULT_TIMEOUT) -> Downloaded:
    """Download ``url`` into memory; an empty body is a failure (see :func:`get`)."""
    return Downloaded.of(url, get(url, error, timeout, require_content=True))


def download_to_file(url: str, destination: str | Path, error: ErrorFactory,
                     timeout: float = DEFAULT_TIMEOUT) -> Downloaded:
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

    Returns
    -------
    Downloaded
        Its URL(s), size and sha256 (no ``content``).

    Raises
    ------
    DownloadError
        From ``error``: a failure of :func:`get`, a connection broken mid-body, fewer bytes than the announced
        ``Content-Length`` (``truncated: ...``) or an empty body. ``destination`` may then hold a partial file:
        the caller writes into a staging folder it removes.
    """
    response = get(url, error, timeout, stream=True)
    digest, received = hashlib.sha256(), 0
    announced = response.headers.get("Content-Length")
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    try:
        with open(destination, "wb") as handle:
            for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
                handle.write(chunk)
                digest.update(chunk)
                received += len(chunk)
    except (requests.RequestException, OSError) as err:
        short = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", str(err))
        reason = (f"truncated: {short.group(1)} of {int(short.group(1)) + int(short.group(2))} bytes received" if short
                  else f"connection broken after {received} bytes: {short_reason(err)}")
        raise error(url, reason, False) from err
    finally:
        response.close()
    if announced is not None and not encoded and announced.isdigit() and int(announced) != received:
        raise error(url, f"truncated: {received} of {announced} bytes received", False)
    if received == 0:
        raise error(url, "empty response", False)
    return Downloaded(url=url, final_url=response.url or url, size=received, sha256=digest.hexdigest())
