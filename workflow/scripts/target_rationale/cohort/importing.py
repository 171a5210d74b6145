"""Import a public cohort from GEO, or the same per-sample count files from a local folder (rule ``import_cohort``).

A GEO series with RNA-seq counts (such as GSE98894, Alvarez et al. 2018) publishes them as ``<GSE>_RAW.tar``: one
file per sample, named ``GSM<digits>_<anything>``, holding HTSeq-count output (two columns, gene id and count,
then ``__no_feature``, ``__ambiguous``, ``__too_low_aQual``, ``__not_aligned``, ``__alignment_not_unique``
summary rows), and its sample metadata in the series matrix (:mod:`target_rationale.cohort.geo_series`).

Two steps, two rules:

:func:`target_rationale.cohort.geo_download.download_series` (rule ``geo_download``)
    Downloads the RAW tar and every series matrix into the checksummed cache ``<cache>/<GSE>/``; any failure
    leaves nothing there.
:func:`import_cohort` (rule ``import_cohort``, this module)
    Reads the cached files (checked against the manifest's sha256) or a local folder / tar of per-sample files
    with a sample sheet or a series matrix, keeps the samples the filter selects, and writes the genes x samples
    count matrix, the sample sheet and a record of the import, which the workflow then validates like any
    user-given cohort. Problems in the user's files or filter raise
    :class:`target_rationale.core.errors.InputError`.

What the rules read and write is planned beforehand, from the config alone, by
:mod:`target_rationale.cohort.import_plan`. Per-sample files are found and combined by
:mod:`target_rationale.cohort.count_files`, each parsed by
:func:`target_rationale.cohort.tables.read_counts_text`, the workflow's one counts loader (HTSeq-count,
featureCounts or a one-column table; ``__`` rows dropped and reported).
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from target_rationale.cohort.count_files import list_count_files, match_files, read_sample_counts
from target_rationale.cohort.geo_download import read_cache_manifest
from target_rationale.cohort.geo_series import (
    filter_samples,
    geo_sample_sheet,
    looks_like_series_matrix,
    read_series_matrices,
)
from target_rationale.cohort.import_plan import plain
from target_rationale.cohort.tables import read_sample_sheet
from target_rationale.core.errors import InputError
from target_rationale.core.io import write_atomic
from target_rationale.core.jobs import LOG


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
    if looks_like_series_matrix(samples_path):
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
    counts, records = read_sample_counts(files, file_of)
    record = {"location": str(location), "samples_file": str(samples_path), "files_pattern": pattern,
              "filter": dict(sample_filter or {}), "n_samples_in_source": int(len(sheet)),
              "n_samples_selected": int(len(selected)), "n_genes": int(len(counts))}
    LOG.info("%s: %d of %d samples selected by filter %s; %d genes", source, len(selected), len(sheet),
             dict(sample_filter or {}), len(counts))
    return ImportedCohort(counts=counts, sheet=selected.reset_index(drop=True), files=records, record=record)


def import_geo(cache_dir: str | Path, sample_filter: Mapping[str, str | list[str]] | None = None,
               pattern: str = "*") -> ImportedCohort:
    """Import a downloaded series from its cache folder
    (:func:`target_rationale.cohort.geo_download.download_series`), files checked by sha256.

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
    counts, records = read_sample_counts(files, file_of)
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

    The record is written last: :func:`target_rationale.cohort.import_plan.import_is_current` trusts the three
    files only when it exists.
    """
    counts = cohort.counts.copy()
    counts.columns = list(cohort.sheet["sample"])
    counts.index.name = "gene_id"
    write_atomic(out_counts, lambda tmp: _write_gzip_tsv(counts.reset_index(), tmp))
    write_atomic(out_samples, lambda tmp: cohort.sheet.fillna("").to_csv(tmp, sep="\t", index=False,
                                                                          lineterminator="\n"))
    text = ("# Written by workflow/scripts/target_rationale/cohort/importing.py (rule import_cohort): what was "
            "imported, from where, and the summary rows dropped from each sample's file.\n"
            + yaml.safe_dump({"spec": plain(spec), **cohort.record,
                              "samples": cohort.files},
                             sort_keys=False, allow_unicode=True, width=120))
    write_atomic(out_record, lambda tmp: tmp.write_text(text, encoding="utf-8"))


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
