"""Import a public cohort from GEO, or the same per-sample count files from a local folder.

A GEO series with RNA-seq counts (such as GSE98894, Alvarez et al. 2018) publishes them as ``<GSE>_RAW.tar``: one
file per sample, named ``GSM<digits>_<anything>``, holding HTSeq-count output (two columns, gene id and count,
then ``__no_feature``, ``__ambiguous``, ``__too_low_aQual``, ``__not_aligned``, ``__alignment_not_unique``
summary rows). Its sample metadata are in the series matrix (``<GSE>_series_matrix.txt.gz``, or one
``<GSE>-GPL<digits>_series_matrix.txt.gz`` per platform when the series spans several): tab-separated rows such
as ``!Sample_geo_accession``, ``!Sample_title`` and one ``!Sample_characteristics_ch1`` row per characteristic
with ``"key: value"`` cells.

Two steps, two rules:

:func:`download_series` (rule ``geo_download``)
    Downloads the RAW tar and every series matrix over HTTPS into ``<cache>/<GSE>/``, checks them (the byte count
    the server announced, the tar's member list, the matrices' samples) and writes ``manifest.yaml`` last, with
    the URL, size and sha256 of every file. Any failure raises :class:`GeoDownloadError` (one line: the series,
    the URL, the reason, the fix) and leaves nothing in the cache.
:func:`import_cohort` (rule ``import_cohort``)
    Reads the cached files (checked against the manifest's sha256) or a local folder / tar of per-sample files
    with a sample sheet or a series matrix, keeps the samples the filter selects, and writes the genes x samples
    count matrix, the sample sheet and a record of the import, which the workflow then validates like any
    user-given cohort. Problems in the user's files or filter raise
    :class:`target_rationale.cohort.InputError`.

Per-sample files are parsed by :func:`target_rationale.cohort.read_counts_text`, the workflow's one counts
loader (HTSeq-count, featureCounts or a one-column table; ``__`` rows dropped and reported).
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import yaml

from .cohort import (
    MAX_LISTED,
    CountMatrix,
    InputError,
    decode_table_bytes,
    listing,
    per_sample_file_stem,
    read_counts_text,
    read_sample_sheet,
)
from .fetch import _short_reason
from .runtime import LOG, write_atomic

#: Root of GEO's series folders (``<root>/GSE98nnn/GSE98894/...``), over HTTPS.
GEO_SERIES_URL = "https://ftp.ncbi.nlm.nih.gov/geo/series/"
#: Where downloads are cached unless the config says otherwise (``cohort.cache``).
DEFAULT_CACHE = "resources/geo/cache"
#: Seconds to wait for a connection and for each read.
DEFAULT_TIMEOUT = 60.0
#: The cache folder's record of what was downloaded; written last, so a cache without it is incomplete.
CACHE_MANIFEST = "manifest.yaml"
ACCESSION = re.compile(r"^GSE[1-9]\d*$")
GSM_PREFIX = re.compile(r"^(GSM\d+)(?=$|[_.\-])")
#: Sheet columns of an imported GEO series, before one column per characteristic.
GEO_COLUMNS = ("sample", "geo_accession", "title", "source_name", "platform")
#: Series-matrix rows (without ``!Sample_``) that become those columns.
GEO_ROWS = {"geo_accession": "geo_accession", "title": "title", "source_name_ch1": "source_name",
            "platform_id": "platform"}
GEO_TERMS = ("NCBI places no restrictions on the use or distribution of GEO data; submitters may claim rights "
             "in their data (https://www.ncbi.nlm.nih.gov/geo/info/disclaimer.html). Cite the series' publication.")


class GeoDownloadError(RuntimeError):
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
        self.accession, self.url, self.reason = accession, url, reason
        super().__init__(f"GEO series {accession}: cannot download {url} ({reason}); {fix}; nothing was cached")


def _offline_fix(accession: str) -> str:
    return ("this step needs internet: connect and run again, or download the series' RAW tar and series matrix "
            f"yourself and use `cohort: {{folder: {accession}_RAW.tar, samples: {accession}_series_matrix.txt.gz}}`")


def _missing_fix(accession: str) -> str:
    return f"GEO has no such file: check the accession '{accession}' and that the series has a RAW tar of counts"


# ---------------------------------------------------------------------------------------------------------------
# Where GEO keeps a series


def check_accession(accession: str) -> str:
    """``accession`` stripped and upper-cased, if it is a GEO series id (``GSE`` + digits).

    Raises
    ------
    InputError
        Otherwise (it names the config key and the expected form).
    """
    value = str(accession).strip().upper()
    if not ACCESSION.match(value):
        raise InputError(f"config: cohort.geo = {accession!r} is not a GEO series accession; write it like "
                         "GSE98894")
    return value


def series_url(accession: str, base_url: str = GEO_SERIES_URL) -> str:
    """The series' folder: ``<base>/GSE98nnn/GSE98894/`` (the last three digits become ``nnn``, as GEO does)."""
    accession = check_accession(accession)
    stub = re.sub(r"\d{1,3}$", "nnn", accession)
    return f"{base_url.rstrip('/')}/{stub}/{accession}/"


def raw_tar_url(accession: str, base_url: str = GEO_SERIES_URL) -> str:
    """``<series>/suppl/<GSE>_RAW.tar``: the tar of every sample's supplementary files."""
    return f"{series_url(accession, base_url)}suppl/{check_accession(accession)}_RAW.tar"


def matrix_folder_url(accession: str, base_url: str = GEO_SERIES_URL) -> str:
    """``<series>/matrix/``: the folder of the series matrix file(s), one per platform."""
    return f"{series_url(accession, base_url)}matrix/"


def series_matrix_name(accession: str, platform: str | None = None) -> str:
    """``GSE98894_series_matrix.txt.gz``, or ``GSE98894-GPL16791_series_matrix.txt.gz`` for one platform."""
    accession = check_accession(accession)
    return f"{accession}{'-' + platform if platform else ''}_series_matrix.txt.gz"


def find_series_matrices(folder_listing: str, accession: str) -> list[str]:
    """The series matrix files a listing of ``<series>/matrix/`` links to (HTML index or plain list of names).

    Returns
    -------
    list of str
        File names, sorted: ``GSE98894_series_matrix.txt.gz`` or one ``GSE98894-GPLnnn_series_matrix.txt.gz``
        per platform.

    Raises
    ------
    ValueError
        If the listing names none.
    """
    accession = check_accession(accession)
    pattern = re.compile(rf"(?<![\w-]){re.escape(accession)}(?:-GPL\d+)?_series_matrix\.txt\.gz(?![\w.])")
    names = sorted(set(pattern.findall(folder_listing)))
    if not names:
        raise ValueError(f"the listing names no {accession}[-GPLnnn]_series_matrix.txt.gz")
    return names


# ---------------------------------------------------------------------------------------------------------------
# Series matrix


def parse_series_matrix(text: str, source: str = "series matrix") -> pd.DataFrame:
    """Sample metadata of a GEO series matrix.

    Parameters
    ----------
    text : str
        The file's text (gunzipped).
    source : str
        How messages name the file.

    Returns
    -------
    pandas.DataFrame
        Indexed by GSM id (``geo_accession``), in file order; columns ``title``, ``source_name``, ``platform``
        (empty text where the file lacks the row), then one column per characteristic key, as GEO writes it
        (``type``, ``origin`` ...), in order of first appearance. Characteristic cells are ``key: value``; a
        sample may give its keys in any row, or leave a cell empty (its value is then missing). A cell without
        ``:`` is kept under ``characteristics_ch1``; a key equal to a fixed column gets `` (characteristic)``;
        a key given twice for one sample has its values joined by ``; ``. Values are stripped text.

    Raises
    ------
    ValueError
        No ``!Sample_geo_accession`` row, an accession that is not ``GSM<digits>`` or occurs twice, or a
        ``!Sample_`` row with another number of cells.
    """
    rows: list[tuple[int, str, list[str]]] = []
    for line_no, fields in enumerate(csv.reader(text.splitlines(), delimiter="\t", quotechar='"'), start=1):
        if not fields:
            continue
        if fields[0].strip().lower() == "!series_matrix_table_begin":
            break
        if fields[0].startswith("!Sample_"):
            rows.append((line_no, fields[0][len("!Sample_"):], [f.strip() for f in fields[1:]]))
    accession_rows = [r for r in rows if r[1] == "geo_accession"]
    if not accession_rows:
        raise ValueError(f"{source}: no !Sample_geo_accession row; is this a GEO series matrix file?")
    accession_line, _, accessions = accession_rows[0]
    while accessions and accessions[-1] == "":
        accessions.pop()
    bad = [a for a in accessions if not re.fullmatch(r"GSM\d+", a)]
    if bad:
        raise ValueError(f"{source}, line {accession_line}: {listing(bad)} are not GSM accessions")
    twice = sorted({a for a in accessions if accessions.count(a) > 1})
    if twice:
        raise ValueError(f"{source}, line {accession_line}: sample(s) {listing(twice)} occur more than once")
    n = len(accessions)
    table: dict[str, list[str | None]] = {column: [""] * n for column in GEO_ROWS.values() if column != "geo_accession"}
    characteristics: dict[str, list[str | None]] = {}
    for line_no, key, cells in rows:
        cells = cells + [""] * (n - len(cells)) if len(cells) < n else cells
        if len(cells) > n and any(cells[n:]):
            raise ValueError(f"{source}, line {line_no}: !Sample_{key} has {len(cells)} cells for {n} samples")
        cells = cells[:n]
        if key in GEO_ROWS and key != "geo_accession":
            table[GEO_ROWS[key]] = list(cells)
        elif key.startswith("characteristics_ch"):
            for j, cell in enumerate(cells):
                if not cell:
                    continue
                name, sep, value = cell.partition(":")
                name, value = (name.strip(), value.strip()) if sep else (key, cell)
                if name in table:  # a characteristic called 'title' or 'platform' stays apart from those rows
                    name = f"{name} (characteristic)"
                column = characteristics.setdefault(name, [None] * n)
                column[j] = value if column[j] is None else f"{column[j]}; {value}"
    frame = pd.DataFrame({**table, **characteristics}, index=pd.Index(accessions, name="geo_accession"))
    return frame.astype(object).where(frame.notna(), None)


def safe_column_name(key: str) -> str:
    """A characteristic key as a sheet column a design formula can name: ``Tumor grade`` -> ``tumor_grade``.

    Lower case; runs of other characters than letters and digits become ``_``; a leading digit gets ``x``.
    """
    name = re.sub(r"[^a-z0-9]+", "_", key.strip().lower()).strip("_") or "characteristic"
    return f"x{name}" if name[0].isdigit() else name


def safe_sample_names(titles: pd.Series) -> pd.Series:
    """Sample names from GEO titles: characters other than letters, digits, ``_ - .`` become ``_``.

    Parameters
    ----------
    titles : pandas.Series
        Titles indexed by GSM id.

    Returns
    -------
    pandas.Series
        Names indexed like ``titles``. A title whose safe form several samples share gets its GSM id appended
        (``P1_GSM2612345``); an empty title, or one that is another sample's GSM id, is replaced by the GSM id.
    """
    safe = titles.fillna("").astype(str).map(lambda t: re.sub(r"[^A-Za-z0-9_.-]+", "_", t.strip()).strip("_."))
    accessions = pd.Series(titles.index.astype(str), index=titles.index)
    safe = safe.where(~safe.str.fullmatch(r"GSM\d+") | (safe == accessions), "")  # another sample's GSM id
    shared = safe.duplicated(keep=False) & (safe != "")
    names = safe.where(~shared, safe + "_" + accessions).where(safe != "", accessions)
    clash = names.duplicated(keep=False)  # e.g. a title equal to another sample's GSM id
    return names.where(~clash, accessions)


def geo_sample_sheet(metadata: pd.DataFrame) -> pd.DataFrame:
    """The workflow's sample sheet of a series matrix's samples.

    Parameters
    ----------
    metadata : pandas.DataFrame
        From :func:`parse_series_matrix` (several matrices concatenated for a multi-platform series).

    Returns
    -------
    pandas.DataFrame
        Columns ``sample`` (from :func:`safe_sample_names`), ``geo_accession``, ``title``, ``source_name``,
        ``platform``, then one column per characteristic (:func:`safe_column_name`; a clash with another column
        gets ``_2``, ``_3`` ...). All values text; missing ones empty.
    """
    sheet = pd.DataFrame({"sample": safe_sample_names(metadata["title"]).to_numpy(),
                          "geo_accession": metadata.index.to_numpy()})
    for column in GEO_COLUMNS[2:]:
        sheet[column] = metadata[column].to_numpy()
    for key in metadata.columns:
        if key in GEO_COLUMNS[2:]:
            continue
        name, n = safe_column_name(key), 1
        while name in sheet.columns:
            n += 1
            name = f"{safe_column_name(key)}_{n}"
        sheet[name] = metadata[key].to_numpy()
    return sheet


# ---------------------------------------------------------------------------------------------------------------
# Selecting samples


def filter_samples(sheet: pd.DataFrame, sample_filter: Mapping[str, str | list[str]] | None,
                   source: str) -> pd.DataFrame:
    """Rows of ``sheet`` whose value in every filtered column is one of the allowed values.

    Parameters
    ----------
    sheet : pandas.DataFrame
        With a ``sample`` column; values as text.
    sample_filter : mapping, optional
        ``{column: value or [values]}``. A column may be named as in the sheet or as GEO writes the
        characteristic (``Tumor grade`` for ``tumor_grade``). Values are compared as stripped text.
    source : str
        How messages name where the sheet came from.

    Raises
    ------
    InputError
        A column that is not in the sheet, a value that occurs nowhere in its column, or no sample left.
    """
    if not sample_filter:
        return sheet
    problems = []
    mask = pd.Series(True, index=sheet.index)
    for key, allowed in sample_filter.items():
        column = key if key in sheet.columns else safe_column_name(key)
        if column not in sheet.columns:
            problems.append(f"config: cohort.filter: column '{key}' is not in {source} (columns: "
                            f"{listing([c for c in sheet.columns if c != 'sample'], 20)}); filter on one of them")
            continue
        allowed = [str(v).strip() for v in (allowed if isinstance(allowed, list) else [allowed])]
        values = sheet[column].fillna("").astype(str).str.strip()
        absent = [v for v in allowed if v not in set(values)]
        if absent:
            problems.append(f"config: cohort.filter: value(s) {listing(absent)} do not occur in column '{column}' "
                            f"of {source} (values: {listing(sorted(set(values) - {''}), 20)}); fix the spelling")
        mask &= values.isin(allowed)
    if problems:
        raise InputError(problems)
    if not mask.any():
        raise InputError(f"config: cohort.filter {dict(sample_filter)} selects no sample of {source}; every "
                         "filtered column must match, so widen one of them")
    return sheet.loc[mask]


# ---------------------------------------------------------------------------------------------------------------
# Per-sample count files


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
        """The bytes of the named files."""
        wanted = list(names)
        if not self.is_tar:
            return {name: (self.location / name).read_bytes() for name in wanted}
        found: dict[str, bytes] = {}
        with tarfile.open(self.location) as archive:
            for member in archive:
                if member.name in wanted and member.isfile():
                    handle = archive.extractfile(member)
                    found[member.name] = handle.read() if handle else b""
        return found


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


# ---------------------------------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class ImportedCohort:
    """A cohort read from per-sample files, ready to be written for validation.

    Attributes
    ----------
    counts : pandas.DataFrame
        Genes x samples, ``int64``, index ``gene_id``, columns = ``sheet['sample']``.
    sheet : pandas.DataFrame
        One row per sample, column ``sample`` first; all values text.
    files : list of dict
        Per sample: ``sample``, ``file``, ``format``, ``genes``, ``assigned`` (reads on genes) and the ``__``
        summary counters dropped from its file.
    record : dict
        Provenance: the source, how many samples it had and how many the filter kept.
    """

    counts: pd.DataFrame
    sheet: pd.DataFrame
    files: list[dict]
    record: dict = field(default_factory=dict)


def _looks_like_series_matrix(path: Path) -> bool:
    """Whether a file (plain or gzipped) starts like a GEO series matrix (``!Series_...``)."""
    try:
        with (gzip.open(path, "rb") if path.read_bytes()[:2] == b"\x1f\x8b" else open(path, "rb")) as handle:
            head = handle.read(4096)
    except (OSError, EOFError):
        return False
    return head.lstrip().startswith((b"!Series_", b"!Sample_"))


def _decode_matrix(raw: bytes, source: str) -> str:
    """Text of a (gzipped) series matrix; GEO files are UTF-8, older ones Latin-1."""
    try:
        raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError) as err:
        raise ValueError(f"{source}: cannot be gunzipped ({err})") from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_series_matrices(paths: Iterable[str | Path]) -> pd.DataFrame:
    """:func:`parse_series_matrix` of every file, concatenated (a series has one matrix per platform).

    Raises
    ------
    InputError
        An unreadable file, a malformed one, or a sample in two files.
    """
    paths = [Path(p) for p in paths]
    frames = []
    for path in paths:
        source = f"series matrix '{path}'"
        try:
            frames.append(parse_series_matrix(_decode_matrix(path.read_bytes(), source), source))
        except OSError as err:
            raise InputError(f"{source} cannot be read ({err}); check the path") from err
        except ValueError as err:
            raise InputError(f"{err}; give the series matrix as GEO publishes it (download it again)") from err
    metadata = pd.concat(frames) if len(frames) > 1 else frames[0]
    twice = metadata.index[metadata.index.duplicated()]
    if len(twice):
        raise InputError(f"series matrices {listing([str(p) for p in paths])}: sample(s) {listing(list(twice))} "
                         "occur in more than one")
    return metadata.astype(object).where(metadata.notna(), None)


def _read_sample_counts(files: CountFiles, file_of: pd.Series) -> tuple[pd.DataFrame, list[dict]]:
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


def import_local(location: str | Path, samples_path: str | Path,
                 sample_filter: Mapping[str, str | list[str]] | None = None, pattern: str = "*") -> ImportedCohort:
    """Import per-sample count files from a folder or tar archive, described by a sheet or a series matrix.

    Parameters
    ----------
    location : str or Path
        A folder of per-sample files (HTSeq-count, featureCounts or one-column tables, plain or gzipped), or a
        tar of them such as a GEO ``<GSE>_RAW.tar``.
    samples_path : str or Path
        Either a sample sheet (TSV/CSV, column ``sample`` and the variables; an optional column ``file`` names
        each sample's file, otherwise the file is found by sample name), or a GEO series matrix (files are then
        found by GSM id and the sheet is :func:`geo_sample_sheet`).
    sample_filter : mapping, optional
        ``{column: value or [values]}`` (:func:`filter_samples`).
    pattern : str
        Shell pattern the count files' names must match (``*`` = all).

    Returns
    -------
    ImportedCohort

    Raises
    ------
    InputError
        Missing files, an unreadable sheet, matrix or count file, a filter that matches nothing, samples without
        (or with several) files, or samples whose files list different genes.
    """
    samples_path = Path(samples_path)
    files = list_count_files(location, pattern)
    if not samples_path.is_file():
        raise InputError(f"config: cohort.samples: file '{samples_path}' does not exist; give a sample sheet "
                         "(TSV/CSV with a 'sample' column) or a GEO series matrix")
    if _looks_like_series_matrix(samples_path):
        metadata = read_series_matrices([samples_path])
        sheet = geo_sample_sheet(metadata)
        source = f"series matrix '{samples_path}'"
        selected = filter_samples(sheet, sample_filter, source)
        file_of = match_files(pd.Series(selected["geo_accession"].to_numpy(), index=selected["sample"]), files,
                              "GSM id")
    else:
        sheet = read_sample_sheet(samples_path).reset_index()
        source = f"samples file '{samples_path}'"
        selected = filter_samples(sheet, sample_filter, source)
        by = "column 'file'" if "file" in sheet.columns else "sample name"
        keys = selected["file"] if "file" in sheet.columns else selected["sample"]
        file_of = match_files(pd.Series(keys.fillna("").to_numpy(), index=selected["sample"]), files, by)
        selected = selected.drop(columns=["file"], errors="ignore")
    counts, records = _read_sample_counts(files, file_of)
    record = {"location": str(location), "samples_file": str(samples_path), "files_pattern": pattern,
              "filter": dict(sample_filter or {}), "n_samples_in_source": int(len(sheet)),
              "n_samples_selected": int(len(selected)), "n_genes": int(len(counts))}
    LOG.info("%s: %d of %d samples selected by filter %s; %d genes", source, len(selected), len(sheet),
             dict(sample_filter or {}), len(counts))
    return ImportedCohort(counts=counts, sheet=selected.reset_index(drop=True), files=records, record=record)


def import_geo(cache_dir: str | Path, sample_filter: Mapping[str, str | list[str]] | None = None,
               pattern: str = "*") -> ImportedCohort:
    """Import a downloaded series from its cache folder (:func:`download_series`), files checked by sha256.

    Raises
    ------
    InputError
        A cache file missing or changed since download, or any problem of :func:`import_local`.
    """
    cache_dir = Path(cache_dir)
    manifest = read_cache_manifest(cache_dir)
    tar_path = cache_dir / manifest["raw_tar"]["file"]
    matrices = [cache_dir / entry["file"] for entry in manifest["series_matrices"]]
    metadata = read_series_matrices(matrices)
    sheet = geo_sample_sheet(metadata)
    accession = manifest["accession"]
    source = f"GEO series {accession}"
    selected = filter_samples(sheet, sample_filter, source)
    files = list_count_files(tar_path, pattern)
    file_of = match_files(pd.Series(selected["geo_accession"].to_numpy(), index=selected["sample"]), files,
                          "GSM id")
    counts, records = _read_sample_counts(files, file_of)
    record = {"geo": accession, "cache": str(cache_dir),
              "downloads": [manifest["raw_tar"], *manifest["series_matrices"]],
              "date_fetched": manifest.get("date_fetched"), "files_pattern": pattern,
              "filter": dict(sample_filter or {}), "n_samples_in_source": int(len(sheet)),
              "n_samples_selected": int(len(selected)), "n_genes": int(len(counts))}
    LOG.info("%s: %d of %d samples selected by filter %s; %d genes", source, len(selected), len(sheet),
             dict(sample_filter or {}), len(counts))
    return ImportedCohort(counts=counts, sheet=selected.reset_index(drop=True), files=records, record=record)


def _write_gzip_tsv(table: pd.DataFrame, path: Path) -> None:
    """TSV, gzipped without a time stamp so that reruns are byte-identical."""
    text = table.to_csv(sep="\t", index=False, lineterminator="\n")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        handle.write(text.encode("utf-8"))


def write_imported(cohort: ImportedCohort, spec: Mapping, out_counts: str | Path, out_samples: str | Path,
                   out_record: str | Path) -> None:
    """Write the counts (TSV, gzipped), the sample sheet (TSV) and ``import.yaml`` (spec, provenance, files).

    The record is written last: :func:`import_is_current` trusts the three files only when it exists.
    """
    counts = cohort.counts.copy()
    counts.columns = list(cohort.sheet["sample"])
    counts.index.name = "gene_id"
    write_atomic(out_counts, lambda tmp: _write_gzip_tsv(counts.reset_index(), tmp))
    write_atomic(out_samples, lambda tmp: cohort.sheet.fillna("").to_csv(tmp, sep="\t", index=False,
                                                                          lineterminator="\n"))
    text = ("# Written by workflow/scripts/target_rationale/geo.py (rule import_cohort): what was imported, from "
            "where, and the summary rows dropped from each sample's file.\n"
            + yaml.safe_dump({"spec": _plain(spec), **cohort.record,
                              "samples": cohort.files},
                             sort_keys=False, allow_unicode=True, width=120))
    write_atomic(out_record, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _plain(value):
    """``value`` as plain dicts / lists / scalars (Snakemake's config holds its own mapping types)."""
    return json.loads(json.dumps(value, default=str))


def import_cohort(spec: Mapping, out_counts: str | Path, out_samples: str | Path, out_record: str | Path,
                  cache_dir: str | Path | None = None) -> ImportedCohort:
    """Import the cohort a config's ``cohort:`` entry describes and write it (rule ``import_cohort``).

    Parameters
    ----------
    spec : mapping
        ``{geo: GSE..., filter?, files?, ...}`` or ``{folder: ..., samples: ..., filter?, files?}``.
    out_counts, out_samples, out_record : str or Path
        Where the counts matrix, the sample sheet and the import record go.
    cache_dir : str or Path, optional
        For ``geo``: the series' cache folder (``<cache>/<GSE>``).
    """
    pattern = str(spec.get("files") or "*")
    if spec.get("geo"):
        if cache_dir is None:
            raise ValueError("import_cohort: a GEO cohort needs its cache folder")
        cohort = import_geo(cache_dir, spec.get("filter"), pattern)
    else:
        cohort = import_local(spec["folder"], spec["samples"], spec.get("filter"), pattern)
    for record in cohort.files:
        counters = {k: v for k, v in record.items() if str(k).startswith("__")}
        LOG.info("sample %s: %s (%s), %d genes, %d reads on genes%s", record["sample"], record["file"],
                 record["format"], record["genes"], record["assigned"],
                 "; dropped " + ", ".join(f"{k} {v}" for k, v in counters.items()) if counters else "")
    write_imported(cohort, spec, out_counts, out_samples, out_record)
    LOG.info("wrote %s (%d genes x %d samples), %s, %s", out_counts, *cohort.counts.shape, out_samples, out_record)
    return cohort


def import_is_current(spec: Mapping, outputs: Iterable[str | Path], record: str | Path,
                      inputs: Iterable[str | Path]) -> bool:
    """Whether an earlier import can be validated now: its files exist, it was made from ``spec`` and it is
    newer than every input (so the rule ``import_cohort`` will not run again).

    Parameters
    ----------
    spec : mapping
        The config's ``cohort:`` entry.
    outputs : iterable of str or Path
        The counts and sample-sheet files the import writes.
    record : str or Path
        Its ``import.yaml`` (written last).
    inputs : iterable of str or Path
        Files the import reads (cache files, or the local folder's files and sheet); absent ones make it stale.
    """
    record = Path(record)
    paths = [Path(p) for p in outputs] + [record]
    if not all(p.is_file() for p in paths):
        return False
    try:
        recorded = yaml.safe_load(record.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(recorded, dict) or recorded.get("spec") != _plain(spec):
        return False
    oldest_output = min(p.stat().st_mtime for p in paths)
    for path in map(Path, inputs):
        if not path.exists() or path.stat().st_mtime > oldest_output:
            return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Download into the cache


def _utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _get(url: str, accession: str, timeout: float, stream: bool = False) -> requests.Response:
    try:
        response = requests.get(url, timeout=timeout, stream=stream)
    except requests.Timeout as err:
        raise GeoDownloadError(accession, url, f"timed out after {timeout:g} s", _offline_fix(accession)) from err
    except (requests.RequestException, OSError) as err:
        raise GeoDownloadError(accession, url, _short_reason(err), _offline_fix(accession)) from err
    if response.status_code >= 400:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        response.close()
        fix = _missing_fix(accession) if response.status_code in (404, 410) else _offline_fix(accession)
        raise GeoDownloadError(accession, url, reason, fix)
    return response


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
    response = _get(url, accession, timeout, stream=True)
    digest, received = hashlib.sha256(), 0
    announced = response.headers.get("Content-Length")
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    try:
        with open(destination, "wb") as handle:
            for chunk in response.iter_content(chunk_size=1 << 20):
                handle.write(chunk)
                digest.update(chunk)
                received += len(chunk)
    except (requests.RequestException, OSError) as err:
        short = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", str(err))
        reason = (f"truncated: {short.group(1)} of {int(short.group(1)) + int(short.group(2))} bytes received" if short
                  else f"connection broken after {received} bytes: {_short_reason(err)}")
        raise GeoDownloadError(accession, url, reason, _offline_fix(accession)) from err
    finally:
        response.close()
    if announced is not None and not encoded and announced.isdigit() and int(announced) != received:
        raise GeoDownloadError(accession, url, f"truncated: {received} of {announced} bytes received",
                               _offline_fix(accession))
    if received == 0:
        raise GeoDownloadError(accession, url, "empty response", _offline_fix(accession))
    entry = {"file": destination.name, "url": url, "bytes": received, "sha256": digest.hexdigest()}
    if response.url and response.url != url:
        entry["redirected_to"] = response.url
    return entry


def _check_raw_tar(path: Path, accession: str, url: str) -> int:
    """Number of per-sample (``GSM...``) files in a downloaded RAW tar; raises if it is not such a tar."""
    try:
        with tarfile.open(path) as archive:
            names = [m.name for m in archive.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError, EOFError) as err:
        raise GeoDownloadError(accession, url, f"not a readable tar archive ({err})", _offline_fix(accession)) from err
    samples = [n for n in names if GSM_PREFIX.match(n.rsplit("/", 1)[-1])]
    if not samples:
        raise GeoDownloadError(accession, url, f"the tar holds no GSM... file (members: {listing(names)})",
                               "the series may not publish per-sample files; use a local folder instead")
    return len(samples)


def download_series(accession: str, cache_dir: str | Path, base_url: str = GEO_SERIES_URL,
                    timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Download a series' RAW tar and series matrices into ``cache_dir``; write ``manifest.yaml`` last.

    Everything is downloaded into a staging folder beside ``cache_dir`` and checked there; only then are the
    files moved into ``cache_dir`` and the manifest written. On any failure the staging folder is removed and
    ``cache_dir`` holds nothing new (a folder this call created is removed again).

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
    staging = Path(tempfile.mkdtemp(prefix=f".{accession}.download-", dir=cache_dir.parent))
    moved: list[Path] = []
    try:
        fetched_at = _utc_now()
        listing_url = matrix_folder_url(accession, base_url)
        response = _get(listing_url, accession, timeout)
        try:
            names = find_series_matrices(response.text, accession)
        except ValueError as err:
            raise GeoDownloadError(accession, listing_url, str(err), _missing_fix(accession)) from err
        matrices = []
        for name in names:
            url = listing_url + name
            entry = download_file(url, staging / name, accession, timeout)
            try:
                metadata = parse_series_matrix(_decode_matrix((staging / name).read_bytes(), name), name)
            except ValueError as err:
                raise GeoDownloadError(accession, url, f"unexpected content: {err}", _offline_fix(accession)) from err
            platforms = sorted({p for p in metadata["platform"] if p})
            matrices.append({**entry, "n_samples": int(len(metadata)), "platforms": platforms})
        url = raw_tar_url(accession, base_url)
        tar_entry = download_file(url, staging / f"{accession}_RAW.tar", accession, timeout)
        tar_entry["n_sample_files"] = _check_raw_tar(staging / tar_entry["file"], accession, url)
        manifest = {"accession": accession, "source": "NCBI GEO (https://www.ncbi.nlm.nih.gov/geo/)",
                    "date_fetched": fetched_at, "raw_tar": tar_entry, "series_matrices": matrices,
                    "terms": GEO_TERMS}
        text = ("# Written by workflow/scripts/target_rationale/geo.py (rule geo_download). A cache: delete this "
                "folder to download again.\n" + yaml.safe_dump(manifest, sort_keys=False, width=120))
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
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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


# ---------------------------------------------------------------------------------------------------------------
# For the workflow's rules (workflow/rules/import.smk)


@dataclass(frozen=True)
class ImportPlan:
    """What the rules of a ``cohort:`` import read and write, known before anything is downloaded.

    Attributes
    ----------
    spec : dict
        The config's ``cohort:`` entry.
    accession : str or None
        The GEO series, or None for a local folder.
    cache_dir : str or None
        ``<cache>/<GSE>`` for a GEO series.
    inputs : list of str
        Files the import rule reads: the cache's tar and manifest, or the folder's count files / tar and the
        sample sheet or series matrix.
    counts, samples, record : str
        The import's outputs.
    """

    spec: dict
    accession: str | None
    cache_dir: str | None
    inputs: list[str]
    counts: str = "results/import/counts.tsv.gz"
    samples: str = "results/import/samples.tsv"
    record: str = "results/import/import.yaml"

    @property
    def named_inputs(self) -> dict[str, str | list[str]]:
        """The inputs by role, for the rule: ``tar`` and ``manifest`` of the cache, or ``files`` and ``samples``."""
        if self.accession:
            return {"tar": self.inputs[0], "manifest": self.inputs[1]}
        return {"files": self.inputs[:-1], "samples": self.inputs[-1]}

    @property
    def is_current(self) -> bool:
        """Whether the outputs exist, from this spec, newer than the inputs (:func:`import_is_current`)."""
        return import_is_current(self.spec, [self.counts, self.samples], self.record, self.inputs)


def plan_import(spec: Mapping, resolve=str) -> ImportPlan:
    """The :class:`ImportPlan` of a config's ``cohort:`` entry (config-level checks only; nothing is read).

    Parameters
    ----------
    spec : mapping
        ``{geo, filter?, files?, base_url?, cache?}`` or ``{folder, samples, filter?, files?}``.
    resolve : callable
        Turns a configured input path into the path to use (the workflow looks in the working directory, then
        in its own folder).

    Raises
    ------
    InputError
        A malformed accession, a local folder or sample file that does not exist.
    """
    spec = _plain(spec)
    if spec.get("geo"):
        accession = check_accession(spec["geo"])
        cache_dir = f"{str(spec.get('cache') or DEFAULT_CACHE).rstrip('/')}/{accession}"
        inputs = [f"{cache_dir}/{accession}_RAW.tar", f"{cache_dir}/{CACHE_MANIFEST}"]
        return ImportPlan(spec=spec, accession=accession, cache_dir=cache_dir, inputs=inputs)
    folder, samples = resolve(str(spec["folder"])), resolve(str(spec["samples"]))
    problems = []
    if not Path(folder).exists():
        problems.append(f"config: cohort.folder: '{spec['folder']}' does not exist; give a folder of per-sample "
                        "count files or a tar of them (such as a GEO <GSE>_RAW.tar)")
    if not Path(samples).is_file():
        problems.append(f"config: cohort.samples: file '{spec['samples']}' does not exist; give a sample sheet "
                        "(TSV/CSV with a 'sample' column) or a GEO series matrix")
    if problems:
        raise InputError(problems)
    pattern = str(spec.get("files") or "*")
    if Path(folder).is_dir():
        files = sorted(str(p) for p in Path(folder).iterdir()
                       if p.is_file() and not p.name.startswith(".") and fnmatch.fnmatch(p.name, pattern))
    else:
        files = [folder]
    spec = {**spec, "folder": folder, "samples": samples}
    return ImportPlan(spec=spec, accession=None, cache_dir=None, inputs=[*files, samples])


def cohort_config_problems(config: Mapping) -> list[str]:
    """Config-level problems of ``cohort`` with ``counts`` / ``samples`` (run on the config as written)."""
    cohort = config.get("cohort")
    given = [key for key in ("counts", "samples") if key in config]
    if cohort:
        if given:
            return [f"config: `cohort` imports the count matrix and the sample sheet, so "
                    f"{' and '.join(f'`{key}`' for key in given)} must be left out; remove "
                    f"{'them' if len(given) > 1 else 'it'} (or remove `cohort` to read your own files)"]
        return []
    missing = [key for key in ("counts", "samples") if key not in config]
    if missing:
        return [f"config: {' and '.join(repr(m) for m in missing)} missing: give `counts` (a genes x samples "
                "count matrix) and `samples` (a sample sheet), or `cohort` to import a GEO series or a folder of "
                "per-sample count files (config/README.md)"]
    return []
