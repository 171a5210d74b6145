"""The one loader for a cohort: count matrix and sample sheet, read and checked.

Every problem found in the user's input is reported as one line that names the file, the line/column/value
and the fix (:class:`InputError`). Nothing here writes to or modifies an input file.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from target_rationale.core.errors import InputError, listing

#: Sample names reach file paths and plot labels: letters, digits, ``_``, ``-``, ``.`` only (the whole name:
#: checked with ``fullmatch``, as ``$`` would also match before a final newline).
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")

#: Longest sample, contrast or collection name. Names become parts of file names, which most file systems cap
#: at 255 bytes, with decorations of up to ~40 characters (``.{contrast}.volcano.png.XXXXXXXX.png``, the
#: temporary file of an atomic write), and some file names join several names (model fits).
MAX_NAME_LENGTH = 100

#: Annotation columns of featureCounts output, dropped before the sample columns.
FEATURECOUNTS_COLUMNS = ("Geneid", "Chr", "Start", "End", "Strand", "Length")

#: Gene-id prefix of HTSeq-count's summary counters (``__no_feature``, ``__ambiguous`` ...): dropped, reported.
SUMMARY_ROW_PREFIX = "__"

#: Counts must be below 2^53: up to there every integer is exact as a float (pandas, numpy and pydeseq2 compute
#: in float64; int64 itself wraps at 2^63). No sequencing run comes near it, so a larger value is an export error.
MAX_COUNT = 2**53

#: Most bytes a gzipped input may expand to. Gzip expands zeros ~1000x, so a small file could otherwise fill
#: the memory; 4 GiB is ~10x the text of a 60,000-gene x 1,000-sample count matrix. A named constant rather
#: than a config key: no real input comes near it.
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3

#: Bytes decompressed at a time by :func:`read_capped`.
_CHUNK = 1024**2


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a sample, contrast or collection name (it reaches file paths), or None if it can.

    Returns
    -------
    str or None
        ``is not a safe identifier; use only ...`` or ``is N characters long; ...``, to follow ``name '...'``.
    """
    if not SAFE_NAME.fullmatch(name) or name in {".", ".."}:
        return "is not a safe identifier; use only letters, digits, '_', '-' and '.'"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; use at most {MAX_NAME_LENGTH}"
    return None


def is_safe_name(name: str) -> bool:
    """Whether ``name`` may be used as a sample or contrast name (it reaches file paths): see :func:`name_problem`."""
    return name_problem(name) is None


def _size(n_bytes: int) -> str:
    """``4 GiB``, ``12.5 MiB``: a byte count for messages."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes} bytes"


def _too_large(source: str) -> InputError:
    return InputError(f"{source} expands to more than {_size(MAX_UNCOMPRESSED_BYTES)} when gunzipped (the "
                      "workflow's limit, MAX_UNCOMPRESSED_BYTES in target_rationale/cohort/tables.py; no real input "
                      "comes near it): check that the right file is configured")


def read_capped(handle, source: str) -> bytes:
    """All bytes of a (decompressing) binary ``handle``, stopping past :data:`MAX_UNCOMPRESSED_BYTES`.

    Parameters
    ----------
    handle : binary file object
        E.g. a :class:`gzip.GzipFile`.
    source : str
        How messages name the file (``counts file 'x.tsv.gz'``).

    Raises
    ------
    InputError
        When the data expand past the limit (nothing more is read).
    """
    limit = MAX_UNCOMPRESSED_BYTES
    chunks, total = [], 0
    while chunk := handle.read(min(_CHUNK, limit + 1 - total)):
        total += len(chunk)
        if total > limit:
            raise _too_large(source)
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_capped(raw: bytes, source: str) -> bytes:
    """``gzip.decompress(raw)`` (every member), stopping past :data:`MAX_UNCOMPRESSED_BYTES`.

    Raises
    ------
    InputError
        Past the limit (:func:`read_capped`). A corrupt or truncated gzip raises ``OSError`` / ``EOFError`` as
        :func:`gzip.decompress` does.
    """
    with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as handle:
        return read_capped(handle, source)


class CappedReader(io.RawIOBase):
    """A binary stream over another that raises :class:`InputError` once more than
    :data:`MAX_UNCOMPRESSED_BYTES` were read from it (for line-by-line readers of gzipped files)."""

    def __init__(self, handle, source: str) -> None:
        super().__init__()
        self._handle, self._source, self._total = handle, source, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._handle.readinto(buffer)
        self._total += n
        if self._total > MAX_UNCOMPRESSED_BYTES:
            raise _too_large(self._source)
        return n

    def close(self) -> None:
        self._handle.close()
        super().close()


def _read_text(path: Path, what: str) -> str:
    """Read a (optionally gzipped) text file, turning every failure into an :class:`InputError`."""
    if not path.exists():
        raise InputError(f"{what} file '{path}' does not exist: check the `{what}:` path in the config "
                         "(relative paths are read from the working directory)")
    if path.is_dir():
        raise InputError(f"{what} file '{path}' is a directory: point `{what}:` at a table file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise InputError(f"{what} file '{path}' cannot be read ({err}): re-export it as plain or gzipped "
                         "TSV/CSV") from err
    return decode_table_bytes(raw, path, what)


def decode_table_bytes(raw: bytes, path: str | Path, what: str) -> str:
    """Text of a table file's bytes (gunzipped if they are gzip), every failure an :class:`InputError`.

    Parameters
    ----------
    raw : bytes
        The file's content (for instance a member of a tar archive).
    path : str or Path
        How messages name the file (``archive.tar:member.txt.gz`` for a tar member).
    what : str
        ``counts`` or ``samples``: the kind of table, for messages.
    """
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gunzip_capped(raw, f"{what} file '{path}'")
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise InputError(f"{what} file '{path}' cannot be read ({err}): re-export it as plain or gzipped "
                         "TSV/CSV") from err
    except UnicodeDecodeError as err:
        raise InputError(f"{what} file '{path}' is not UTF-8 text (byte {err.start}): save it as a "
                         "tab- or comma-separated text table") from err


def _sniff_separator(header: str, path: Path, what: str) -> str:
    """Choose tab or comma from the header line."""
    if "\t" in header:
        return "\t"
    if "," in header:
        return ","
    raise InputError(f"{what} file '{path}': the header line has a single column ('{header[:60]}'); "
                     "separate columns with tabs (TSV) or commas (CSV)")


def _split_header(text: str, path: Path, what: str) -> tuple[list[str], int, str]:
    """Return the header fields, the 0-based line index of the header and the separator.

    Lines starting with ``#`` before the header (featureCounts writes one) are skipped.
    """
    lines = text.splitlines()
    index = 0
    while index < len(lines) and (lines[index].startswith("#") or not lines[index].strip()):
        index += 1
    if index == len(lines):
        raise InputError(f"{what} file '{path}' is empty: it needs a header line and one line per "
                         f"{'gene' if what == 'counts' else 'sample'}")
    sep = _sniff_separator(lines[index], path, what)
    fields = next(csv.reader([lines[index]], delimiter=sep))
    return [f.strip() for f in fields], index, sep


def _parse_table(text: str, path: Path, what: str, header_index: int, sep: str, names: list[str] | None = None,
                 **kwargs) -> pd.DataFrame:
    """Parse the table whose header is line ``header_index``; with ``names``, that line is data (no header).

    The first column is never taken as the index: a separator at the end of every line is dropped (spreadsheet
    exports), and a line with more fields than the header (R's ``write.table`` leaves the row names' column
    unnamed) is an error naming it.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.StringIO(text), sep=sep, skiprows=header_index, header=None if names else 0,
                               names=names, skip_blank_lines=True, index_col=False, **kwargs)
    except pd.errors.ParserWarning as err:
        width = len(names) if names else len(next(csv.reader([text.splitlines()[header_index]], delimiter=sep)))
        first = header_index if names else header_index + 1
        line, seen = next(((number, len(fields)) for number, fields in enumerate(
            csv.reader(text.splitlines()[first:], delimiter=sep), start=first + 1) if len(fields) > width),
            (first + 1, width + 1))
        raise InputError(f"{what} file '{path}', line {line}: {seen} fields, the header has {width}; give every "
                         "line as many fields as the header (a header without a name for the first column, as "
                         "R's write.table writes it, needs one: e.g. 'gene_id')") from err
    except (pd.errors.ParserError, ValueError) as err:
        detail = str(err).strip().splitlines()[-1]
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", detail)
        quote = re.search(r"EOF inside string starting at row (\d+)", detail)
        if quote:  # pandas counts the file's rows from 0, skipped ones included
            raise InputError(f"{what} file '{path}', line {int(quote.group(1)) + 1}: a quote (\") "
                             "opens a field that no quote closes; remove the stray quote or close it") from err
        if fields:
            expected, line, seen = (int(v) for v in fields.groups())
            detail = f"it has {seen} fields, the header has {expected}"
            where = f"line {line + header_index}"
        else:
            where = "the table"
        raise InputError(f"{what} file '{path}': cannot parse {where} ({detail}); every line needs the same "
                         "number of separated fields as the header") from err


def _duplicates(values: pd.Index | list[str]) -> list[str]:
    series = pd.Series(list(values))
    return list(dict.fromkeys(series[series.duplicated()]))


@dataclass(frozen=True)
class CountMatrix:
    """A validated count matrix.

    Attributes
    ----------
    counts : pandas.DataFrame
        Genes x samples, ``int64``, index named ``gene_id`` (ids exactly as in the file).
    source_format : str
        ``table``, ``featureCounts`` or ``HTSeq`` (two columns, gene id and count, without a header line).
    renamed : dict of str to str
        Sample columns renamed (``old -> new``): featureCounts BAM paths, or the one column of a per-sample file
        given a name; empty otherwise.
    summary_rows : pandas.DataFrame or None
        HTSeq-count's summary counters (``__no_feature``, ``__ambiguous`` ...: ids starting with ``__``), which
        were dropped from ``counts``: counters x samples, ``int64``; None if the file had none.
    """

    counts: pd.DataFrame
    source_format: str
    renamed: dict[str, str]
    summary_rows: pd.DataFrame | None = None


def _featurecounts_name(column: str) -> str:
    """Sample name of a featureCounts column: the BAM file's name without folders and ``.bam``."""
    name = column.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".Aligned.sortedByCoord.out.bam", "Aligned.sortedByCoord.out.bam", ".sorted.bam", ".bam"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def per_sample_file_stem(path: str | Path) -> str:
    """``GSM2612345_P1_counts.txt.gz`` -> ``GSM2612345_P1_counts``: a file name without folders and extensions."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".txt", ".tsv", ".csv", ".tab", ".counts"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def read_counts(path: str | Path, sample: str | None = None) -> CountMatrix:
    """Read and check a genes x samples count matrix, or the counts of one sample.

    Accepts TSV or CSV, optionally gzipped, whose first column holds gene ids and whose other columns are
    samples; featureCounts output (``Geneid, Chr, Start, End, Strand, Length, <bam>...``, ``#`` comment
    lines), whose BAM-path columns become sample names (folder and ``.bam`` removed); and HTSeq-count output
    (two columns, gene id and count, no header line). Rows whose id starts with ``__`` (HTSeq-count's
    ``__no_feature``, ``__ambiguous``, ``__too_low_aQual``, ``__not_aligned``, ``__alignment_not_unique``)
    are summary counters, not genes: they are dropped and kept aside in ``summary_rows``.

    Parameters
    ----------
    path : str or Path
        The counts file.
    sample : str, optional
        For a file holding one sample (HTSeq-count, or featureCounts / a table with one count column): the
        name of its column. Without it an HTSeq file's column is named after the file (folders and
        ``.txt.gz``-style extensions removed).

    Returns
    -------
    CountMatrix
        The matrix as ``int64`` genes x samples.

    Raises
    ------
    InputError
        Missing or unreadable file, garbled table, duplicate gene ids or sample columns, a value that is
        empty, NaN, non-numeric, non-integer or negative, a matrix of zeros only, or ``sample`` given for a
        file of several samples.
    """
    path = Path(path)
    return read_counts_text(_read_text(path, "counts"), path, sample)


def _is_count(field: str) -> bool:
    return bool(re.fullmatch(r"\d+(\.0*)?", field.strip()))


def read_counts_text(text: str, path: str | Path, sample: str | None = None) -> CountMatrix:
    """:func:`read_counts` on text already read (e.g. a member of a tar archive); ``path`` names it in messages."""
    path = Path(path) if not isinstance(path, Path) else path
    header, header_index, sep = _split_header(text, path, "counts")
    if len(header) == 2 and _is_count(header[1]):
        source_format = "HTSeq"
    elif tuple(header[:6]) == FEATURECOUNTS_COLUMNS:
        source_format = "featureCounts"
    else:
        source_format = "table"
    headerless = source_format == "HTSeq"
    first_sample = 6 if source_format == "featureCounts" else 1
    samples = [per_sample_file_stem(path)] if headerless else header[first_sample:]
    if not samples:
        raise InputError(f"counts file '{path}': the header has no sample columns after the gene id column; "
                         "expected 'gene_id<TAB>sample1<TAB>sample2...'")
    renamed: dict[str, str] = {}
    if source_format == "featureCounts":
        renamed = {s: _featurecounts_name(s) for s in samples if _featurecounts_name(s) != s}
        samples = [renamed.get(s, s) for s in samples]
    if sample is not None:
        if len(samples) != 1:
            raise InputError(f"counts file '{path}' has {len(samples)} sample columns ({listing(samples)}); a "
                             "per-sample count file needs exactly one: give one file per sample")
        original = header[first_sample] if not headerless else samples[0]
        if original != sample:
            renamed = {original: sample}
        samples = [sample]
    if "" in samples:
        column = samples.index("") + first_sample + 1
        raise InputError(f"counts file '{path}': header column {column} is empty; give every sample "
                         "column a name")
    duplicated = _duplicates(samples)
    if duplicated:
        raise InputError(f"counts file '{path}': sample column(s) {listing(duplicated)} occur more than once "
                         "in the header; sample names must be unique")

    names = ["gene_id", *samples] if headerless else None
    table = _parse_table(text, path, "counts", header_index, sep, names=names,
                         dtype={(names or header)[0]: str}, na_values=[""], keep_default_na=False)
    # Pandas would have renamed duplicates; we checked them above, so use our own names.
    gene_ids = table.iloc[:, 0]
    values = table.iloc[:, first_sample:]
    values.columns = samples
    data_line = _data_line_numbers(text, header_index - 1 if headerless else header_index)

    if gene_ids.isna().any():
        row = int(np.flatnonzero(gene_ids.isna().to_numpy())[0])
        raise InputError(f"counts file '{path}', line {data_line[row]}: the gene id (first column) is empty; "
                         "every row needs a gene id")
    gene_ids = gene_ids.str.strip()
    if (gene_ids == "").any():
        row = int(np.flatnonzero((gene_ids == "").to_numpy())[0])
        raise InputError(f"counts file '{path}', line {data_line[row]}: the gene id (first column) is only spaces; "
                         "every row needs a gene id")
    summary = gene_ids.str.startswith(SUMMARY_ROW_PREFIX).to_numpy()
    duplicated = _duplicates(gene_ids[~summary])
    if duplicated:
        rows = gene_ids[gene_ids.isin(duplicated[:1])].index
        raise InputError(f"counts file '{path}': gene id(s) {listing(duplicated)} occur more than once "
                         f"(e.g. lines {', '.join(str(data_line[r]) for r in rows)}); sum or remove "
                         "duplicated rows so each gene id appears once")
    if len(gene_ids) == int(summary.sum()):
        raise InputError(f"counts file '{path}' has {'a header but ' if not headerless else ''}no gene rows"
                         + (" (only '__' summary counters)" if summary.any() else ""))

    matrix = _numeric_matrix(values, gene_ids, path, data_line)
    counts = pd.DataFrame(matrix[~summary], index=pd.Index(gene_ids[~summary].to_numpy(), name="gene_id"),
                          columns=samples)
    summary_rows = None
    if summary.any():
        summary_rows = pd.DataFrame(matrix[summary], index=pd.Index(gene_ids[summary].to_numpy(), name="gene_id"),
                                    columns=samples)
    if not counts.to_numpy().any():
        raise InputError(f"counts file '{path}': every count is zero; check that the right file and "
                         "columns were exported")
    return CountMatrix(counts=counts, source_format=source_format, renamed=renamed, summary_rows=summary_rows)


def _data_line_numbers(text: str, header_index: int) -> list[int]:
    """1-based file line number of each data row (blank lines after the header are skipped, as pandas does)."""
    numbers = []
    for number, line in enumerate(text.splitlines()[header_index + 1:], start=header_index + 2):
        if line.strip():
            numbers.append(number)
    return numbers


def _numeric_matrix(values: pd.DataFrame, gene_ids: pd.Series, path: Path, data_line: list[int]) -> np.ndarray:
    """Check that every cell is a non-negative integer and return an ``int64`` array."""
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad_text = numeric.isna() & values.notna()
    empty = values.isna()

    def first(mask: pd.DataFrame) -> tuple[int, str] | None:
        hits = np.argwhere(mask.to_numpy())
        if len(hits) == 0:
            return None
        row, col = (int(v) for v in hits[0])
        return row, str(values.columns[col])

    def place(row: int, column: str) -> str:
        return f"counts file '{path}', line {data_line[row]} (gene '{gene_ids.iloc[row]}'), column '{column}'"

    hit = first(empty)
    if hit:
        n = int(empty.to_numpy().sum())
        raise InputError(f"{place(*hit)}: empty or NaN count ({n} such cell(s) in all); every gene needs a "
                         "count in every sample (use 0 for none)")
    hit = first(bad_text)
    if hit:
        raise InputError(f"{place(*hit)}: value '{values.iloc[hit[0]][hit[1]]}' is not a number; counts "
                         "must be integers")
    array = numeric.to_numpy(dtype=float)
    nan = np.isnan(array)
    if nan.any():
        row, col = (int(v) for v in np.argwhere(nan)[0])
        raise InputError(f"{place(row, str(values.columns[col]))}: empty or NaN count; every gene needs a "
                         "count in every sample (use 0 for none)")
    if not np.isfinite(array).all():
        row, col = (int(v) for v in np.argwhere(~np.isfinite(array))[0])
        raise InputError(f"{place(row, str(values.columns[col]))}: value is infinite; counts must be "
                         "finite integers")
    negative = array < 0
    if negative.any():
        row, col = (int(v) for v in np.argwhere(negative)[0])
        raise InputError(f"{place(row, str(values.columns[col]))}: value {array[row, col]:g} is negative "
                         f"({int(negative.sum())} negative cell(s) in all); counts must be raw read counts >= 0")
    huge = array >= MAX_COUNT
    if huge.any():
        row, col = (int(v) for v in np.argwhere(huge)[0])
        raise InputError(f"{place(row, str(values.columns[col]))}: value '{str(values.iloc[row, col]).strip()}' is "
                         f"2^53 ({MAX_COUNT}) or more ({int(huge.sum())} such cell(s)); no sequencing run has that "
                         "many reads of one gene: check that raw read counts were exported")
    fractional = array != np.round(array)
    if fractional.any():
        row, col = (int(v) for v in np.argwhere(fractional)[0])
        raise InputError(f"{place(row, str(values.columns[col]))}: value {array[row, col]:g} is not an "
                         f"integer ({int(fractional.sum())} such cell(s)); give raw read counts, or round "
                         "estimated counts (salmon/kallisto) first as tximport does")
    totals = array.sum(axis=0)
    if (totals >= MAX_COUNT).any():
        column = str(values.columns[int(np.argmax(totals >= MAX_COUNT))])
        raise InputError(f"counts file '{path}', column '{column}': the counts sum to 2^53 ({MAX_COUNT}) or more; "
                         "no sequencing run has that many reads: check that raw read counts were exported")
    return array.astype(np.int64)


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read and check a sample sheet.

    Parameters
    ----------
    path : str or Path
        TSV or CSV (optionally gzipped) with a column ``sample`` and one column per variable. All values are
        read as text (so patient ``01`` stays ``01``); surrounding spaces are stripped.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``sample`` (as in the file), all other columns as strings (empty cells as missing).

    Raises
    ------
    InputError
        Missing or unreadable file, no ``sample`` column, an empty, duplicated or unsafe sample name.
    """
    path = Path(path)
    text = _read_text(path, "samples")
    header, header_index, sep = _split_header(text, path, "samples")
    if "sample" not in header:
        raise InputError(f"samples file '{path}': no column named 'sample' (header: {listing(header)}); name "
                         "the column of sample names 'sample'")
    duplicated = _duplicates(header)
    if duplicated:
        raise InputError(f"samples file '{path}': column(s) {listing(duplicated)} occur more than once in "
                         "the header; give each column a unique name")
    sheet = _parse_table(text, path, "samples", header_index, sep, dtype=str, keep_default_na=False,
                         na_values=[""])
    sheet.columns = [str(column).strip() for column in sheet.columns]  # as the header check saw them
    # surrounding spaces stripped; a cell of spaces alone is as empty as an empty one
    sheet = sheet.apply(lambda column: column.str.strip())
    sheet = sheet.where(sheet != "")  # object columns stay object (replace would downcast an all-empty one)
    data_line = _data_line_numbers(text, header_index)
    names = sheet["sample"]
    problems = []
    for row in np.flatnonzero(names.isna().to_numpy()):
        problems.append(f"samples file '{path}', line {data_line[row]}: the 'sample' cell is empty; every row "
                        "needs a sample name")
    duplicated = _duplicates(names.dropna())
    if duplicated:
        problems.append(f"samples file '{path}': sample name(s) {listing(duplicated)} occur more than once in "
                        "column 'sample'; each sample needs one row")
    for row, name in enumerate(names):
        problem = name_problem(name) if isinstance(name, str) else None
        if problem:
            problems.append(f"samples file '{path}', line {data_line[row]}: sample name {name!r} {problem} (it is "
                            "used in file paths), and rename the matching counts column too")
    if problems:
        raise InputError(problems)
    if sheet.empty:
        raise InputError(f"samples file '{path}' has a header but no sample rows")
    return sheet.set_index("sample", drop=True)


def match_samples(counts: pd.DataFrame, sheet: pd.DataFrame, counts_path: str | Path,
                  samples_path: str | Path) -> pd.DataFrame:
    """Check that the sheet and the matrix name the same samples; return the counts in sheet order.

    Raises
    ------
    InputError
        Naming the samples that are only in the sheet and those only in the matrix.
    """
    only_sheet = [s for s in sheet.index if s not in counts.columns]
    only_counts = [s for s in counts.columns if s not in sheet.index]
    problems = []
    if only_sheet:
        problems.append(f"samples file '{samples_path}': sample(s) {listing(only_sheet)} have no column in "
                        f"counts file '{counts_path}'; add their counts or remove their rows")
    if only_counts:
        problems.append(f"counts file '{counts_path}': column(s) {listing(only_counts)} are not in samples "
                        f"file '{samples_path}'; add a row per sample or drop the columns")
    unsafe = [s for s in only_counts if not is_safe_name(s)]
    if unsafe:
        problems.append(f"counts file '{counts_path}': column name(s) {listing(unsafe)} are not safe "
                        f"identifiers; use only letters, digits, '_', '-' and '.', at most {MAX_NAME_LENGTH} "
                        "characters")
    if problems:
        raise InputError(problems)
    return counts.loc[:, list(sheet.index)]
