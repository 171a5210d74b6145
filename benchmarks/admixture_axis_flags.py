"""The axis flags alone under host-tissue admixture, over many seeds (not a test; a fast companion of
``admixture_calls.py``).

From the repository root::

    python benchmarks/admixture_axis_flags.py --seeds 20 --patients 18 --cores 2

Per seed, in a temporary folder, :func:`make_admixture_cohort` writes an ``admixture_null`` and an
``admixture_planted`` cohort (``--designs`` picks), each configured as ``admixture_calls.py`` configures it
(:func:`admixture_calls.prepare_config`: GO BP only, host-tissue stage on, no bootstrap of the flags), and
Snakemake runs it only as far as ``results/targets/axis_tests.tsv`` (the host fractions, the purification with
its make-up refits, the adjusted VST and the axis tests: about 35 s a cohort at 18 patients, against ~2.5 min
for the whole run). The flags are the workflow's own (:func:`target_rationale.targets.flags.calibrated_flags`
with the run's flag rule: Holm over every axis x contrast, ``alpha``, ``min_effect``), so they equal the axes
table's ``flag`` column. Measured in ``liver_met_vs_primary`` as ``admixture_calls.py`` measures it: on the null,
whether any axis is flagged; on the planted design, whether EGFR, VEGFR and CSF1R are all flagged up (each one
counted too). The twins without admixture are not run: they have no host, so the host's make-up (the part this
benchmark is for) does not touch them (their flags are in ``admixture_calls.py``'s results).

Writes ``benchmarks/results/admixture_axis_flags.json`` (per-seed flags and p-values, summary with Wilson
intervals and, for the two main shares, the issue's >= 90% target, commit, arguments).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from admixture_calls import CONTRAST, MET_NORMAL, PLANTED_AXES, prepare_config, run_workflow, share  # noqa: E402
from make_admixture_cohort import make_admixture_cohort  # noqa: E402
from measured_commit import seed_parser, write_result  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.targets.config import FlagRule  # noqa: E402
from target_rationale.targets.flags import calibrated_flags  # noqa: E402

DESIGNS = ("admixture_null", "admixture_planted")


def cohort_flags(out: Path) -> pd.DataFrame:
    """The workflow's calibrated flags of the run in ``out`` (its axis tests and its targets file's flag rule)."""
    tests = pd.read_csv(paths.result("axis_tests", root=out / paths.RESULTS), sep="\t")
    targets = yaml.safe_load((out / "targets.yaml").read_text(encoding="utf-8"))
    return calibrated_flags(tests, FlagRule.from_config(targets.get("flag")))


def measure(flags: pd.DataFrame) -> dict:
    """Flags and p-values of the planted axes in the two metastasis contrasts."""
    row = {}
    for contrast in (CONTRAST, MET_NORMAL):
        part = flags[flags["contrast"] == contrast].set_index("axis")
        row[contrast] = {axis: {"flag": str(part.at[axis, "flag"]), "p": float(part.at[axis, "test_p"]),
                                "p_holm": float(part.at[axis, "test_p_holm"])}
                         for axis in part.index}
    row["flagged"] = sorted(a for a, v in row[CONTRAST].items() if v["flag"] != "none")
    return row


def summarise(rows: list[dict]) -> dict:
    """Null: no axis flagged in metastasis-vs-primary; planted: all planted axes up there, and each one."""
    summary = {}
    nulls = [r["admixture_null"] for r in rows if "admixture_null" in r]
    if nulls:
        summary["null_no_axis_flagged"] = share([not r["flagged"] for r in nulls])
    planted = [r["admixture_planted"] for r in rows if "admixture_planted" in r]
    if planted:
        summary["planted_all_axes_up"] = share([all(r[CONTRAST][a]["flag"] == "up" for a in PLANTED_AXES)
                                                for r in planted])
        summary["planted_axis_up"] = {axis: share([r[CONTRAST][axis]["flag"] == "up" for r in planted], None)
                                      for axis in PLANTED_AXES}
    return summary


def main() -> None:
    parser = seed_parser(__doc__, "admixture_axis_flags.json", 20)
    parser.add_argument("--lfc", type=float, default=1.0, help="planted log2 effect (admixture_planted)")
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=list(DESIGNS))
    args = parser.parse_args()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        row: dict = {"seed": seed}
        for design in args.designs:
            folder = Path(tempfile.mkdtemp(prefix=f"axis_flags_{seed}_"))
            try:
                make_admixture_cohort(design, args.patients, seed, folder, lfc=args.lfc)
                prepare_config(folder)
                row[f"{design}_wall_s"] = round(run_workflow(folder, args.cores, [paths.result("axis_tests")]), 1)
                row[design] = measure(cohort_flags(folder))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        rows.append(row)
        print(seed, {d: row[d]["flagged"] for d in args.designs}, flush=True)
    write_result("benchmarks/admixture_axis_flags.py", args, summarise(rows), rows)


if __name__ == "__main__":
    main()
