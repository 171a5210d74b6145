#!/usr/bin/env python3
"""Build the host-tissue reference shipped in ``resources/host_reference/`` from the HPA v23 tables in a PyPI wheel.

A liver-metastasis biopsy is tumour plus liver, and a primary carries exocrine pancreas. To estimate and model
those host fractions the workflow needs expression profiles of the host tissues and of their cell types. This
script takes them from the Human Protein Atlas (HPA) release 23, as bundled in the PyPI wheel
``pirlygenes==4.50.15`` (the last release line that ships the tables; later ones fetch them at run time):

* ``pirlygenes/data/pan-cancer-expression.csv``: HPA v23 RNA tissue consensus nTPM (``nTPM_<tissue>`` columns,
  HPA file ``rna_tissue_consensus.tsv``) next to TCGA FPKM columns, which are not used;
* ``pirlygenes/data/hpa-cell-type-expression.csv``: HPA v23 single-cell-type nTPM (81 cell types, HPA file
  ``rna_single_cell_type.tsv``).

The wheel's sha256 and both members' md5 are pinned and checked before anything is read.

Output (deterministic: a rebuild from the same wheel is byte-identical):

* ``<out>/hpa_v23_host_ntpm.tsv.gz``: tab-separated, gzip with ``mtime=0`` and no file name. Columns
  ``ensembl_gene_id, symbol``, the two tissues (``liver``, ``pancreas``) then 13 cell types in snake_case
  (``PROFILES`` below maps each to HPA's name). One row per Ensembl gene present in both tables (inner join;
  the genes only one table has are counted in the manifest), sorted by Ensembl id. Values are the wheel's
  text, unchanged (nTPM with one decimal): nothing is rescaled or rounded. The columns do not sum to 1e6
  (HPA's consensus takes, per gene, the higher of its HPA and GTEx values); renormalise over your gene
  universe before using a column as a mixing profile (``target_rationale.admixture.reference`` does).
* ``<out>/MANIFEST.yaml``: source wheel and its sha256, members and their md5, HPA release, licence and the
  attribution HPA asks for, the columns with their HPA names, the output's sha256, size and rows, and the
  command that rebuilds it. No build date and no local path is recorded.

Usage
-----
Fetch the wheel with the running interpreter's pip (into a temporary directory removed afterwards) and build::

    python resources/build_host_reference.py

Or use a wheel you already have (``pip download --no-deps --only-binary=:all: pirlygenes==4.50.15``)::

    python resources/build_host_reference.py --wheel /tmp/pirlygenes-4.50.15-py3-none-any.whl

Licences: the data are HPA's, under Creative Commons Attribution-ShareAlike (CC BY-SA 4.0; credit the Human
Protein Atlas, www.proteinatlas.org, and cite Uhlén et al. 2015 and Karlsson et al. 2021); pirlygenes' own
Apache-2.0 licence covers its code and packaging only. See ``resources/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the GO builder beside this script, also when imported
from build_orgdb_resources import gzip_bytes, write_bytes_if_changed  # noqa: E402

#: The pip requirement fetched, and the wheel it must give.
PACKAGE = "pirlygenes==4.50.15"
WHEEL_NAME = "pirlygenes-4.50.15-py3-none-any.whl"
WHEEL_SHA256 = "9cc2d60e8af536da5351136461a6beca1d1bd8abf0427acbba6872529cc2c01b"

TISSUE_MEMBER = "pirlygenes/data/pan-cancer-expression.csv"
CELL_MEMBER = "pirlygenes/data/hpa-cell-type-expression.csv"
#: Member -> md5 of its bytes in the pinned wheel.
MEMBER_MD5: dict[str, str] = {
    TISSUE_MEMBER: "ba97ec51758790aecdfb81340185cfed",
    CELL_MEMBER: "56b54c673ca577bf30403ed721ae5942",
}
#: The id and symbol columns of both members, and the names the output gives them.
ID_COLUMNS: tuple[str, str] = ("Ensembl_Gene_ID", "Symbol")
OUT_ID_COLUMNS: tuple[str, str] = ("ensembl_gene_id", "symbol")

HPA_RELEASE = "v23"
OUTPUT_FILE = "hpa_v23_host_ntpm.tsv.gz"
BUILD_COMMAND = "python resources/build_host_reference.py"


@dataclass(frozen=True)
class Profile:
    """One output column: where it comes from and what HPA calls it.

    Attributes
    ----------
    kind : {"tissue", "cell_type"}
        HPA tissue consensus (bulk tissue) or HPA single cell type.
    member : str
        Wheel member holding the column.
    source_column : str
        Column name in that member.
    hpa_name : str
        HPA's name of the tissue or cell type.
    """

    kind: str
    member: str
    source_column: str
    hpa_name: str


def _tissue(name: str) -> Profile:
    return Profile("tissue", TISSUE_MEMBER, f"nTPM_{name}", name)


def _cell(hpa_name: str) -> Profile:
    return Profile("cell_type", CELL_MEMBER, hpa_name, hpa_name)


#: Output column -> source. Tissues first, then the cell types of liver metastases (liver parenchyma,
#: sinusoids, immune cells, stroma) and of pancreatic primaries (acinar, ductal, islet cells).
PROFILES: dict[str, Profile] = {
    "liver": _tissue("liver"),
    "pancreas": _tissue("pancreas"),
    "hepatocytes": _cell("Hepatocytes"),
    "kupffer_cells": _cell("Kupffer cells"),
    "cholangiocytes": _cell("Cholangiocytes"),
    "endothelial_cells": _cell("Endothelial cells"),
    "fibroblasts": _cell("Fibroblasts"),
    "smooth_muscle_cells": _cell("Smooth muscle cells"),
    "macrophages": _cell("Macrophages"),
    "t_cells": _cell("T-cells"),
    "b_cells": _cell("B-cells"),
    "plasma_cells": _cell("Plasma cells"),
    "exocrine_glandular_cells": _cell("Exocrine glandular cells"),
    "ductal_cells": _cell("Ductal cells"),
    "pancreatic_endocrine_cells": _cell("Pancreatic endocrine cells"),
}

LICENCE = {
    "data": "Human Protein Atlas data: Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0)",
    "data_licence_url": "https://creativecommons.org/licenses/by-sa/4.0/",
    "licence_page": "https://v23.proteinatlas.org/about/licence",
    "note": "HPA's v23 licence page was not fetched for this build. HPA's v22 page is quoted (by a third party) "
            "as CC BY-SA 3.0 and the current www page as 'Attribution 4.0 International'. Either way this derived "
            "file may be shared as CC BY-SA 4.0: CC BY-SA 3.0 lets adaptations use a later version with the same "
            "elements, and CC BY lets them use any licence that keeps the attribution. Keep the attribution below "
            "and share alike; check the licence page when online.",
    "attribution": "Data from the Human Protein Atlas (www.proteinatlas.org), release 23 (v23.proteinatlas.org): "
                   "RNA tissue consensus (rna_tissue_consensus.tsv) and RNA single cell type "
                   "(rna_single_cell_type.tsv) nTPM. HPA asks users to cite its primary publication and to "
                   "name the data used with a link to it.",
    "citations": [
        "Uhlén M et al. (2015) Tissue-based map of the human proteome. Science 347:1260419. "
        "doi:10.1126/science.1260419",
        "Karlsson M et al. (2021) A single-cell type transcriptomics map of human tissues. Sci Adv 7:eabh2169. "
        "doi:10.1126/sciadv.abh2169",
    ],
    "package_code": "pirlygenes (github.com/pirl-unc/pirlygenes): Apache-2.0, covers its code and packaging only",
}

_MANIFEST_HEADER = "# Generated by resources/build_host_reference.py; do not edit by hand. Rebuild instead.\n"


# ----------------------------------------------------------------------------------------------------------
# Fetching and checking the wheel
# ----------------------------------------------------------------------------------------------------------
def sha256_file(path: str | Path) -> str:
    """Return the sha256 hex digest (64 hex digits) of a file.

    Parameters
    ----------
    path : str or Path
        File.

    Returns
    -------
    str
        The digest.
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def download_wheel(workdir: Path, package: str = PACKAGE) -> Path:
    """Fetch the wheel with the running interpreter's pip (no dependencies, binary only).

    Parameters
    ----------
    workdir : Path
        Directory to download into (must exist; should be outside the repository).
    package : str
        pip requirement, e.g. ``pirlygenes==4.50.15``.

    Returns
    -------
    Path
        The downloaded wheel.

    Raises
    ------
    subprocess.CalledProcessError
        If pip fails (e.g. no network).
    FileNotFoundError
        If pip left no wheel, or several, in ``workdir``.
    """
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "-d", str(workdir), package], check=True)
    wheels = sorted(workdir.glob("*.whl"))
    if len(wheels) != 1:
        raise FileNotFoundError(f"expected one wheel in {workdir} after 'pip download {package}', found {wheels}")
    return wheels[0]


def verify_wheel(path: str | Path, expected_sha256: str = WHEEL_SHA256) -> str:
    """Check the wheel's sha256 against the pinned one.

    Parameters
    ----------
    path : str or Path
        Wheel file.
    expected_sha256 : str
        Pinned digest.

    Returns
    -------
    str
        The digest (equal to ``expected_sha256``).

    Raises
    ------
    ValueError
        If the digest differs.
    """
    got = sha256_file(path)
    if got != expected_sha256:
        raise ValueError(f"{path}: sha256 {got}, expected {expected_sha256} ({PACKAGE}); not the pinned wheel")
    return got


def read_member(wheel: zipfile.ZipFile, name: str, expected_md5: str | None) -> list[list[str]]:
    """Read one CSV member of the wheel as rows of text, after checking its md5.

    Parameters
    ----------
    wheel : zipfile.ZipFile
        The open wheel.
    name : str
        Member name.
    expected_md5 : str or None
        Pinned md5 of the member's bytes; ``None`` skips the check (tests on a made-up wheel).

    Returns
    -------
    list of list of str
        Header then data rows, fields as the text in the file.

    Raises
    ------
    KeyError
        If the member is missing.
    ValueError
        If the md5 differs, or the first two columns are not ``Ensembl_Gene_ID, Symbol``.
    """
    raw = wheel.read(name)
    got = hashlib.md5(raw).hexdigest()
    if expected_md5 is not None and got != expected_md5:
        raise ValueError(f"{name}: md5 {got}, expected {expected_md5}")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    if not rows or tuple(rows[0][:2]) != ID_COLUMNS:
        found = rows[0][:2] if rows else []
        raise ValueError(f"{name}: expected the columns to start with {list(ID_COLUMNS)}, got {found}")
    return rows


def _rows_by_id(rows: list[list[str]], name: str, wanted: Sequence[str]) -> dict[str, list[str]]:
    """Data rows of one member keyed by Ensembl id, after checking that the ``wanted`` columns exist."""
    header = rows[0]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ValueError(f"{name}: columns {missing} not found")
    by_id: dict[str, list[str]] = {}
    for row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(f"{name}: row {row[:1]} has {len(row)} fields, the header {len(header)}")
        if row[0] in by_id:
            raise ValueError(f"{name}: Ensembl id {row[0]} appears twice")
        by_id[row[0]] = row
    return by_id


# ----------------------------------------------------------------------------------------------------------
# Extraction
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Extracted:
    """The reference table as text, and the counts the manifest records.

    Attributes
    ----------
    header : list of str
        ``ensembl_gene_id, symbol`` then the profile columns (``PROFILES`` order).
    rows : list of list of str
        One row per gene in both members, sorted by Ensembl id; values as the wheel's text.
    member_md5 : dict of str to str
        md5 of each member as read.
    genes_per_member : dict of str to int
        Data rows of each member.
    only_in_member : dict of str to int
        Genes one member has and the other lacks (left out).
    """

    header: list[str]
    rows: list[list[str]]
    member_md5: dict[str, str]
    genes_per_member: dict[str, int]
    only_in_member: dict[str, int]


def _is_level(text: str) -> bool:
    """Whether ``text`` reads as a finite non-negative number (an nTPM value)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0


def extract_reference(wheel_path: str | Path, member_md5: Mapping[str, str] | None = MEMBER_MD5,
                      profiles: Mapping[str, Profile] = PROFILES) -> Extracted:
    """Read the two members of the wheel and join the profile columns on the Ensembl id.

    Parameters
    ----------
    wheel_path : str or Path
        The wheel (its sha256 is checked separately, by :func:`verify_wheel`).
    member_md5 : mapping of str to str, optional
        Member -> expected md5. ``None`` skips the md5 checks (tests on a made-up wheel).
    profiles : mapping of str to Profile
        Output column -> source column.

    Returns
    -------
    Extracted
        The joined table (genes present in both members, sorted by Ensembl id) and its counts.

    Raises
    ------
    ValueError
        If an md5 differs, a column is missing, an id repeats, the two members give a gene different symbols,
        or a value is not a non-negative number.
    """
    members = [TISSUE_MEMBER, CELL_MEMBER]
    with zipfile.ZipFile(wheel_path) as wheel:
        tables = {m: read_member(wheel, m, None if member_md5 is None else member_md5[m]) for m in members}
        md5s = {m: hashlib.md5(wheel.read(m)).hexdigest() for m in members}
    keyed = {m: _rows_by_id(tables[m], m, [p.source_column for p in profiles.values() if p.member == m])
             for m in members}
    positions = [(p.member, tables[p.member][0].index(p.source_column)) for p in profiles.values()]
    shared = set(keyed[TISSUE_MEMBER]) & set(keyed[CELL_MEMBER])
    rows = []
    for gene in sorted(shared):
        symbols = {keyed[m][gene][1] for m in members}
        if len(symbols) != 1:
            raise ValueError(f"{gene}: the members give different symbols {sorted(symbols)}")
        values = [keyed[member][gene][at] for member, at in positions]
        if not all(_is_level(v) for v in values):
            raise ValueError(f"{gene}: a value is not a non-negative number: {values}")
        rows.append([gene, symbols.pop(), *values])
    return Extracted(header=[*OUT_ID_COLUMNS, *profiles], rows=rows, member_md5=md5s,
                     genes_per_member={m: len(keyed[m]) for m in members},
                     only_in_member={m: len(set(keyed[m]) - shared) for m in members})


def format_tsv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """Format rows as tab-separated UTF-8 text with ``\\n`` line ends.

    Parameters
    ----------
    header : sequence of str
        Column names.
    rows : sequence of sequence of str
        Fields, written as given.

    Returns
    -------
    bytes
        The table.

    Raises
    ------
    ValueError
        If a field contains a tab or a line break.
    """
    bad = next((fields for fields in [header, *rows] if any(c in f for f in fields for c in "\t\r\n")), None)
    if bad is not None:
        raise ValueError(f"row {list(bad[:2])}: a field contains a tab or line break")
    return "".join("\t".join(fields) + "\n" for fields in [header, *rows]).encode("utf-8")


def build_manifest(extracted: Extracted, data: bytes, text: bytes, wheel_sha256: str,
                   profiles: Mapping[str, Profile] = PROFILES) -> dict:
    """The manifest of one build.

    Parameters
    ----------
    extracted : Extracted
        The extracted table and its counts.
    data, text : bytes
        The gzipped file and its uncompressed content.
    wheel_sha256 : str
        sha256 of the wheel read.
    profiles : mapping of str to Profile
        Output column -> source column.

    Returns
    -------
    dict
        Nested dicts and lists of str and int, in the order written.
    """
    return {
        "description": "Host-tissue reference for admixture estimates: HPA v23 RNA tissue consensus nTPM of liver and "
                       "pancreas and HPA v23 single-cell-type nTPM of the cell types of liver metastases and "
                       "pancreatic primaries, per Ensembl gene.",
        "build_command": BUILD_COMMAND,
        "build_command_local_wheel": f"{BUILD_COMMAND} --wheel <dir>/{WHEEL_NAME}",
        "source": {
            "pypi_package": PACKAGE,
            "wheel": WHEEL_NAME,
            "wheel_sha256": wheel_sha256,
            "fetched_with": "python -m pip download --no-deps --only-binary=:all: " + PACKAGE,
            "upstream_repository": "https://github.com/pirl-unc/pirlygenes",
            "members": [
                {"name": TISSUE_MEMBER, "md5": extracted.member_md5[TISSUE_MEMBER],
                 "genes": extracted.genes_per_member[TISSUE_MEMBER],
                 "what": "HPA v23 RNA tissue consensus nTPM (nTPM_<tissue>; HPA rna_tissue_consensus.tsv) next to "
                         "TCGA FPKM columns (not used)"},
                {"name": CELL_MEMBER, "md5": extracted.member_md5[CELL_MEMBER],
                 "genes": extracted.genes_per_member[CELL_MEMBER],
                 "what": "HPA v23 RNA single cell type nTPM, 81 cell types (HPA rna_single_cell_type.tsv)"},
            ],
            "hpa_release": HPA_RELEASE,
            "hpa_release_url": "https://v23.proteinatlas.org",
        },
        "licence": LICENCE,
        "method": {
            "rows": "genes (unversioned Ensembl ids) present in both members (inner join), sorted by Ensembl id",
            "left_out_genes_only_in": {m: n for m, n in extracted.only_in_member.items()},
            "values": "the wheel's text, unchanged (nTPM, one decimal); nothing rescaled or rounded",
            "scale": "columns do not sum to 1e6 (HPA consensus takes, per gene, the higher of HPA and GTEx values); "
                     "renormalise over the gene universe before using a column as a mixing profile",
            "format": "tab-separated with a header, '\\n' line ends, gzip with mtime 0 and no file name",
        },
        "profiles": [{"column": column, "kind": p.kind, "hpa_name": p.hpa_name, "member": p.member,
                      "source_column": p.source_column} for column, p in profiles.items()],
        "file": {
            "name": OUTPUT_FILE,
            "columns": list(extracted.header),
            "rows": len(extracted.rows),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "sha256_uncompressed": hashlib.sha256(text).hexdigest(),
        },
    }


def dump_manifest(manifest: Mapping) -> str:
    """Serialise a manifest to YAML deterministically (insertion order kept).

    Parameters
    ----------
    manifest : mapping
        Nested dicts / lists of str and int.

    Returns
    -------
    str
        YAML text with a "generated, do not edit" header.
    """
    return _MANIFEST_HEADER + yaml.safe_dump(dict(manifest), sort_keys=False, default_flow_style=False,
                                             allow_unicode=True, width=110)


def build(wheel_path: str | Path, out_dir: Path, member_md5: Mapping[str, str] | None = MEMBER_MD5,
          wheel_sha256: str | None = WHEEL_SHA256) -> dict:
    """Check the wheel, extract the reference, write it and its manifest.

    Parameters
    ----------
    wheel_path : str or Path
        The wheel.
    out_dir : Path
        Output directory (``resources/host_reference``).
    member_md5 : mapping of str to str, optional
        Pinned member md5s; ``None`` skips the checks (tests).
    wheel_sha256 : str, optional
        Pinned wheel sha256; ``None`` skips the check (tests).

    Returns
    -------
    dict
        The manifest written.
    """
    digest = sha256_file(wheel_path) if wheel_sha256 is None else verify_wheel(wheel_path, wheel_sha256)
    extracted = extract_reference(wheel_path, member_md5)
    text = format_tsv(extracted.header, extracted.rows)
    data = gzip_bytes(text)
    write_bytes_if_changed(out_dir / OUTPUT_FILE, data)
    manifest = build_manifest(extracted, data, text, digest)
    write_bytes_if_changed(out_dir / "MANIFEST.yaml", dump_manifest(manifest).encode("utf-8"))
    print(f"[host_reference] {OUTPUT_FILE}: {len(extracted.rows)} genes x {len(PROFILES)} profiles, "
          f"{len(data)} bytes", file=sys.stderr)
    return manifest


# ----------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        Parsed options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help=f"use this {WHEEL_NAME} instead of downloading it with pip")
    parser.add_argument("--workdir", type=Path,
                        help="download the wheel here and keep it (default: a temporary directory, removed)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "host_reference",
                        help="output directory (default: resources/host_reference next to this script)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0 on success).
    """
    args = parse_args(argv)
    if args.wheel is not None:
        build(args.wheel, args.out)
        return 0
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        build(download_wheel(args.workdir.resolve()), args.out)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="host_reference_"))
    try:
        build(download_wheel(workdir), args.out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
