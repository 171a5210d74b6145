"""Writing and reading the workflow's own files: atomic writes (a failed or killed job never leaves half a
file) and one reader of its tables that keeps ids as text."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def _read_umask() -> int:
    """The process's file-creation mask (read by setting it and restoring it at once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def stale_temporaries(path: Path) -> list[Path]:
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
    for stale in stale_temporaries(path):
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



#: Columns of the workflow's own tables that hold names (ids, symbols, samples, terms, levels): always text.
TEXT_COLUMNS = ("gene_id", "symbol", "sample", "patient", "term_id", "term_name", "contrast", "axis", "therapy",
                "drugs", "covers", "uncovered", "leading_edge", "genes", "best_term", "best_term_name", "role")


def read_tsv(path: str | Path, text: tuple[str, ...] = TEXT_COLUMNS, na_values: list[str] | None = None,
             **kwargs) -> pd.DataFrame:
    """Read a table the workflow wrote, with NA parsing off.

    Only empty cells are missing values: a gene called ``NA``, ``NaN``, ``null`` or ``#N/A`` stays that text
    (pandas' default NA parsing would turn it into a missing value and break every later step). Columns named in
    ``text`` are read as strings; other columns get pandas' type inference. ``na_values=[]`` keeps empty cells as
    empty strings too.
    """
    dtype = {column: str for column in text} | kwargs.pop("dtype", {})
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""] if na_values is None else na_values,
                       dtype=dtype, **kwargs)
