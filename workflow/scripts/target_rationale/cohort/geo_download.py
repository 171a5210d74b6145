"""Download a GEO series into the checksummed cache (rule ``geo_download``), and read the cache back.

:func:`download_series` downloads the series' RAW tar (``<GSE>_RAW.tar``: one file per sample, named
``GSM<digits>_<anything>``) and every series matrix over HTTPS into ``<cache>/<GSE>/``, checks them (the byte
count the server announced, the tar's member list, the matrices' samples) and writes ``manifest.yaml`` last, with
the URL, size and sha256 of every file. Any failure raises :class:`GeoDownloadError` (one line: the series, the
URL, the reason, the fix) and leaves nothing in the cache. :func:`read_cache_manifest` checks the cached files
against the manifest before they are imported.

A server may end a body early without saying how long it was (no ``Content-Length``), so the tar is only cached
when it ends as a tar ends (every member's data present, then the two zero blocks that close an archive) and
holds a file of every sample the series matrices list (:func:`check_raw_tar`).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import yaml

from target_rationale.cohort.geo_series import (
    GEO_SERIES_URL,
    GSM_PREFIX,
    decode_matrix,
    find_series_matrices,
    matrix_folder_url,
    parse_series_matrix,
    raw_tar_url,
)
from target_rationale.cohort.import_plan import CACHE_MANIFEST, check_accession
from target_rationale.core import http
from target_rationale.core.errors import InputError, listing
from target_rationale.core.http import DEFAULT_TIMEOUT, DownloadError, ErrorFactory, utc_timestamp
from target_rationale.core.io import write_atomic
from target_rationale.core.jobs import LOG

GEO_TERMS = ("NCBI places no restrictions on the use or distribution of GEO data; submitters may claim rights "
             "in their data (https://www.ncbi.nlm.nih.gov/geo/info/disclaimer.html). Cite the series' publication.")


class GeoDownloadError(DownloadError):
    """A GEO file could not be downloaded, or what arrived was not what GEO serves.

    Attributes
    ----------
    accession : str
        The series (``GSE98894``).
    url : str
        The URL that failed.
    reason : str
        Short reason (``HTTP 404 Not Found``, ``truncated: 120 of 4096 bytes received`` ...).
    """

    def __init__(self, accession: str, url: str, reason: str, fix: str) -> None:
        self.accession = accession
        super().__init__(f"GEO series {accession}: cannot download {url} ({reason}); {fix}; nothing was cached", url,
                         reason)


def _offline_fix(accession: str) -> str:
    return ("this step needs internet: connect and run again, or download the series' RAW tar and series matrix "
            f"yourself and use `cohort: {{folder: {accession}_RAW.tar, samples: {accession}_series_matrix.txt.gz}}`")


def _cut_short_fix(accession: str) -> str:
    return ("the download may have been cut short: run again, or download the series' RAW tar and series matrix "
            f"yourself and use `cohort: {{folder: {accession}_RAW.tar, samples: {accession}_series_matrix.txt.gz}}`")


def _missing_fix(accession: str) -> str:
    return f"GEO has no such file: check the accession '{accession}' and that the series has a RAW tar of counts"


def download_error(accession: str) -> ErrorFactory:
    """How :mod:`target_rationale.core.http` reports a failed download of the series: a
    :class:`GeoDownloadError` whose fix is to check the accession (no such file) or to connect."""
    def error(url: str, reason: str, missing: bool) -> GeoDownloadError:
        return GeoDownloadError(accession, url, reason, _missing_fix(accession) if missing else _offline_fix(accession))

    return error


def download_file(url: str, destination: str | Path, accession: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Stream ``url`` into ``destination``, checking the size the server announced.

    Returns
    -------
    dict
        ``{file, url, bytes, sha256}`` (and ``redirected_to`` if a redirect led elsewhere).

    Raises
    ------
    GeoDownloadError
        Network failure, HTTP error, an empty or truncated body. ``destination`` may then hold a partial file:
        the caller downloads into a staging folder it removes.
    """
    destination = Path(destination)
    downloaded = http.download_to_file(url, destination, download_error(accession), timeout)
    return {"file": destination.name, **downloaded.record()}


#: Bytes of zeros that close a tar archive (two 512-byte blocks, POSIX.1).
TAR_END = 2 * tarfile.BLOCKSIZE


def check_raw_tar(path: str | Path, accession: str, url: str, listed: set[str] | None = None) -> int:
    """Number of per-sample (``GSM...``) files in a downloaded RAW tar, checked to be whole.

    Parameters
    ----------
    path : str or Path
        The downloaded tar.
    accession : str
        The series, for messages.
    url : str
        Where it came from, for messages.
    listed : set of str, optional
        GSM ids the series matrices list; each must have a file in the tar.

    Raises
    ------
    GeoDownloadError
        It is not a tar, a member's data or the end-of-archive blocks are missing (a body cut short), it holds no
        ``GSM...`` file, or it lacks a file of a listed sample.
    """
    truncated = _cut_short_fix(accession)
    try:
        with tarfile.open(path) as archive:
            names = []
            for member in archive:
                if member.isfile():
                    names.append(member.name)
                    with archive.extractfile(member) as data:  # reads to its end, or raises if the body was cut
                        while data.read(1 << 20):
                            pass
            archive.fileobj.seek(archive.offset)
            end = archive.fileobj.read(TAR_END)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise GeoDownloadError(accession, url, f"not a readable tar archive ({err})", truncated) from err
    if len(end) < TAR_END or end.strip(b"\0"):
        raise GeoDownloadError(accession, url, f"the tar ends after {len(names)} file(s) without its end-of-archive "
                                                "blocks", truncated)
    samples = {n.rsplit("/", 1)[-1] for n in names if GSM_PREFIX.match(n.rsplit("/", 1)[-1])}
    if not samples:
        raise GeoDownloadError(accession, url, f"the tar holds no GSM... file (members: {listing(names)})",
                               "the series may not publish per-sample files; use a local folder instead")
    present = {GSM_PREFIX.match(name).group(1) for name in samples}
    missing = sorted((listed or set()) - present)
    if missing:
        raise GeoDownloadError(accession, url, f"the tar lacks the file(s) of {len(missing)} sample(s) the series "
                                                f"matrix lists ({listing(missing)})",
                               f"{truncated}, with a `filter` that leaves out the samples without a file")
    return len(samples)


def download_series(accession: str, cache_dir: str | Path, base_url: str = GEO_SERIES_URL,
                    timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Download a series' RAW tar and series matrices into ``cache_dir``; write ``manifest.yaml`` last.

    Everything is downloaded into a staging folder beside ``cache_dir``
    (:func:`target_rationale.core.http.staging_folder`, which first removes the staging folders of downloads that
    were killed) and checked there; only then are the files moved into ``cache_dir`` and the manifest written. On
    any failure the staging folder is removed and ``cache_dir`` holds nothing new (a folder this call created is
    removed again).

    Parameters
    ----------
    accession : str
        ``GSE98894``.
    cache_dir : str or Path
        The series' cache folder (``<cache>/<GSE>``).
    base_url : str
        Root of the series folders (``https://ftp.ncbi.nlm.nih.gov/geo/series/``; a mirror or a test server).
    timeout : float
        Seconds per connection / read.

    Returns
    -------
    dict
        The manifest: accession, date, and ``{file, url, bytes, sha256}`` of the tar and of every matrix.

    Raises
    ------
    GeoDownloadError
        One line naming the series, the URL, the reason and the fix.
    """
    accession = check_accession(accession)
    cache_dir = Path(cache_dir)
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    created = not cache_dir.exists()
    moved: list[Path] = []
    with http.staging_folder(cache_dir.parent, f".{accession}.download-") as staging:
        try:
            fetched_at = utc_timestamp()
            listing_url = matrix_folder_url(accession, base_url)
            response = http.get(listing_url, download_error(accession), timeout)
            try:
                names = find_series_matrices(response.text, accession)
            except ValueError as err:
                raise GeoDownloadError(accession, listing_url, str(err), _missing_fix(accession)) from err
            matrices, listed = [], set()
            for name in names:
                url = listing_url + name
                entry = download_file(url, staging / name, accession, timeout)
                try:
                    metadata = parse_series_matrix(decode_matrix((staging / name).read_bytes(), name), name)
                except ValueError as err:
                    raise GeoDownloadError(accession, url, f"unexpected content: {err}",
                                           _offline_fix(accession)) from err
                platforms = sorted({p for p in metadata["platform"] if p})
                matrices.append({**entry, "n_samples": int(len(metadata)), "platforms": platforms})
                listed.update(str(sample) for sample in metadata.index)
            url = raw_tar_url(accession, base_url)
            tar_entry = download_file(url, staging / f"{accession}_RAW.tar", accession, timeout)
            tar_entry["n_sample_files"] = check_raw_tar(staging / tar_entry["file"], accession, url, listed)
            manifest = {"accession": accession, "source": "NCBI GEO (https://www.ncbi.nlm.nih.gov/geo/)",
                        "date_fetched": fetched_at, "raw_tar": tar_entry, "series_matrices": matrices,
                        "terms": GEO_TERMS}
            text = ("# Written by workflow/scripts/target_rationale/cohort/geo_download.py (rule geo_download). A "
                    "cache: delete this folder to download again.\n"
                    + yaml.safe_dump(manifest, sort_keys=False, width=120))
            cache_dir.mkdir(parents=True, exist_ok=True)
            for entry in [*matrices, tar_entry]:
                target = cache_dir / entry["file"]
                os.replace(staging / entry["file"], target)
                moved.append(target)
            write_atomic(cache_dir / CACHE_MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        except BaseException:
            for path in moved:
                path.unlink(missing_ok=True)
            if created and cache_dir.exists() and not any(cache_dir.iterdir()):
                cache_dir.rmdir()
            raise
    LOG.info("GEO series %s downloaded into %s: %s (%d bytes, %d sample files), %s", accession, cache_dir,
             tar_entry["file"], tar_entry["bytes"], tar_entry["n_sample_files"],
             ", ".join(f"{m['file']} ({m['n_samples']} samples)" for m in matrices))
    return manifest


def read_cache_manifest(cache_dir: str | Path, verify: bool = True) -> dict:
    """The manifest of a series' cache folder, its files checked against the recorded sizes and sha256.

    Raises
    ------
    InputError
        No manifest, or a file missing or changed since it was downloaded (fix: delete the folder).
    """
    cache_dir = Path(cache_dir)
    path = cache_dir / CACHE_MANIFEST
    fix = "delete the folder to download the series again"
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"GEO cache '{cache_dir}': cannot read {CACHE_MANIFEST} ({err}); {fix}") from err
    if not isinstance(manifest, dict) or not {"accession", "raw_tar", "series_matrices"} <= set(manifest):
        raise InputError(f"GEO cache '{cache_dir}': {CACHE_MANIFEST} lacks accession / raw_tar / series_matrices; "
                         f"{fix}")
    for entry in [manifest["raw_tar"], *manifest["series_matrices"]]:
        file = cache_dir / entry["file"]
        if not file.is_file():
            raise InputError(f"GEO cache '{cache_dir}': '{entry['file']}' is missing; {fix}")
        if verify:
            digest = hashlib.sha256()
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() != entry["sha256"]:
                raise InputError(f"GEO cache '{cache_dir}': '{entry['file']}' does not match the sha256 recorded "
                                 f"when it was downloaded (changed or corrupt); {fix}")
    return manifest
