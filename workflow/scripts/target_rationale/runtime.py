"""What every rule script shares: logging to the rule's log file and atomic output writes."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

LOG = logging.getLogger("target_rationale")


@contextlib.contextmanager
def script_logging(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send the package's log lines to ``log_path``; on failure end the log with one line saying why.

    The traceback goes to the log before that last line, and the exception is re-raised so the job fails.
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
        raise
    finally:
        LOG.removeHandler(handler)
        handler.close()


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` via ``write(temporary_path)`` then rename, so a failed job never leaves half a file.

    The temporary file sits in the same folder (same file system, so the rename is atomic) and keeps the
    final suffix, so writers that choose a format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_tsv(table, path: str | Path, index: bool = False) -> None:
    """Write a pandas table as TSV atomically, with a fixed float format so reruns are byte-identical."""
    write_atomic(path, lambda tmp: table.to_csv(tmp, sep="\t", index=index, float_format="%.6g",
                                                lineterminator="\n"))

