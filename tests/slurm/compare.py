"""Compare the results/ folders of two runs of the workflow (tests/slurm/run.sh: local vs SLURM).

    python tests/slurm/compare.py LOCAL_WORKDIR SLURM_WORKDIR [--subset]

Both runs must have written the same files (with ``--subset``: the SLURM run made some targets only, and each of
its files must be among the local run's). Every file is then compared byte for byte, except:

- ``results/provenance/`` and ``results/report/``: records of the run (its command line, which differs by design);
- ``*.svg``: compared after renumbering matplotlib's clip-path ids (``#p`` + 10 hex digits) in order of appearance:
  matplotlib derives the id of a non-rectangular clip path from the ``id()`` of a Python object, a memory address
  that differs between runs whose processes differ (here the SLURM jobs' environment), while the drawing does not;
- ``*.h5ad``: compared by content (obs, var, X, layers), as tests/workflow/test_robustness.py does, since the HDF5
  container may hold library-specific bytes;
- ``*.pkl``: the fitted pydeseq2 objects; formulaic caches a Python ``hash()`` in them, which differs from process
  to process (PYTHONHASHSEED), so their bytes never match; their numbers reach the compared DE tables.

Exit status 0 when equal, 1 with one line per difference otherwise.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RUN_RECORDS = ("results/provenance/", "results/report/")
BY_CONTENT = (".h5ad",)
CLIP_ID = re.compile(rb"\bp[0-9a-f]{10}\b")
SKIPPED = (".pkl",)


def result_files(workdir: Path) -> dict[str, Path]:
    return {p.relative_to(workdir).as_posix(): p for p in sorted((workdir / "results").rglob("*")) if p.is_file()}


def h5ad_difference(a_path: Path, b_path: Path) -> str | None:
    import anndata as ad
    import numpy as np

    a, b = ad.read_h5ad(a_path), ad.read_h5ad(b_path)
    if not a.obs.equals(b.obs):
        return "obs differ"
    if not a.var.equals(b.var):
        return "var differ"
    if not np.array_equal(_dense(a.X), _dense(b.X)):
        return "X differs"
    if set(a.layers) != set(b.layers):
        return f"layers {sorted(a.layers)} vs {sorted(b.layers)}"
    for layer in a.layers:
        if not np.array_equal(_dense(a.layers[layer]), _dense(b.layers[layer])):
            return f"layer {layer!r} differs"
    return None


def svg_normalised(path: Path) -> bytes:
    """The SVG with each clip-path id replaced by its number in order of first appearance."""
    ids: dict[bytes, bytes] = {}
    return CLIP_ID.sub(lambda m: ids.setdefault(m.group(), b"clip%d" % len(ids)), path.read_bytes())


def _dense(matrix):
    return matrix.toarray() if hasattr(matrix, "toarray") else matrix


def main(local: Path, slurm: Path, subset: bool = False) -> int:
    ours, theirs = result_files(local), result_files(slurm)
    problems = [] if subset else [f"only in the local run: {name}" for name in sorted(set(ours) - set(theirs))]
    problems += [f"only in the SLURM run: {name}" for name in sorted(set(theirs) - set(ours))]
    counts = {"bytes": 0, "svg": 0, "content": 0, "skipped": 0}
    for name in sorted(set(ours) & set(theirs)):
        if name.startswith(RUN_RECORDS) or name.endswith(SKIPPED):
            counts["skipped"] += 1
        elif name.endswith(BY_CONTENT):
            counts["content"] += 1
            difference = h5ad_difference(ours[name], theirs[name])
            if difference:
                problems.append(f"differs: {name} ({difference})")
        elif name.endswith(".svg"):
            counts["svg"] += 1
            if svg_normalised(ours[name]) != svg_normalised(theirs[name]):
                problems.append(f"differs: {name} (beyond clip-path ids)")
        else:
            counts["bytes"] += 1
            if ours[name].read_bytes() != theirs[name].read_bytes():
                problems.append(f"differs: {name}")
    if not ours:
        problems.append(f"no results/ files in {local}")
    if not theirs:
        problems.append(f"no results/ files in {slurm}")
    tables = sum(name.endswith(".tsv") for name in set(ours) & set(theirs))
    for problem in problems:
        print(f"SLURM vs local: {problem}", file=sys.stderr)
    print(f"compared {counts['bytes']} files byte for byte ({tables} .tsv tables), {counts['svg']} .svg up to "
          f"clip-path ids, {counts['content']} .h5ad by content; skipped {counts['skipped']} (run records, "
          f"pickles); {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if len(arguments) not in (2, 3) or arguments[2:] not in ([], ["--subset"]):
        sys.exit(__doc__)
    sys.exit(main(Path(arguments[0]), Path(arguments[1]), subset=arguments[2:] == ["--subset"]))
