"""How far host-tissue adjustment can go on the admixture designs: the workflow against two oracles (not a test).

From the repository root::

    python benchmarks/admixture_ceiling.py --seeds 5 --patients 10 20 --cores 2

Per seed and cohort size, :func:`make_admixture_cohort` writes ``admixture_planted`` and ``admixture_null`` and the
workflow runs on each (host-tissue stage on; only the DE tables of ``liver_met_vs_primary`` as targets). Their
counts are then tested again, in process with the workflow's own DE code and settings, after taking off:

* ``true_mean_host``: each sample's true host fraction times the host's true mean profile (the simulator's
  perturbed reference mix, ``truth_host_genes.tsv.gz``), which is the best any estimator of one host profile per
  cohort can do: it cannot know a sample's own cell mix (the endothelium, fibroblasts and immune cells of a liver
  biopsy have no liver-specific marker in the simulator's profiles);
* ``true_sample_host``: each count's true host share (``host_share.tsv.gz``), which needs each sample's cell mix.

Measured in ``liver_met_vs_primary`` for each variant (``unadjusted``, ``workflow``, the two oracles): the AUC of
``|stat|`` of planted against null genes on the planted cohort (as ``admixture_calls.py``: tested genes only; the
genes the workflow calls ``host_dominated`` are left untested in the oracles too), and on the null cohort the genes
called up at padj < 0.1 and the hypergeometric p of the frozen liver genes among the 200 highest ``stat``.
Writes ``benchmarks/results/admixture_ceiling.json`` (per-seed rows, means with 95% t intervals, commit, arguments).
"""

from __future__ import annotations

import argparse
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
from make_admixture_cohort import make_admixture_cohort  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.cohort.design import Contrast  # noqa: E402
from target_rationale.core.schema import defaults  # noqa: E402
from target_rationale.diffexp.model import fit_model, wald_test  # noqa: E402
from target_rationale.diffexp.settings import FitSettings, WaldSettings  # noqa: E402

CONTRAST = Contrast(calls.CONTRAST, "site", "liver_metastasis", "primary", "~ patient + site",
                    {"site": ["liver_metastasis", "primary"]})
#: Host label in the truth tables -> (its level column in truth_host_genes, its fraction column in truth_samples).
TRUE_HOSTS = {"liver": ("liver_cpm", "liver_fraction"), "exocrine_pancreas": ("exocrine_pancreas_cpm",
                                                                              "exocrine_fraction")}
VARIANTS = ("unadjusted", "workflow", "true_mean_host", "true_sample_host")


def read_counts(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulated counts (genes x samples) and sample sheet (indexed by sample, categorical columns)."""
    counts = pd.read_csv(folder / "counts.tsv.gz", sep="\t", index_col=0)
    sheet = pd.read_csv(folder / "samples.tsv", sep="\t").set_index("sample").astype("category")
    return counts, sheet.loc[counts.columns]


def without_true_host(folder: Path, counts: pd.DataFrame, per_sample: bool) -> np.ndarray:
    """Samples x genes counts with the true host reads taken off (each sample's own, or fraction x mean host)."""
    x = counts.T.to_numpy(dtype=float)
    if per_sample:
        share = pd.read_csv(folder / "host_share.tsv.gz", sep="\t", index_col=0)
        share = share.reindex(counts.index).fillna(0.0)[counts.columns].T.to_numpy()
        return np.rint(x * (1.0 - share))
    levels = pd.read_csv(folder / "truth_host_genes.tsv.gz", sep="\t", index_col=0).reindex(counts.index)
    truth = pd.read_csv(folder / "truth_samples.tsv", sep="\t").set_index("sample").loc[counts.columns]
    library, expected = x.sum(axis=1), np.zeros_like(x)
    for host, (level, fraction) in TRUE_HOSTS.items():
        profile = levels[level].fillna(0.0).to_numpy() / 1e6
        f = truth[fraction].fillna(0.0).to_numpy()
        expected += (f * library)[:, None] * profile[None, :]
    return np.rint(np.maximum(x - expected, 0.0))


def de_table(x: np.ndarray, sheet: pd.DataFrame, genes: pd.Index, cores: int, shrink: bool | None = None
             ) -> pd.DataFrame:
    """The workflow's DE (default settings; ``shrink`` replaces ``diffexp.shrink``) of ``liver_met_vs_primary`` on
    counts ``x`` (samples x genes). Shrinking adds a column, and ``fit_model`` then makes the contrast's reference
    the design's base level: the same model, whose statistics move only as R DESeq2's do (up to c4b4d5f the
    default engine's moved on genes with zeros among large counts: ``engine_agreement.json``)."""
    settings = defaults("config", "diffexp")
    if shrink is not None:
        settings = {**settings, "shrink": shrink}
    cohort = ad.AnnData(X=x.astype(np.int64), obs=sheet, var=pd.DataFrame(index=genes))
    model = fit_model(cohort, [CONTRAST], FitSettings.from_config(settings), cores)
    table = wald_test(model, CONTRAST, WaldSettings.from_config(settings), cores)
    return table.rename_axis("gene_id").reset_index()


def host_dominated(de: pd.DataFrame) -> set[str]:
    """Genes the workflow's table calls host-dominated (untested there)."""
    if "host_dominated" not in de.columns:
        return set()
    flag = de["host_dominated"].astype(str).str.lower().eq("true")
    return set(de.loc[flag, "gene_id"])


def measure(de: pd.DataFrame, folder: Path, liver: set[str], planted: bool, symbols: pd.Series) -> dict:
    """AUC (planted cohort) or false up-calls and the liver genes' p (null cohort) of one DE table."""
    if planted:
        return {"auc": calls.auc(de, pd.read_csv(folder / "truth_genes.tsv", sep="\t"))}
    de = de.assign(symbol=de["gene_id"].map(symbols)) if "symbol" not in de.columns else de
    padj, lfc = pd.to_numeric(de["padj"], errors="coerce"), pd.to_numeric(de["log2FoldChange"], errors="coerce")
    return {"called_up": int(((padj < 0.1) & (lfc > 0)).sum()), "liver_p": calls.liver_top_p(de, liver)["liver_p"]}


def one_seed(seed: int, patients: int, cores: int, liver: set[str]) -> dict:
    """Simulate, run the workflow, test the oracles, measure; one seed and cohort size."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_ceiling_{seed}_{patients}_"))
    targets = [paths.result(key, contrast=calls.CONTRAST) for key in ("de_table", "de_table_unadjusted")]
    row: dict[str, object] = {"seed": seed, "patients": patients}
    try:
        for design in ("admixture_planted", "admixture_null"):
            out = make_admixture_cohort(design, patients, seed, folder / design)
            calls.prepare_config(out)
            calls.run_workflow(out, cores, targets)
            counts, sheet = read_counts(out)
            symbols = pd.read_csv(out / "truth_host_genes.tsv.gz", sep="\t", index_col=0)["symbol"]
            tables = {name: pd.read_csv(calls.table(out, key, contrast=calls.CONTRAST), sep="\t")
                      for name, key in (("unadjusted", "de_table_unadjusted"), ("workflow", "de_table"))}
            dominated = host_dominated(tables["workflow"])
            for name, per_sample in (("true_mean_host", False), ("true_sample_host", True)):
                de = de_table(without_true_host(out, counts, per_sample), sheet, counts.index, cores)
                tables[name] = de.assign(**{column: de[column].where(~de["gene_id"].isin(dominated))
                                            for column in ("stat", "padj")})
            planted = design == "admixture_planted"
            for name, de in tables.items():
                row[f"{'planted' if planted else 'null'}_{name}"] = measure(de, out, liver, planted, symbols)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict]) -> dict:
    """Per cohort size and variant: mean AUC, up-calls and share of seeds with liver p > 0.05."""
    summary: dict[str, dict] = {}
    for patients in sorted({r["patients"] for r in rows}):
        part = [r for r in rows if r["patients"] == patients]
        summary[f"patients_{patients}"] = {name: {
            "auc": calls.mean([r[f"planted_{name}"]["auc"] for r in part]),
            "null_called_up": calls.mean([r[f"null_{name}"]["called_up"] for r in part]),
            "null_liver_p_above_0.05": calls.share([r[f"null_{name}"]["liver_p"] > 0.05 for r in part], None),
        } for name in VARIANTS}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--patients", type=int, nargs="+", default=[10])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "admixture_ceiling.json")
    args = parser.parse_args(argv)
    liver = calls.read_liver_genes()
    rows = []
    for patients in args.patients:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows.append(one_seed(seed, patients, args.cores, liver))
            print(json.dumps(rows[-1]), flush=True)
    result = {"script": "benchmarks/admixture_ceiling.py", **measured_commit(),
              "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "summary": summarise(rows), "seeds": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
