"""The gene-set cache on disk: what a fetched collection's folder holds, and the checks made when it is reused.

A fetched collection is a folder ``<geneset_cache>/<cache key>/`` (:func:`.registry.cache_key`) holding
``genesets.gmt`` and ``manifest.yaml``, which records the GMT's sha256 (:func:`.common.write_outputs`).
:func:`verify_cached_gmt` checks the GMT against it each time the collection is read again, so a file changed or
damaged since the download is never analysed as if it were the download. :func:`remove_leftovers` removes what a
killed fetch left in the folder. Light (standard library and yaml), like :mod:`.registry`.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from target_rationale.core.errors import InputError
from target_rationale.core.io import stale_temporaries
from target_rationale.core.schema import load_yaml

#: File names written into a collection's cache folder.
GMT_NAME = "genesets.gmt"
MANIFEST_NAME = "manifest.yaml"


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_cached_gmt(gmt_path: str | Path) -> dict | None:
    """Check a downloaded collection's GMT against the sha256 its ``manifest.yaml`` recorded when it was fetched.

    A GMT is a cached download when a ``manifest.yaml`` beside it records it (``gmt: {file: <its name>, sha256}``),
    or when it is named ``genesets.gmt`` and has a ``manifest.yaml`` beside it. Any other GMT (the shipped GO
    files, a user's own) is not checked here.

    Parameters
    ----------
    gmt_path : str or Path
        The GMT a ``collection`` job is about to read.

    Returns
    -------
    dict or None
        The manifest, when the GMT is a cached download and matches it; None when it is not a cached download.

    Raises
    ------
    InputError
        One line naming the cache folder: the manifest cannot be read or records no sha256, or the GMT does not
        match it (changed or damaged since the download); the fix is to delete the folder to download again.
    """
    gmt_path = Path(gmt_path)
    manifest_path = gmt_path.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        return None
    folder = gmt_path.parent
    fix = f"delete the folder '{folder}' to download the collection again"
    try:
        manifest = load_yaml(manifest_path, "manifest")
    except ValueError as err:
        if gmt_path.name != GMT_NAME:
            return None
        raise InputError(f"gene-set cache '{folder}': {err}; {fix}") from err
    entry = manifest.get("gmt") if isinstance(manifest, dict) else None
    if not isinstance(entry, dict) or entry.get("file") != gmt_path.name:
        if gmt_path.name != GMT_NAME:
            return None
        raise InputError(f"gene-set cache '{folder}': {MANIFEST_NAME} records no checksum of {GMT_NAME} (gmt: "
                         f"{{file, sha256}}); {fix}")
    if not gmt_path.is_file():
        raise InputError(f"gene-set cache '{folder}': '{gmt_path.name}' is missing; {fix}")
    if sha256_of(gmt_path) != entry.get("sha256"):
        raise InputError(f"gene-set cache '{folder}': '{gmt_path.name}' does not match the sha256 recorded in "
                         f"{MANIFEST_NAME} when it was downloaded (changed or damaged since); {fix}")
    return manifest


def remove_leftovers(out_dir: str | Path) -> list[Path]:
    """Remove the temporary files a killed fetch left in a collection's folder (``.genesets.gmt.XXXXXXXX.gmt``,
    ``.manifest.yaml.XXXXXXXX.yaml`` from :func:`target_rationale.core.io.write_atomic`).

    Returns
    -------
    list of Path
        The files removed.
    """
    removed = []
    for name in (GMT_NAME, MANIFEST_NAME):
        for stale in stale_temporaries(Path(out_dir) / name):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                removed.append(stale)
    return removed
