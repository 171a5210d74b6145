"""GEO series: where GEO keeps a series' files, its series matrix of sample metadata, and the sample sheet the
workflow makes of it (with the ``cohort.filter`` selection of samples).

A series' sample metadata are in its series matrix (``<GSE>_series_matrix.txt.gz``, or one
``<GSE>-GPL<digits>_series_matrix.txt.gz`` per platform when the series spans several): tab-separated rows such
as ``!Sample_geo_accession``, ``!Sample_title`` and one ``!Sample_characteristics_ch1`` row per characteristic
with ``"key: value"`` cells.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from target_rationale.cohort.import_plan import check_accession
from target_rationale.cohort.tables import gunzip_capped
from target_rationale.core.errors import InputError, listing

#: Root of GEO's series folders (``<root>/GSE98nnn/GSE98894/...``), over HTTPS.
GEO_SERIES_URL = "https://ftp.ncbi.nlm.nih.gov/geo/series/"
#: A per-sample file's name in a GEO RAW tar starts with the sample's GSM id (``GSM2612345_P1_counts.txt.gz``).
GSM_PREFIX = re.compile(r"^(GSM\d+)(?=$|[_.\-])")
#: Sheet columns of an imported GEO series, before one column per characteristic.
GEO_COLUMNS = ("sample", "geo_accession", "title", "source_name", "platform")
#: Series-matrix rows (without ``!Sample_``) that become those columns.
GEO_ROWS = {"geo_accession": "geo_accession", "title": "title", "source_name_ch1": "source_name",
            "platform_id": "platform"}


# ---------------------------------------------------------------------------------------------------------------
# Where GEO keeps a series


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
# Series matrix files


def looks_like_series_matrix(path: Path) -> bool:
    """Whether a file (plain or gzipped) starts like a GEO series matrix (``!Series_...``)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
        with (gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")) as handle:
            head = handle.read(4096)
    except (OSError, EOFError):
        return False
    return head.lstrip().startswith((b"!Series_", b"!Sample_"))


def decode_matrix(raw: bytes, source: str) -> str:
    """Text of a (gzipped) series matrix; GEO files are UTF-8, older ones Latin-1.

    Raises
    ------
    ValueError
        If it cannot be gunzipped, or (an ``InputError``, a ValueError) expands past the workflow's cap
        (:data:`target_rationale.cohort.tables.MAX_UNCOMPRESSED_BYTES`).
    """
    try:
        raw = gunzip_capped(raw, source) if raw[:2] == b"\x1f\x8b" else raw
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
            frames.append(parse_series_matrix(decode_matrix(path.read_bytes(), source), source))
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
