"""The README's test command, timed (not a test): issue 19's ``pytest <= 6 min`` on this machine.

From the repository root, in the project's environment::

    python benchmarks/suite_speed.py [--repeats 1] [--out benchmarks/results/suite_speed.json]

Runs ``pytest`` as the README's second command runs it (pyproject.toml's options: every core, the 25 slowest
tests listed) from this checkout, ``--repeats`` times, and records per run the wall time, pytest's own count of
passed / failed / skipped tests and its session time, and its slowest tests; beside them the machine
(``run_benchmark.machine``: system, cores, CPU model, memory), the load average before and after, and the commit
measured. Skipped tests are listed by pytest's reason: a machine without Chromium or SLURM (installed by
``.ci/run``) skips the browser and SLURM tests, and runs faster than CI does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from measured_commit import RESULTS, measured_commit  # noqa: E402
from run_benchmark import machine  # noqa: E402  (system, cores, CPU model, memory)

#: pytest's last line, e.g. ``765 passed, 2 skipped, 1 warning in 316.14s (0:05:16)``.
SUMMARY = re.compile(r"=+ (?P<counts>.*) in (?P<seconds>[\d.]+)s")
#: A line of ``--durations``: ``129.00s call     tests/...::test_x@group``.
DURATION = re.compile(r"^(?P<seconds>[\d.]+)s (?P<phase>setup|call|teardown)\s+(?P<test>\S+)")


def parse_output(text: str) -> dict[str, object]:
    """pytest's counts (``passed``, ``failed``, ``skipped``, ...), its session seconds, the slowest tests and the
    skip reasons, from its terminal output."""
    counts: dict[str, int] = {}
    seconds = None
    for line in text.splitlines():
        match = SUMMARY.search(line)
        if match:
            seconds = float(match["seconds"])
            for part in match["counts"].split(","):
                number, _, kind = part.strip().partition(" ")
                if number.isdigit():
                    counts[{"warnings": "warning", "errors": "error"}.get(kind, kind)] = int(number)
    slowest = [{"seconds": float(m["seconds"]), "phase": m["phase"], "test": m["test"]}
               for m in (DURATION.match(line) for line in text.splitlines()) if m]
    skipped = [line.split(": ", 1)[-1] for line in text.splitlines() if line.startswith("SKIPPED")]
    return {"counts": counts, "pytest_s": seconds, "slowest": slowest, "skip_reasons": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "suite_speed.json")
    args = parser.parse_args()
    runs = []
    for repeat in range(1, args.repeats + 1):
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run(["pytest"], cwd=REPO, capture_output=True, text=True, check=False)
        wall = round(time.perf_counter() - started, 1)
        runs.append({"repeat": repeat, "wall_s": wall, "returncode": done.returncode,
                     "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
                     **parse_output(done.stdout)})
        print(f"run {repeat}: {wall} s, {runs[-1]['counts']}", flush=True)
    result = {"script": "benchmarks/suite_speed.py", **measured_commit(), "arguments": {"repeats": args.repeats},
              "machine": machine(), "target_s": 360,
              "median_wall_s": statistics.median(r["wall_s"] for r in runs), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"median {result['median_wall_s']} s (target {result['target_s']} s) on {result['machine']}")


if __name__ == "__main__":
    main()
