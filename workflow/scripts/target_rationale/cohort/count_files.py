"""Per-sample count files (one HTSeq-count, featureCounts or one-column file per sample, plain or gzipped) in a
folder or a tar archive such as a GEO ``<GSE>_RAW.tar``: listing them, matching them to the sample sheet and
combining them into one genes x samples matrix, each read by the workflow's one counts loader
(:func:`target_rationale.cohort.tables.read_counts_text`; ``__`` summary rows dropped and reported).
"""

from __future__ import annotations

import fnmatch
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from target_rationale.cohort import tables
from target_rationale.cohort.tables import CountMatrix, decode_table_bytes, per_sample_file_stem, read_counts_text
from target_rationale.core.errors import MAX_LISTED, InputError, listing


@dataclass(frozen=True)
class CountFiles:
    """Per-sample count files in a folder or a tar archive, read as bytes on request."""

    location: Path
    names: list[str]

    @property
    def is_tar(self) -> bool:
        return self.location.is_file()

    def label(self, name: str) -> str:
        """How messages name one file: ``archive.tar:member`` or the path in the folder."""
        return f"{self.location}:{name}" if self.is_tar else str(self.location / name)

    def read(self, names: Iterable[str]) -> dict[str, bytes]:
        """The bytes of the named files.

        Raises
        ------
        InputError
            If a file is larger than :data:`target_rationale.cohort.tables.MAX_UNCOMPRESSED_BYTES` (a tar
            compressed as a whole, ``.tar.gz``, could otherwise expand a member of zeros into memory); gzipped
            files are capped as they are gunzipped (:func:`.tables.decode_table_bytes`).
        """
        wanted = list(names)
        if not self.is_tar:
            for name in wanted:
                self._check_size(name, (self.location / name).stat().st_size)
            return {name: (self.location / name).read_bytes() for name in wanted}
        found: dict[str, bytes] = {}
        with tarfile.open(self.location) as archive:
            for member in archive:
                if member.name in wanted and member.isfile():
                    self._check_size(member.name, member.size)
                    handle = archive.extractfile(member)
                    found[member.name] = handle.read() if handle else b""
        return found

    def _check_size(self, name: str, size: int) -> None:
        limit = tables.MAX_UNCOMPRESSED_BYTES
        if size > limit:
            raise InputError(f"counts file '{self.label(name)}' is {size} bytes, more than the workflow's limit "
                             f"of {limit} (MAX_UNCOMPRESSED_BYTES in target_rationale/cohort/tables.py; no per-sample "
                             "count file comes near it): leave it out with cohort.files (a pattern such as "
                             "'*_counts.txt.gz')")


def list_count_files(location: str | Path, pattern: str = "*") -> CountFiles:
    """The files of a folder (not its sub-folders), or the file members of a tar archive, matching ``pattern``.

    Raises
    ------
    InputError
        If ``location`` does not exist, is not a folder or a readable tar, or no file matches.
    """
    location = Path(location)
    if not location.exists():
        raise InputError(f"config: cohort.folder: '{location}' does not exist; give a folder of per-sample count "
                         "files or a tar of them (such as a GEO <GSE>_RAW.tar)")
    if location.is_dir():
        names = sorted(p.name for p in location.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        try:
            with tarfile.open(location) as archive:
                names = sorted(m.name for m in archive.getmembers() if m.isfile())
        except (tarfile.TarError, OSError, EOFError) as err:
            raise InputError(f"config: cohort.folder: '{location}' is neither a folder nor a readable tar archive "
                             f"({err}); give a folder of per-sample count files or a .tar of them") from err
    matching = [n for n in names if fnmatch.fnmatch(n.rsplit("/", 1)[-1], pattern)]
    if not matching:
        raise InputError(f"config: cohort: no file in '{location}' matches files '{pattern}' (files: "
                         f"{listing(names)}); give the right folder or pattern")
    return CountFiles(location=location, names=matching)


def match_files(keys: pd.Series, files: CountFiles, by: str) -> pd.Series:
    """Each sample's count file: the file whose name (without folders and extensions) is the key, or else the
    one file whose name starts with the key and ``_``, ``.`` or ``-``.

    Parameters
    ----------
    keys : pandas.Series
        The key of each sample (GSM id, sample name or the sheet's ``file`` value), indexed by sample.
    files : CountFiles
    by : str
        What the keys are, for messages (``GSM id``, ``sample name``, ``column 'file'``).

    Raises
    ------
    InputError
        Samples with no file or with several (naming them and the fix).
    """
    stems = {name: per_sample_file_stem(name) for name in files.names}
    base = {name: name.rsplit("/", 1)[-1] for name in files.names}
    matched: dict[str, str] = {}
    missing, ambiguous = [], []
    for sample, key in keys.items():
        if not key:
            missing.append(str(sample))
            continue
        exact = [n for n in files.names if base[n] == key or stems[n] == key]
        hits = exact or [n for n in files.names if re.match(rf"{re.escape(key)}[_.\-]", base[n])]
        if len(hits) == 1:
            matched[sample] = hits[0]
        elif hits:
            ambiguous.append(f"'{sample}' ({listing(hits, 3)})")
        else:
            missing.append(str(sample))
    problems = []
    if missing:
        problems.append(f"config: cohort: sample(s) {listing(missing)} have no count file in '{files.location}' "
                        f"(matched by {by}); add the files, or leave the samples out with cohort.filter")
    if ambiguous:
        problems.append(f"config: cohort: sample(s) {'; '.join(ambiguous[:MAX_LISTED])} match several files in "
                        f"'{files.location}'; narrow them with cohort.files (a pattern such as '*_counts.txt.gz')"
                        " or name each sample's file in a 'file' column of the sample sheet")
    if problems:
        raise InputError(problems)
    return pd.Series(matched, name="file").reindex(keys.index)


def combine_sample_counts(matrices: Mapping[str, CountMatrix], labels: Mapping[str, str]) -> pd.DataFrame:
    """Genes x samples ``int64`` from one-sample matrices that must list the same genes.

    Raises
    ------
    InputError
        If a sample's gene ids differ from the first sample's (naming both files and a few ids).
    """
    samples = list(matrices)
    first = matrices[samples[0]].counts.index
    columns = {}
    for sample in samples:
        counts = matrices[sample].counts
        if not counts.index.equals(first):
            if set(counts.index) != set(first):
                only_here = [g for g in counts.index if g not in set(first)]
                only_first = [g for g in first if g not in set(counts.index)]
                raise InputError(f"counts file '{labels[sample]}' lists other genes than '{labels[samples[0]]}' "
                                 f"(only here: {len(only_here)}, e.g. {listing(only_here, 3)}; only there: "
                                 f"{len(only_first)}, e.g. {listing(only_first, 3)}); count every sample with the "
                                 "same annotation")
            counts = counts.loc[first]
        columns[sample] = counts.iloc[:, 0].to_numpy()
    return pd.DataFrame(columns, index=first.copy()).astype(np.int64)


def read_sample_counts(files: CountFiles, file_of: pd.Series) -> tuple[pd.DataFrame, list[dict]]:
    """Counts (genes x samples) and per-sample file records of the matched files, via the one counts loader."""
    contents = files.read(file_of.to_numpy())
    matrices: dict[str, CountMatrix] = {}
    labels: dict[str, str] = {}
    records = []
    for sample, name in file_of.items():
        label = labels[sample] = files.label(name)
        matrix = read_counts_text(decode_table_bytes(contents[name], label, "counts"), label, sample=str(sample))
        matrices[str(sample)] = matrix
        record = {"sample": str(sample), "file": name, "format": matrix.source_format,
                  "genes": int(len(matrix.counts)), "assigned": int(matrix.counts.iloc[:, 0].sum())}
        if matrix.summary_rows is not None:
            record.update({k: int(v) for k, v in matrix.summary_rows.iloc[:, 0].items()})
        records.append(record)
    return combine_sample_counts(matrices, labels), records
