"""What the tail bound saves on real-shaped rankings: each contrast's GO BP GSEA with and without it, side by side.

Not a test. From the repository root, after a default run (``snakemake --cores 2``) has written
``results/diffexp/*.tsv`` and ``results/genesets/GO_BP.gmt.gz``::

    python benchmarks/gsea_floor.py [--run .] [--collection GO_BP] [--repeats 2]

For every contrast table, the enrich job's GSEA call (``enrichment.analysis.gsea``: the config's default
enrichment settings, seed 42, one thread) runs in this process with the tail bound and with it switched off
(``gsea._BOUND_CHECK`` set so high that no ruler tries it: every ruler runs to its last set, as before the bound),
taking turns, after one warm-up call that compiles. Records CPU seconds per run, the sets the bound put below the
floor, the sets at the floor, and whether the two tables are identical. Writes
``benchmarks/results/gsea_floor.json`` with the commit measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))

from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.core.jobs import LOG  # noqa: E402
from target_rationale.core.schema import with_defaults  # noqa: E402
from target_rationale.core.tsv import read_tsv  # noqa: E402
from target_rationale.engines import gsea as engine  # noqa: E402
from target_rationale.enrichment.analysis import gsea  # noqa: E402
from target_rationale.enrichment.settings import EnrichSettings  # noqa: E402
from target_rationale.genesets.gmt import read_gmt  # noqa: E402


class _Count(logging.Handler):
    """Remembers how many sets the last call put below the floor by the bound (from the engine's log line)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.below = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "below the p-value floor by a tail bound" in message:
            self.below = int(message.split("GSEA: ")[1].split(" ")[0])


def timed(table, sets, settings: EnrichSettings, bound: bool, counter: _Count) -> tuple[float, object]:
    """CPU seconds of one GSEA call and its table, with the tail bound on or off."""
    saved = engine._BOUND_CHECK
    engine._BOUND_CHECK = saved if bound else 1e9
    counter.below = 0
    try:
        start = time.process_time()
        result, _ = gsea(table, sets, settings, 42, 1)
        return time.process_time() - start, result
    finally:
        engine._BOUND_CHECK = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=REPO, help="folder of a finished run (holding results/)")
    parser.add_argument("--collection", default="GO_BP")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    settings = EnrichSettings.from_config(with_defaults(None, "config", "enrichment"))
    sets = read_gmt(next((args.run / "results" / "genesets").glob(f"{args.collection}.gmt*")))
    counter = _Count()
    LOG.addHandler(counter)
    LOG.setLevel(logging.INFO)
    tables = sorted(p for p in (args.run / "results" / "diffexp").glob("*.tsv"))
    gsea(read_tsv(tables[0]).head(2000), sets, settings, 42, 1)  # compile / load the numba cache
    rows = []
    for path in tables:
        table = read_tsv(path)
        runs: dict[str, list[float]] = {"bound": [], "no_bound": []}
        results = {}
        for _ in range(args.repeats):
            for mode in ("no_bound", "bound"):
                seconds, results[mode] = timed(table, sets, settings, mode == "bound", counter)
                runs[mode].append(seconds)
                if mode == "bound":
                    below = counter.below
        row = {"contrast": path.stem, "sets": len(results["bound"]),
               "at_floor": int((results["bound"]["pvalue"] <= settings.gsea_eps).sum()), "below_by_bound": below,
               "cpu_s_no_bound": runs["no_bound"], "cpu_s_bound": runs["bound"],
               "ratio": statistics.median(runs["bound"]) / statistics.median(runs["no_bound"]),
               "identical": bool(results["bound"].equals(results["no_bound"]))}
        rows.append(row)
        print(f"{row['contrast']}: {row['sets']} sets, {row['at_floor']} at the floor, {below} of them by the bound; "
              f"CPU {statistics.median(runs['no_bound']):.1f} s -> {statistics.median(runs['bound']):.1f} s "
              f"({row['ratio']:.2f}x); tables identical: {row['identical']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"script": "benchmarks/gsea_floor.py", **measured_commit(),
           "arguments": {"run": str(args.run), "collection": args.collection, "repeats": args.repeats},
           "contrasts": rows}
    (RESULTS / "gsea_floor.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
