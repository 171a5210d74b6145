"""The default analysis on the demo cohort, timed at two or more commits side by side (not a test).

From the repository root::

    python benchmarks/demo_speed.py --commits 6d36836 HEAD --repeats 2
    python benchmarks/demo_speed.py --config tests/config/config.yaml --out ...   # the test suite's tiny cohort

Each commit is checked out into its own git worktree under a temporary folder (the repository itself is not
touched) and run with this environment's Snakemake as the README's first command runs it (``snakemake --cores
N`` with the shipped config, from empty ``results/``), the commits taking turns (A B A B ...), so that a change of
machine load falls on both. Before the timed runs each worktree's numba kernels are compiled once (a warm install:
numba caches them next to the source), so the figure is the run a user makes after the first.

Per run: the wall time of the Snakemake process, the number of jobs, the sum of the jobs' wall and CPU times
(Snakemake's benchmark files, ``logs/benchmarks/``, as ``run_benchmark.job_table`` reads them), the same per rule
(``rules``: where the time went), and the core-seconds left idle (from the start and end of every job in
Snakemake's log: ``cores x wall`` minus the time jobs held the cores, job by job at one second's resolution).
Writes ``benchmarks/results/demo_speed.json`` (per-run rows, the median per commit, the commits' full hashes, the
commit of this script's checkout) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from measured_commit import RESULTS, measured_commit  # noqa: E402
from run_benchmark import job_table  # noqa: E402  (Snakemake's log and benchmark files, job by job)

#: Compiles (and caches) the GSEA engine's numba kernels in a worktree: a small ranking through ``prerank``.
WARM_UP = ("import numpy as np, pandas as pd; from target_rationale.engines.gsea import prerank; "
           "r = pd.Series(np.linspace(3, -3, 400), index=[f'g{i}' for i in range(400)]); "
           "prerank(r, {'a': [f'g{i}' for i in range(0, 400, 7)], 'b': [f'g{i}' for i in range(5, 60)]}, "
           "min_size=5, nperm=200)")


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def idle_core_seconds(jobs, cores: int) -> int:
    """Core-seconds no job held, second by second over the run (every job counted as one core); ``jobs`` is
    :func:`run_benchmark.job_table`'s table (``start``, ``end`` from Snakemake's log)."""
    first = jobs["start"].min()
    spans = [((s - first).total_seconds(), (e - first).total_seconds()) for s, e in zip(jobs["start"], jobs["end"])]
    end = int(max(e for _, e in spans))
    return sum(max(0, cores - sum(1 for s, e in spans if s <= t < e)) for t in range(end))


def run_once(workdir: Path, cores: int, config: str | None = None) -> dict[str, float]:
    """One default run (or one with the worktree's ``config`` file) from empty results in ``workdir``; its
    figures."""
    for folder in ("results", "logs", ".snakemake"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    started = time.perf_counter()
    extra = ["--configfile", str(workdir / config)] if config else []
    done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), *extra], cwd=workdir,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"the run in {workdir} failed:\n{done.stderr[-3000:]}")
    jobs = job_table(workdir)
    return {"wall_s": round(wall, 1), "jobs": len(jobs), "job_wall_s": round(float(jobs["wall_s"].sum()), 1),
            "job_cpu_s": round(float(jobs["cpu_s"].sum()), 1), "idle_core_s": idle_core_seconds(jobs, cores),
            "rules": rule_table(jobs)}


def rule_table(jobs) -> dict[str, dict[str, float]]:
    """Per rule, most summed job wall time first: its jobs, their summed wall and CPU time (s) and the longest job
    (where the run's time went; CPU as Snakemake's benchmark files sample it, which can miss a job's last
    seconds)."""
    grouped = jobs.groupby("rule")
    table = {rule: {"jobs": int(len(part)), "wall_s": round(float(part["wall_s"].sum()), 1),
                    "cpu_s": round(float(part["cpu_s"].sum()), 1),
                    "longest_s": round(float(part["wall_s"].max()), 1)} for rule, part in grouped}
    return dict(sorted(table.items(), key=lambda item: -item[1]["wall_s"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", nargs="+", default=["HEAD"], help="commits to time (first: the baseline)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", help="a config file of the repository to run instead of the default (e.g. "
                                         "tests/config/config.yaml: the tiny cohort the test suite runs)")
    parser.add_argument("--out", type=Path, default=RESULTS / "demo_speed.json")
    args = parser.parse_args()
    shas = [git("rev-parse", commit) for commit in args.commits]
    folder = Path(tempfile.mkdtemp(prefix="demo_speed_"))
    trees = {}
    try:
        for sha in shas:
            tree = folder / sha[:12]
            git("worktree", "add", "--detach", str(tree), sha)
            env = {**os.environ, "PYTHONPATH": str(tree / "workflow" / "scripts")}
            subprocess.run([sys.executable, "-c", WARM_UP], cwd=tree, env=env, check=True, capture_output=True)
            trees[sha] = tree
        rows = []
        for repeat in range(args.repeats):
            for sha in shas:
                row = {"commit": sha, "repeat": repeat + 1, **run_once(trees[sha], args.cores, args.config)}
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    medians = {sha: {key: statistics.median(r[key] for r in rows if r["commit"] == sha)
                     for key in ("wall_s", "jobs", "job_wall_s", "job_cpu_s", "idle_core_s")} for sha in shas}
    load = os.getloadavg()
    result = {"script": "benchmarks/demo_speed.py", **measured_commit(), "arguments": {
        "commits": shas, "repeats": args.repeats, "cores": args.cores, "config": args.config}, "load_after": load,
        "median": medians, "runs": rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("| commit | wall (median) | jobs | jobs' wall sum | jobs' CPU sum | idle core-s |")
    print("|---|---|---|---|---|---|")
    for sha, m in medians.items():
        print(f"| {sha[:7]} | {m['wall_s']:.0f} s | {m['jobs']:.0f} | {m['job_wall_s']:.0f} s | {m['job_cpu_s']:.0f} s"
              f" | {m['idle_core_s']:.0f} |")


if __name__ == "__main__":
    main()
