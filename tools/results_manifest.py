#!/usr/bin/env python3
"""SHA-256 manifest of a run's results/, to show that a change of code leaves every result byte-identical.

    python tools/results_manifest.py write RUN_DIR tools/manifests/demo.sha256
    python tools/results_manifest.py check RUN_DIR tools/manifests/demo.sha256

RUN_DIR is the folder the workflow ran in (it holds results/): run it in the repository's own folder, as
`snakemake --cores 2` (demo) or `snakemake --cores 2 --configfile tests/config/config.yaml` (tiny), so that the
input paths recorded in results (the h5ad's source, the gene-set manifests) are the same relative paths in
every checkout; move results/ away between the two runs. Files that record how the run was made rather
than what it found are left out: results/provenance/ (command line, versions, checksums of the inputs' paths),
the HTML report (it embeds the provenance) and the fit pickles (pickled Python objects whose bytes depend on the
class's module path; their numbers are what the DE tables hold, which are compared). SVGs are hashed after
renumbering matplotlib's clip-path ids in order of appearance: matplotlib derives the id of a non-rectangular clip
path from a Python object's memory address, which differs from run to run (tests/slurm/compare.py does the same).
`check` lists every file
whose digest differs, is missing, or is new, and exits 1 if there is any.

A manifest holds on the machine that wrote it: numpy's and scipy's OpenBLAS choose their kernels by CPU at run
time, so another CPU changes the last bits of most tables and figures with the same code and pins (a fresh install
of 6d36836 on a new machine differed in 152 of the demo's 242 files; the tests passed). Before changing code,
write the manifest of the unchanged code on the machine at hand, then check the changed code against it.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import re
import sys
from pathlib import Path

#: Result files that describe the run, not its findings (see the module docstring).
EXCLUDED = ("results/provenance/*", "results/report/*", "results/diffexp/fits/*.pkl",
            "results/diffexp/unadjusted/fits/*.pkl")
#: matplotlib's clip-path ids in an SVG (``p`` + 10 hex digits).
CLIP_ID = re.compile(rb"\bp[0-9a-f]{10}\b")


def content(path: Path) -> bytes:
    """The bytes compared: the file's, with an SVG's clip-path ids renumbered in order of first appearance."""
    data = path.read_bytes()
    if path.suffix == ".svg":
        ids: dict[bytes, bytes] = {}
        data = CLIP_ID.sub(lambda m: ids.setdefault(m.group(), b"clip%d" % len(ids)), data)
    return data


def digests(run_dir: Path) -> dict[str, str]:
    """``{path under run_dir: sha256}`` of every file under ``run_dir/results`` but the excluded ones."""
    found = {}
    for path in sorted((run_dir / "results").rglob("*")):
        name = path.relative_to(run_dir).as_posix()
        if path.is_file() and not any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDED):
            found[name] = hashlib.sha256(content(path)).hexdigest()
    return found


def read_manifest(path: Path) -> dict[str, str]:
    return {name: digest for digest, name in (line.split("  ", 1) for line in path.read_text().splitlines()
                                              if line and not line.startswith("#"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["write", "check"])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("manifest", type=Path)
    args = parser.parse_args(argv)
    found = digests(args.run_dir)
    if args.action == "write":
        lines = [f"# sha256 of results/ (tools/results_manifest.py; excluded: {', '.join(EXCLUDED)})"]
        args.manifest.parent.mkdir(parents=True, exist_ok=True)
        args.manifest.write_text("\n".join(lines + [f"{d}  {n}" for n, d in found.items()]) + "\n")
        print(f"{len(found)} files -> {args.manifest}")
        return 0
    expected = read_manifest(args.manifest)
    changed = sorted(n for n in expected.keys() & found.keys() if expected[n] != found[n])
    missing = sorted(expected.keys() - found.keys())
    new = sorted(found.keys() - expected.keys())
    for label, names in (("differs", changed), ("missing", missing), ("new", new)):
        for name in names:
            print(f"{label}: {name}")
    print(f"{len(expected)} expected, {len(changed)} differ, {len(missing)} missing, {len(new)} new")
    return 1 if changed or missing or new else 0


if __name__ == "__main__":
    sys.exit(main())
