"""What a run was made from: resolved config, inputs' checksums, software versions, seeds, gene-set manifests.

Everything here is written to ``results/provenance/`` by the rule ``provenance`` and shown in the HTML report,
so a reader can check which data, settings and software produced the tables they look at.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from target_rationale.core.io import write_atomic, write_tsv
from target_rationale.core.jobs import LOG

#: Distributions whose versions decide the numbers (in the order the report lists them).
KEY_PACKAGES = ("snakemake", "pydeseq2", "gseapy", "scanpy", "anndata", "numpy", "scipy", "pandas", "formulaic",
                "numba", "matplotlib", "scikit-learn", "statsmodels", "scikit-misc", "lifelines", "threadpoolctl",
                "PyYAML", "jsonschema", "requests")


#: What the single configured seed drives (documented next to it in the provenance).
SEED_USES = {
    "pca": "randomized SVD solver of the QC PCA (scanpy)",
    "gsea": "gene-label permutations of preranked GSEA (builtin engine and gseapy)",
    "axis_scores": "control-gene sampling of scanpy.tl.score_genes per axis",
}


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions(packages: Iterable[str] = KEY_PACKAGES) -> pd.DataFrame:
    """Python, the platform and the installed version of each key package (``not installed`` if absent).

    Returns
    -------
    pandas.DataFrame
        Columns ``software`` and ``version``, Python and the platform first.
    """
    rows = [("python", platform.python_version()), ("platform", f"{platform.system()} {platform.machine()}")]
    for name in packages:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["software", "version"])


def input_checksums(inputs: Mapping[str, str | Path]) -> pd.DataFrame:
    """One row per input file: its role, the path as configured, size in bytes and SHA-256.

    Parameters
    ----------
    inputs
        Role (e.g. ``counts``, ``genesets:GO_BP``) -> path.
    """
    rows = [{"input": role, "path": str(path), "bytes": os.path.getsize(path), "sha256": sha256(path)}
            for role, path in inputs.items()]
    return pd.DataFrame(rows, columns=["input", "path", "bytes", "sha256"])


def run_record(config: Mapping, command: str | None, seed: int) -> dict:
    """The run's command line, seed and what it drives, the Snakemake version and the Python executable."""
    return {
        "command": command or "unknown (the rule ran outside a Snakemake invocation of this workflow)",
        "seed": seed,
        "seed_drives": dict(SEED_USES),
        "snakemake": metadata.version("snakemake"),
        "python_executable": sys.executable,
        "contrasts": [contrast["name"] for contrast in config.get("contrasts", [])],
    }


def write_provenance(config: Mapping, inputs: Mapping[str, str | Path], sample_sheet: str | Path,
                     manifests: Mapping[str, str | Path], command: str | None, out: Mapping[str, str]) -> None:
    """Write the provenance files of a run.

    Parameters
    ----------
    config
        The resolved config (defaults filled in), written back as YAML.
    inputs
        Role -> input path, checksummed (counts, sample sheet, gene-id map, targets, gene-set files, ...).
    sample_sheet
        The sample sheet as given, copied byte for byte.
    manifests
        Collection -> its ``results/genesets/<collection>.manifest.yaml``; gathered into one YAML file.
    command
        The Snakemake command line of the run (None if unknown).
    out
        Paths for the keys ``config``, ``samples``, ``versions``, ``checksums``, ``genesets`` and ``run``.
    """
    write_atomic(out["config"], lambda tmp: tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False)))
    write_atomic(out["samples"], lambda tmp: shutil.copyfile(sample_sheet, tmp))
    versions = package_versions()
    write_tsv(versions, out["versions"])
    checksums = input_checksums(inputs)
    write_tsv(checksums, out["checksums"])
    gathered = {name: yaml.safe_load(Path(path).read_text()) for name, path in manifests.items()}
    write_atomic(out["genesets"], lambda tmp: tmp.write_text(yaml.safe_dump(gathered, sort_keys=False)))
    record = run_record(config, command, int(config.get("seed", 0)))
    write_atomic(out["run"], lambda tmp: tmp.write_text(yaml.safe_dump(record, sort_keys=False)))
    LOG.info("provenance: %d inputs checksummed, %d packages, %d gene-set manifests; command: %s",
             len(checksums), len(versions), len(gathered), record["command"])
