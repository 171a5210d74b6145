"""What each rule's job pays before it starts work: the import time of every rule script, at one or more commits
side by side (not a test).

From the repository root::

    python benchmarks/job_imports.py --commits 0ffd04a HEAD --repeats 5

Every job of the workflow is a fresh Python process that runs one script of ``workflow/scripts/``; the script's
module-level imports (the package's modules and, through them, pandas, anndata, scipy, matplotlib, pydeseq2,
scanpy, ...) run before any of its work. For each commit (checked out into its own git worktree under a temporary
folder; the repository itself is not touched) and each script, this runs exactly those import statements (read
with ``ast``) in a fresh interpreter, ``repeats`` times with the commits taking turns, and records the median
wall time and which heavy packages ended up imported. Imports a job makes later, inside the functions it calls
(e.g. the GSEA engine, numba and scipy.stats, once the enrich job runs GSEA), are not counted: the enrich
script's figure is its start, not all it imports. Writes ``benchmarks/results/job_imports.json`` and prints
a Markdown table (seconds per script and commit).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from demo_speed import git  # noqa: E402  (the same worktree handling)
from measured_commit import RESULTS, measured_commit  # noqa: E402

#: Packages whose presence in ``sys.modules`` after the imports is recorded.
HEAVY = ("scipy.stats", "scipy.optimize", "anndata", "scanpy", "matplotlib", "pydeseq2", "sklearn", "numba",
         "gseapy", "lifelines")

PROBE = """
import sys, time
start = time.perf_counter()
exec(compile({code!r}, "imports", "exec"))
elapsed = time.perf_counter() - start
print(elapsed, ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def script_imports(path: Path) -> str:
    """The module-level import statements of a rule script, as source."""
    tree = ast.parse(path.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def time_imports(tree: Path, script: str) -> tuple[float, list[str]]:
    """Seconds to run ``script``'s imports in a fresh interpreter of this environment, and the heavy packages."""
    code = script_imports(tree / "workflow" / "scripts" / script)
    env = {**os.environ, "PYTHONPATH": str(tree / "workflow" / "scripts"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    seconds, _, packages = run.stdout.strip().splitlines()[-1].partition(" ")
    return float(seconds), [m for m in packages.split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", nargs="+", default=["HEAD"], help="commits to measure (first: the baseline)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "job_imports.json")
    args = parser.parse_args()
    shas = [git("rev-parse", commit) for commit in args.commits]
    folder = Path(tempfile.mkdtemp(prefix="job_imports_"))
    trees: dict[str, Path] = {}
    times: dict[str, dict[str, list[float]]] = {sha: {} for sha in shas}
    heavy: dict[str, dict[str, list[str]]] = {sha: {} for sha in shas}
    try:
        for sha in shas:
            trees[sha] = folder / sha[:12]
            git("worktree", "add", "--detach", str(trees[sha]), sha)
        scripts = sorted(set.intersection(*({p.name for p in (t / "workflow" / "scripts").glob("*.py")}
                                            for t in trees.values())))
        for script in scripts:  # one warm-up each (file-system caches), then the timed turns
            for sha in shas:
                time_imports(trees[sha], script)
        for _ in range(args.repeats):
            for script in scripts:
                for sha in shas:
                    seconds, packages = time_imports(trees[sha], script)
                    times[sha].setdefault(script, []).append(seconds)
                    heavy[sha][script] = packages
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    median = {sha: {s: round(statistics.median(v), 3) for s, v in times[sha].items()} for sha in shas}
    result = {"script": "benchmarks/job_imports.py", **measured_commit(),
              "arguments": {"commits": shas, "repeats": args.repeats}, "load_after": os.getloadavg(),
              "median_s": median, "total_s": {sha: round(sum(m.values()), 2) for sha, m in median.items()},
              "heavy": heavy, "runs_s": times}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("| script | " + " | ".join(sha[:7] for sha in shas) + " |")
    print("|---|" + "---|" * len(shas))
    for script in sorted(median[shas[0]], key=lambda s: -median[shas[0]][s]):
        print(f"| {script} | " + " | ".join(f"{median[sha][script]:.2f}" for sha in shas) + " |")
    print("| all scripts | " + " | ".join(f"{result['total_s'][sha]:.1f}" for sha in shas) + " |")


if __name__ == "__main__":
    main()
