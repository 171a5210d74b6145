"""What every rule script shares: logging to the rule's log file and atomic output writes."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

LOG = logging.getLogger("target_rationale")


@contextlib.contextmanager
def script_logging(log_path: str | Path, outputs: Iterable[str | Path] = ()) -> Iterator[logging.Logger]:
    """Send the package's log lines to ``log_path``; on failure end the log with one line saying why.

    The traceback goes to the log before that last line, and the exception is re-raised so the job fails.
    On failure the job's ``outputs`` that exist are deleted as well: each is written atomically, but a job with
    several outputs may have finished some of them, and a failed job should leave none of its files behind
    (Snakemake deletes them too, but only when it is the one that sees the job fail).
    """
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    try:
        yield LOG
    except BaseException as err:
        LOG.error("traceback:\n%s", traceback.format_exc().rstrip())
        LOG.error("FAILED: %s: %s", type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        removed = [str(p) for p in map(Path, outputs) if p.is_file()]
        for path in removed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if removed:
            LOG.error("removed the outputs this job had written: %s", ", ".join(removed))
        raise
    finally:
        LOG.removeHandler(handler)
        handler.close()


def _read_umask() -> int:
    """The process's file-creation mask (read by setting it and restoring it at once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _stale_temporaries(path: Path) -> list[Path]:
    """Temporary files that :func:`write_atomic` left for ``path`` when its process was killed (``kill -9``)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}{re.escape(path.suffix)}")
    if not path.parent.is_dir():
        return []
    return [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` via ``write(temporary_path)`` then rename, so a failed job never leaves half a file.

    The temporary file sits in the same folder (same file system, so the rename is atomic) and keeps the
    final suffix, so writers that choose a format by suffix still work. It gets the permissions an ordinary
    new file would get (``0666`` minus the umask; ``mkstemp`` alone would leave it readable by its owner only),
    and temporaries of ``path`` left by an earlier process that was killed mid-write are removed first. The
    rename makes the file appear whole or not at all for a crashed process; it is not flushed to disk, so a
    power cut can still lose it (Snakemake then reruns the job, whose output is marked incomplete).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temporaries(path):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_tsv(table, path: str | Path, index: bool = False) -> None:
    """Write a pandas table as TSV atomically, with a fixed float format so reruns are byte-identical."""
    write_atomic(path, lambda tmp: table.to_csv(tmp, sep="\t", index=index, float_format="%.6g",
                                                lineterminator="\n"))

