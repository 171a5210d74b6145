"""The host calibration's variants judged by the calls they lead to (not a test).

From the repository root::

    python benchmarks/admixture_calibration_calls.py --seeds 4 --patients 10 --cores 2

``admixture_host_reads.py`` found the workflow's expected host reads low on the genes the host makes 20-100% of,
and the per-gene calibration's posterior one of the two causes. Read ratios binned by the true share reward
estimates that follow the truth's selection; what matters is the calls. Per seed, on both designs of
:func:`make_admixture_cohort`, the workflow runs to ``results/qc/admixture.tsv``; then, for each calibration variant
of :func:`admixture_host_reads.calibration` (``workflow``; ``no_calibration``; ``upward_posterior_mean``: the
posterior mean ``E[k]`` with the prior's wide component on ``log k >= 0`` only; with ``--variants``, any of
:data:`admixture_host_reads.PATCHES`, e.g. ``typical_estimate``: the factor fitted against the host's typical
level, without the samples' cell-mix deviations), the expected host reads of
:func:`~target_rationale.admixture.adjust.purify_cohort` feed the mixture GLM (``admixture_mixture_glm.glm_table``;
with ``--level-error``, the host levels' error carried and host-dominated genes untested) and the workflow's own
adjusted table (``admixture_purification.contrast_table``). Measured in
``liver_met_vs_primary`` as ``admixture_mixture_glm.py`` measures it (planted: AUC and the axes' receptor stats;
null: genes called up and down, frozen liver genes' p, mean stat by true host share) and the expected over true
host reads per bin. Writes ``benchmarks/results/admixture_calibration_calls.json`` (per-seed rows, means with 95%
t intervals, commit, arguments). About 5 min per seed (about 20 with three variants and ``--level-error``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import admixture_calls as calls  # noqa: E402
from admixture_host_reads import PATCHES, calibration, ratios  # noqa: E402
from admixture_mixture_glm import DESIGNS, glm_table, measure, summarise_variant  # noqa: E402
from admixture_oracle import run_true_host  # noqa: E402
from admixture_purification import contrast_table  # noqa: E402
from measured_commit import seed_parser, seed_rows, write_result  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.admixture.adjust import HOST_LAYER, purify_cohort  # noqa: E402

from simulate.host import shipped_host_reference  # noqa: E402

VARIANTS = ("workflow", "no_calibration", "upward_posterior_mean")


def one_seed(seed: int, patients: int, cores: int, liver: set[str], variants: tuple[str, ...] = VARIANTS,
             level_error: bool = False) -> dict:
    """Both designs, each calibration variant, the GLM (with ``level_error``: the host levels' error carried and
    host-dominated genes untested, ``glm_table``) and the workflow's table; one seed."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_calibration_calls_{seed}_"))
    row: dict[str, object] = {"seed": seed, "patients": patients}
    try:
        for design_name in DESIGNS:
            planted = design_name == "admixture_planted"
            out, run = run_true_host(design_name, patients, seed, folder, cores)
            cohort, x, symbols, share = run.cohort, run.counts, run.symbols, run.share
            table = pd.read_csv(out / paths.result("admixture_table"), sep="\t")
            result = {}
            for variant in variants:
                with calibration(variant):
                    estimated = purify_cohort(cohort, table, shipped_host_reference())
                host = np.asarray(estimated.layers[HOST_LAYER], dtype=float)
                result[variant] = {
                    "glm": measure(glm_table(x, host, estimated, cores, level_error=level_error, dominated=level_error),
                                   planted, out, share, symbols, liver),
                    "workflow_table": measure(contrast_table(estimated, cores), planted, out, share, symbols, liver),
                    "host_reads_estimated_over_true": ratios(host, run.reads, run.metastases, share.to_numpy())}
            row["planted" if planted else "null"] = result
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict]) -> dict:
    """Per calibration variant: :func:`~admixture_mixture_glm.summarise_variant` of the GLM and of the workflow's
    table, and the mean ratio of expected to true host reads per bin of true host share."""
    summary: dict[str, dict] = {}
    for variant in rows[0]["null"]:
        summary[variant] = {}
        for table in ("glm", "workflow_table"):
            summary[variant][table] = summarise_variant([r["planted"][variant][table] for r in rows],
                                                        [r["null"][variant][table] for r in rows])
        reads = [r["null"][variant]["host_reads_estimated_over_true"] for r in rows]
        summary[variant]["null_host_reads_estimated_over_true"] = {b: calls.mean([r[b] for r in reads])
                                                                   for b in reads[0]}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = seed_parser(__doc__, "admixture_calibration_calls.json", 4)
    parser.add_argument("--variants", nargs="+", choices=["workflow", *PATCHES], default=list(VARIANTS),
                        help="calibration variants (default: %(default)s)")
    parser.add_argument("--level-error", action="store_true",
                        help="the GLM with the host levels' error carried and host-dominated genes untested")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    liver = calls.read_liver_genes()
    rows = seed_rows(one_seed, args, liver, tuple(args.variants), args.level_error)
    write_result("benchmarks/admixture_calibration_calls.py", args, summarise(rows), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
