"""What a benchmark result records about the code it measured (the commit, and whether the tree was clean), and
the writing of a per-seed result."""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Where benchmark results are committed (each JSON names the commit it measured); scratch goes to benchmarks/out/.
RESULTS = REPO / "benchmarks" / "results"


def measured_commit() -> dict[str, object]:
    """``{"commit": <sha of HEAD>, "dirty": <uncommitted changes to tracked files>}`` of the repository."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def write_result(script: str, args: argparse.Namespace, summary: dict, rows: list[dict]) -> dict:
    """Write a per-seed benchmark's result to ``args.out`` (script, commit, arguments, summary, per-seed rows),
    print its summary and return it."""
    result = {"script": script, **measured_commit(),
              "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "summary": summary, "seeds": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))
    return result


def seed_parser(doc: str, out: str, seeds: int) -> argparse.ArgumentParser:
    """The command line of a per-seed benchmark (described by the first line of ``doc``): ``--seeds`` (default
    ``seeds``), ``--first-seed`` (1), ``--patients`` (10), ``--cores`` (2) and ``--out`` (``RESULTS / out``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=seeds, help=f"how many seeds (default {seeds})")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds run from here (default 1)")
    parser.add_argument("--patients", type=int, default=10, help="patients per cohort (default 10)")
    parser.add_argument("--cores", type=int, default=2, help="cores for Snakemake and the fits (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS / out, help=f"the JSON written (default {out})")
    return parser


def seed_rows(one_seed: Callable[..., dict], args: argparse.Namespace, *extra: object) -> list[dict]:
    """``one_seed(seed, args.patients, args.cores, *extra)`` for each seed of ``args`` (``first_seed``, ``seeds``),
    each row printed as it comes."""
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows.append(one_seed(seed, args.patients, args.cores, *extra))
        print(json.dumps(rows[-1]), flush=True)
    return rows
