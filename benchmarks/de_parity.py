"""The DE stage against R DESeq2 and against itself at another commit: agreement and time (not a test).

From the repository root (R with DESeq2: ``apt-get install -y --no-install-recommends r-bioc-deseq2``)::

    python benchmarks/de_parity.py --base bac351b --sizes 20000x12 20000x100 --out /tmp/de_parity.json

For each size, a cohort from ``make_cohort.py`` (design ``~ batch + site``, 3 contrasts); then, taking turns,
``--repeats`` fresh Python processes at this commit and at ``--base`` (a git worktree) that each read the counts,
fit the model and test the three contrasts as the workflow's ``fit`` and ``contrast`` rules do (no shrinkage, one
thread; process start-up counted), and one ``Rscript benchmarks/deseq2_benchmark.R`` (one worker) on the same
counts and pre-filter (the cohort built by the ``cohort`` rule's own function, its files written as there).
Agreement with R per contrast and commit: LFC Pearson r, and at alpha 0.05 the calls of
each and those only one side makes (R's ``results()`` at 0.05). The JSON records the commits, the machine and the
median times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
#: As benchmarks/make_cohort.py writes them (repeated here: a ``--run-de`` process must import the package from
#: the commit it measures, and make_cohort imports it from this one).
DESIGN = "~ batch + site"
CONTRASTS = [
    {"name": "primary_vs_normal", "variable": "site", "target": "primary", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_normal", "variable": "site", "target": "liver_metastasis", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_primary", "variable": "site", "target": "liver_metastasis", "reference": "primary"},
]


def run_de(code: Path, cohort: Path, out: Path) -> None:
    """In a fresh process (``--run-de``): the workflow's fit and Wald tests with the code under ``code``."""
    sys.path.insert(0, str(code / "workflow" / "scripts"))
    from target_rationale.cohort.assemble import build_cohort
    from target_rationale.cohort.design import parse_contrasts
    from target_rationale.diffexp.model import fit_model, wald_test
    from target_rationale.diffexp.settings import FitSettings, WaldSettings

    out.mkdir(parents=True, exist_ok=True)
    data = build_cohort(str(cohort / "counts.tsv.gz"), str(cohort / "samples.tsv"), "auto",
                        str(code / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"), DESIGN, CONTRASTS,
                        str(out / "cohort.h5ad"), str(out / "gene_ids.tsv"), str(out / "samples.tsv"))
    contrasts = parse_contrasts(CONTRASTS, DESIGN)
    fit = FitSettings.from_config({"shrink": False})
    dds = fit_model(data, contrasts, fit, n_cpus=1)
    for contrast in contrasts:
        table = wald_test(dds, contrast, WaldSettings.from_config({"shrink": False}), 1)
        table.rename_axis("gene_id").to_csv(out / f"{contrast.name}.tsv", sep="\t")


def timed_de(code: Path, cohort: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--run-de", str(code), str(cohort), str(out)], check=True,
                   env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                        "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - started


def agreement(ours_dir: Path, r_dir: Path) -> dict:
    """Per contrast: LFC Pearson r over the genes both test, calls at 0.05 and those only one side makes."""
    result = {}
    for contrast in (c["name"] for c in CONTRASTS):
        ours = pd.read_csv(ours_dir / f"{contrast}.tsv", sep="\t", index_col="gene_id")
        theirs = pd.read_csv(r_dir / f"deseq2_{contrast}.tsv", sep="\t", index_col="gene_id", na_values="NA")
        both = ours.join(theirs, rsuffix="_r", how="inner").dropna(subset=["log2FoldChange", "log2FoldChange_r"])
        a, b = set(ours.index[ours["padj"] < 0.05]), set(theirs.index[theirs["padj"] < 0.05])
        masked = int((ours["padj"].isna() != theirs["padj"].reindex(ours.index).isna()).sum())
        result[contrast] = {"lfc_pearson_r": float(np.corrcoef(both["log2FoldChange"],
                                                               both["log2FoldChange_r"])[0, 1]),
                            "calls_r": len(b), "calls_ours": len(a), "only_ours": len(a - b),
                            "only_r": len(b - a), "padj_masked_differently": masked}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="the commit to compare the time with (required)")
    parser.add_argument("--sizes", nargs="+", default=["20000x12", "20000x100"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="the result's JSON (required)")
    parser.add_argument("--run-de", nargs=3, metavar=("CODE", "COHORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_de:
        run_de(*(Path(p) for p in args.run_de))
        return
    if not (args.base and args.out):
        parser.error("--base and --out are required")
    sys.path.insert(0, str(REPO / "benchmarks"))
    import make_cohort
    from measured_commit import measured_commit
    from run_benchmark import machine, run_r

    assert (make_cohort.DESIGN, make_cohort.CONTRASTS) == (DESIGN, CONTRASTS)
    result = {**measured_commit(), "base": args.base, "machine": machine(), "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(base), args.base],
                       check=True)
        try:
            for size in args.sizes:
                genes, samples = (int(v) for v in size.split("x"))
                cohort = make_cohort.make_cohort(genes, samples, tmp / size)
                times = {"current": [], "base": []}
                for _ in range(args.repeats):
                    for name, code in (("current", REPO), ("base", base)):
                        times[name].append(timed_de(code, cohort, tmp / f"{size}_{name}"))
                r = run_r(cohort, 1, tmp / f"{size}_r")
                result["sizes"][size] = {
                    "de_seconds": {k: statistics.median(v) for k, v in times.items()}, "de_runs": times,
                    "ratio_current_to_base": statistics.median(times["current"]) / statistics.median(times["base"]),
                    "r_process_seconds": r["process_wall_s"],
                    "agreement_current": agreement(tmp / f"{size}_current", tmp / f"{size}_r"),
                    "agreement_base": agreement(tmp / f"{size}_base", tmp / f"{size}_r")}
                print(json.dumps({size: result["sizes"][size]}, indent=1), flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
