"""Subtraction or the mixture's E-step: which in-silico purification serves the workflow's host model better (not a
test).

From the repository root::

    python benchmarks/admixture_purification.py --seeds 10 --patients 10 --cores 2

The workflow purifies by subtraction: ``max(count - e, 0)``, ``e`` a sample's expected host reads
(:func:`~target_rationale.admixture.adjust.purify_cohort`). Where the host makes most of a gene's reads, that
leaves the count's whole noise, and the host's own per-sample variation (a liver biopsy's endothelium and stroma
vary and have no liver-specific marker), on a small remainder, and a sample whose host was over-estimated falls
to 0. The alternative measured here (:func:`estep`) is the E-step of the mixture model: ``count x t / (t + e)``,
the expected tumour reads given the count when tumour and host reads are independent counts with means ``t`` and
``e``, with ``t`` fitted on the samples (per gene, least squares of ``(count - e) / s`` on the design matrix, on
the count scale, ``s`` the subtracted libraries' size factors; at least 0.5 reads). At the level of a group the two
agree; per sample the E-step scales the noise down with the tumour's share and never leaves 0 where a count is
not. (It was the workflow's ``admixture.purification: estep`` at 99b8a0d, measured there, and taken out again
because of what this measured: see benchmarks/README.md.)

Per seed, :func:`make_admixture_cohort` writes ``admixture_planted`` and ``admixture_null``; the workflow makes
``results/qc/admixture.tsv`` (host fractions, split); then, in process and with the workflow's own functions, the
host's expected reads come from :func:`~target_rationale.admixture.adjust.purify_cohort` and each form purifies
with them (design ``~ patient + site``); the DE (``fit_model``, ``wald_test``) and host adjustment
(:func:`~target_rationale.diffexp.model.host_columns`: the host levels' error carried, host-dominated genes left
out) test ``liver_met_vs_primary``, and the axis test (:func:`~target_rationale.targets.axis_test.fry_contrast` on
the purified cohort's VST, ``qc_matrix``) tests the EGFR, VEGFR and CSF1R axes there. Measured as
``admixture_calls.py`` does: the AUC of ``|stat|`` of planted against null genes (tested genes) and the ``stat``
of the axes' planted receptors on the planted design; genes called up at padj < 0.1 and the hypergeometric p of
the frozen liver genes among the 200 highest ``stat`` on the null design; on both, each axis' test p and effect
and whether it is flagged up (p x 12 < ``flag.alpha``, a Bonferroni bound on the workflow's Holm over 4 axes x 3
contrasts, and effect >= ``flag.min_effect``; this one contrast is tested here). Writes
``benchmarks/results/admixture_purification.json`` (per-seed rows; means with 95% t intervals, of the paired
differences too; shares with Wilson intervals; commit, arguments).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import admixture_calls as calls  # noqa: E402
import admixture_ceiling as ceiling  # noqa: E402
from make_admixture_cohort import DESIGN, make_admixture_cohort  # noqa: E402
from measured_commit import measured_commit, seed_parser  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.admixture.adjust import HOST_LAYER, purify_cohort  # noqa: E402
from target_rationale.cohort.design import design_matrix  # noqa: E402
from target_rationale.core.schema import defaults  # noqa: E402
from target_rationale.diffexp.model import fit_model, host_columns, wald_test  # noqa: E402
from target_rationale.diffexp.qc import qc_matrix  # noqa: E402
from target_rationale.diffexp.settings import FitSettings, WaldSettings  # noqa: E402
from target_rationale.targets.axis_test import fry_contrast  # noqa: E402
from target_rationale.targets.config import load_targets  # noqa: E402

from simulate.host import shipped_host_reference  # noqa: E402

FORMS = ("subtract", "estep")
#: The least tumour level the E-step's fit gives a count, in reads.
MIN_TUMOUR_READS = 0.5
GENES = ("KDR", "FLT1", "FLT4", "VEGFA", "EGFR", "CSF1R")
DESIGNS = ("admixture_planted", "admixture_null")
AXES = ("EGFR", "VEGFR", "CSF1R")
#: The workflow's flag rule adjusts over 4 axes x 3 contrasts (Holm); one contrast is tested here.
TESTS = 12


def estep(counts: np.ndarray, expected: np.ndarray, design: np.ndarray) -> np.ndarray:
    """``counts x t / (t + expected)`` (samples x genes, not rounded; ``counts`` where ``expected`` is 0), ``t`` the
    design's least-squares fit of ``(counts - expected) / s`` times ``s`` (see the module docstring)."""
    library = np.maximum(np.maximum(counts - expected, 0.0).sum(axis=1), 1.0)
    size = library / np.exp(np.log(library).mean())
    beta = np.linalg.lstsq(design, (counts - expected) / size[:, None], rcond=None)[0]
    tumour = np.maximum(size[:, None] * (design @ beta), MIN_TUMOUR_READS)
    return np.where(expected > 0, counts * tumour / (tumour + expected), counts)


def contrast_table(adjusted: ad.AnnData, cores: int) -> pd.DataFrame:
    """The workflow's adjusted Wald table of ``liver_met_vs_primary`` on a purified cohort (gene_id, symbol)."""
    settings = defaults("config", "diffexp")
    model = fit_model(adjusted, [ceiling.CONTRAST], FitSettings.from_config(settings), cores)
    table = wald_test(model, ceiling.CONTRAST, WaldSettings.from_config(settings), cores)
    table = host_columns(table, ceiling.CONTRAST, adjusted, True, defaults("config", "admixture")["host_dominated"])
    table = table.rename_axis("gene_id").reset_index()
    return table.assign(symbol=table["gene_id"].map(adjusted.var["symbol"]))


def axis_flags(adjusted: ad.AnnData, flag: dict) -> dict[str, dict]:
    """Per planted axis: the fry test of ``liver_met_vs_primary`` on the purified cohort's VST, and the flag."""
    targets = load_targets(REPO / "config" / "targets.yaml")
    axes = {name: list(targets.axes[name].genes) for name in AXES}
    qc = qc_matrix(adjusted, set(), seed=1)
    sheet = adjusted.obs
    tested = fry_contrast(qc, sheet, ceiling.CONTRAST, axes, adjusted=adjusted,
                          host_dominated=defaults("config", "admixture")["host_dominated"]).set_index("axis")
    return {name: {"p": float(tested.loc[name, "test_p"]), "effect": float(tested.loc[name, "test_effect"]),
                   "up": bool(tested.loc[name, "test_p"] * TESTS < flag["alpha"]
                              and tested.loc[name, "test_effect"] >= flag["min_effect"])} for name in AXES}


def one_seed(seed: int, patients: int, cores: int, liver: set[str]) -> dict:
    """Simulate both designs, estimate the host, purify both ways, test, measure; one seed."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_purification_{seed}_"))
    row: dict[str, object] = {"seed": seed, "patients": patients}
    flag = load_targets(REPO / "config" / "targets.yaml").flag
    rule = {"alpha": flag.alpha, "min_effect": flag.min_effect}
    try:
        for design_name in DESIGNS:
            out = make_admixture_cohort(design_name, patients, seed, folder / design_name)
            calls.prepare_config(out)
            calls.run_workflow(out, cores, [paths.result("admixture_table")])
            cohort = ad.read_h5ad(out / paths.result("cohort_h5ad"))
            table = pd.read_csv(out / paths.result("admixture_table"), sep="\t")
            design = design_matrix(cohort.obs, DESIGN).to_numpy(dtype=float)
            planted = design_name == "admixture_planted"
            subtracted = purify_cohort(cohort, table, shipped_host_reference())
            for form in FORMS:
                adjusted = subtracted.copy()
                if form == "estep":
                    expected = np.asarray(subtracted.layers[HOST_LAYER], dtype=float)
                    adjusted.X = np.rint(estep(np.asarray(cohort.X, dtype=float), expected, design)).astype(np.int64)
                tested = contrast_table(adjusted, cores)
                if planted:
                    picked = tested.set_index("symbol")
                    measured = {"auc": calls.auc(tested, pd.read_csv(out / "truth_genes.tsv", sep="\t")),
                                **{f"{g}_stat": float(picked.loc[g, "stat"]) for g in GENES}}
                else:
                    padj = pd.to_numeric(tested["padj"], errors="coerce")
                    measured = {"called_up": int(((padj < 0.1) & (tested["log2FoldChange"] > 0)).sum()),
                                "liver_p": calls.liver_top_p(tested, liver)["liver_p"]}
                measured["axes"] = axis_flags(adjusted, rule)
                row[f"{'planted' if planted else 'null'}_{form}"] = measured
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict]) -> dict:
    """Per form: mean AUC and axis-gene stats (planted), mean up-calls and share of liver p > 0.05 (null); and the
    paired differences E-step minus subtraction."""
    summary: dict[str, dict] = {}
    for form in FORMS:
        planted, null = [r[f"planted_{form}"] for r in rows], [r[f"null_{form}"] for r in rows]
        summary[form] = {"auc": calls.mean([p["auc"] for p in planted], 0.9),
                         **{f"{g}_stat": calls.mean([p[f"{g}_stat"] for p in planted]) for g in GENES},
                         **{f"{a}_up": calls.share([p["axes"][a]["up"] for p in planted], None) for a in AXES},
                         "all_axes_up": calls.share([all(p["axes"][a]["up"] for a in AXES) for p in planted], 0.9),
                         "null_called_up": calls.mean([n["called_up"] for n in null]),
                         "null_liver_p_above_0.05": calls.share([n["liver_p"] > 0.05 for n in null], 0.9),
                         "null_no_axis_up": calls.share([not any(n["axes"][a]["up"] for a in AXES) for n in null],
                                                        0.9)}
    summary["estep_minus_subtract"] = {
        "auc": calls.mean([r["planted_estep"]["auc"] - r["planted_subtract"]["auc"] for r in rows]),
        "null_called_up": calls.mean([r["null_estep"]["called_up"] - r["null_subtract"]["called_up"] for r in rows]),
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    args = seed_parser(__doc__, "admixture_purification.json", 10).parse_args(argv)
    liver = calls.read_liver_genes()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows.append(one_seed(seed, args.patients, args.cores, liver))
        print(json.dumps(rows[-1]), flush=True)
    result = {"script": "benchmarks/admixture_purification.py", **measured_commit(),
              "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "summary": summarise(rows), "seeds": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
