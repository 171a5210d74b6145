"""Do the DE engines agree, and does a fit depend on the design's base level? On purified counts (not a test).

From the repository root::

    python benchmarks/engine_agreement.py --seed 1 --patients 10 --cores 2 [--r]

Purification leaves zeros among large counts (a sample whose host was over-estimated falls to 0). On such a
matrix, the admixture-only null of :func:`make_admixture_cohort` with each sample's true host reads subtracted
(``admixture_oracle.host_profiles``), this fits ``liver_met_vs_primary`` (``~ patient + site``, default settings)
with both engines (``diffexp.engine``: ``vectorized``, the default, and ``pydeseq2``), each with the contrast's
reference as the design's base level (what ``fit_model`` does when shrinking) and with the alphabetical one (the
same model, parametrised otherwise: its ``stat`` should not move), and compares the Wald ``stat`` of every pair:
genes whose ``stat`` differs by more than 0.1, the largest difference, and the genes that differ most with their
counts. With ``--r``, R DESeq2 1.38.3 fits the same genes with both base levels too (``engine_agreement.R``;
``Rscript`` on the path, about 2 min). Writes ``benchmarks/results/engine_agreement.json`` (commit, arguments).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import admixture_ceiling as ceiling  # noqa: E402
from admixture_oracle import host_profiles  # noqa: E402
from make_admixture_cohort import make_admixture_cohort  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.core.schema import defaults  # noqa: E402
from target_rationale.diffexp.model import fit_model, wald_test  # noqa: E402
from target_rationale.diffexp.settings import FitSettings, WaldSettings  # noqa: E402

ENGINES = ("vectorized", "pydeseq2")
#: ``fit_model`` makes the contrast's reference the base level when shrinking; alphabetical otherwise.
BASES = {"reference": True, "alphabetical": False}
TOLERANCE = 0.1


def purified_null(seed: int, patients: int, folder: Path) -> ad.AnnData:
    """The admixture-only null with each sample's true host reads subtracted (rounded, at least 0)."""
    out = make_admixture_cohort("admixture_null", patients, seed, folder)
    counts, sheet = ceiling.read_counts(out)
    truth = pd.read_csv(out / "truth_samples.tsv", sep="\t").set_index("sample").loc[counts.columns]
    x = counts.T.to_numpy(dtype=float)
    host = (truth["host_fraction"].to_numpy() * x.sum(axis=1))[:, None] * \
        host_profiles(out, seed, patients, "admixture_null")["sample"].T
    purified = np.rint(np.maximum(x - host, 0.0)).astype(np.int64)
    return ad.AnnData(X=purified, obs=sheet, var=pd.DataFrame(index=counts.index))


def stats_by_fit(cohort: ad.AnnData, cores: int) -> pd.DataFrame:
    """Genes x ``{engine}_{base}``: the Wald ``stat`` of ``liver_met_vs_primary`` of each fit."""
    columns = {}
    for engine, (base, shrink) in itertools.product(ENGINES, BASES.items()):
        settings = {**defaults("config", "diffexp"), "shrink": shrink}
        model = fit_model(cohort, [ceiling.CONTRAST], FitSettings.from_config(settings), cores, engine=engine)
        columns[f"{engine}_{base}"] = wald_test(model, ceiling.CONTRAST, WaldSettings.from_config(settings), cores,
                                                engine=engine)["stat"]
    return pd.DataFrame(columns)


def r_stats(cohort: ad.AnnData, genes: pd.Index, folder: Path) -> pd.DataFrame:
    """R DESeq2's ``stat`` of the contrast with either base level (``engine_agreement.R``) on ``genes``."""
    samples = cohort.obs_names[cohort.obs["site"].isin(ceiling.CONTRAST.samples["site"])]
    counts = pd.DataFrame(cohort[samples].X, index=samples, columns=cohort.var_names)[genes].T
    counts.rename_axis("gene_id").to_csv(folder / "counts.tsv", sep="\t")
    cohort.obs.loc[samples, ["patient", "site"]].rename_axis("sample").to_csv(folder / "samples.tsv", sep="\t")
    subprocess.run(["Rscript", str(Path(__file__).with_suffix(".R")), str(folder)], check=True)
    return pd.read_csv(folder / "r_stats.tsv", sep="\t", index_col="gene_id")


def compare(stats: pd.DataFrame, cohort: ad.AnnData, worst: int = 5) -> dict:
    """Per pair of fits: genes with ``|stat difference| > TOLERANCE``, the largest difference, the worst genes."""
    samples = cohort.obs_names[cohort.obs["site"].isin(ceiling.CONTRAST.samples["site"])]
    counts = pd.DataFrame(cohort.X, index=cohort.obs_names, columns=cohort.var_names).loc[samples]
    pairs = {}
    for left, right in itertools.combinations(stats.columns, 2):
        difference = (stats[left] - stats[right]).abs().dropna()
        genes = difference.sort_values(ascending=False).head(worst).index
        pairs[f"{left} vs {right}"] = {
            "genes_compared": len(difference), "differ": int((difference > TOLERANCE).sum()),
            "largest": float(difference.max()),
            "worst": [{"gene_id": g, left: float(stats.loc[g, left]), right: float(stats.loc[g, right]),
                       "zero_counts": int((counts[g] == 0).sum()), "median_count": float(counts[g].median())}
                      for g in genes]}
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--r", action="store_true", help="also fit with R DESeq2 (Rscript)")
    parser.add_argument("--out", type=Path, default=RESULTS / "engine_agreement.json")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # pydeseq2's trend and overflow warnings, per fit
    folder = Path(tempfile.mkdtemp(prefix="engine_agreement_"))
    try:
        cohort = purified_null(args.seed, args.patients, folder)
        stats = stats_by_fit(cohort, args.cores)
        if args.r:
            stats = stats.join(r_stats(cohort, stats.index, folder))
        pairs = compare(stats, cohort)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {"script": "benchmarks/engine_agreement.py", **measured_commit(),
              "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "tolerance": TOLERANCE, "pairs": pairs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: {"differ": v["differ"], "largest": v["largest"]} for k, v in pairs.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
