"""What purification can reach when the host is known: oracle host reads on the planted admixture design (not a
test).

From the repository root::

    python benchmarks/admixture_oracle.py --seeds 10 --patients 10 --cores 2

``admixture_ceiling.py`` compared the workflow with two oracles of another kind: subtracting each sample's true
fraction times the host's true mean profile (AUC 0.866), and taking each count's true host share off the count
itself (0.961; that one needs each count's true tumour level, which no estimator has). This script asks where
the workflow's form, subtraction of expected host reads ``e = f L H`` (``f`` the host fraction, ``L`` the
library, ``H`` the host's profile), stops when ``f`` and ``H`` are known exactly, and whether knowing each
sample's cell mix would help. Host profiles, all at each sample's true fraction:

* ``sample``: each sample's true host (its own Dirichlet cell mix of the perturbed reference profiles);
* ``marked``: the true shares of the four components a liver-specific marker can follow (hepatocytes, the liver
  tissue profile with the sinusoidal endothelium and stellate cells, Kupffer cells, cholangiocytes), the two
  without one (HPA's pan-tissue ``endothelial_cells`` and ``fibroblasts``: KDR, PECAM1, COL1A1, genes the tumour
  makes too) at their true joint share split in their mean proportions: what a perfect marker-anchored split
  gives;
* ``mean``: the host's true mean mix.

Forms: ``subtract`` (``max(count - e, 0)``, the workflow's) and ``estep`` (``count x t / (t + e)``, ``t`` fitted
on the design as in ``admixture_purification.py``). The cohort is simulated as :func:`make_admixture_cohort` does
and its host model rebuilt from the seed (checked against ``truth_host_genes``); DE is the workflow's
(``admixture_ceiling.de_table``: default settings, no host adjustment, every gene tested). Measured in
``liver_met_vs_primary``: the AUC of ``|stat|`` of planted against null genes and the ``stat`` of the axes'
planted receptors. Writes ``benchmarks/results/admixture_oracle.json`` (per-seed rows, means with 95% t
intervals, commit, arguments).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import admixture_calls as calls  # noqa: E402
import admixture_ceiling as ceiling  # noqa: E402
from admixture_purification import estep  # noqa: E402
from make_admixture_cohort import DESIGN, GENE_MAP, admixture_design, make_admixture_cohort  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.cohort.design import design_matrix  # noqa: E402

from simulate import prepare_gene_table  # noqa: E402
from simulate.host import build_host_model, draw_hosts, shipped_host_reference  # noqa: E402

#: Components of the simulated liver with no marker a tumour lacks (HPA's pan-tissue classes).
UNMARKED = ("endothelial_cells", "fibroblasts")
PROFILES = ("sample", "marked", "mean")
FORMS = ("subtract", "estep")
VARIANTS = tuple(f"{p}_{f}" for p in PROFILES for f in FORMS)
GENES = ("KDR", "FLT1", "FLT4", "VEGFA", "EGFR", "CSF1R")


def host_profiles(folder: Path, seed: int, patients: int) -> dict[str, np.ndarray]:
    """Per profile kind, genes (as in ``truth_host_genes``) x samples host profiles, rebuilt from the seed."""
    design = admixture_design("admixture_planted", patients)
    host = design.host
    assert host is not None
    genes = prepare_gene_table(pd.read_csv(GENE_MAP, sep="\t", dtype=str))[["gene_id", "symbol"]]
    genes = genes.sort_values("gene_id", kind="mergesort").reset_index(drop=True)
    rng = np.random.default_rng(seed)  # as simulate_cohort: eight streams, then the host model's two
    rng.spawn(8)
    r_model, r_draw = rng.spawn(2)
    model = build_host_model(genes, design, shipped_host_reference(), r_model)
    draws = draw_hosts(pd.read_csv(folder / "samples.tsv", sep="\t")["site"].tolist(), host, model, r_draw)
    truth = pd.read_csv(folder / "truth_host_genes.tsv.gz", sep="\t", index_col=0)
    rows = pd.Index(genes["gene_id"]).get_indexer(truth.index)
    if not np.allclose(np.round(model.mean_host(host.liver)[rows] * 1e6, 4), truth["liver_cpm"], atol=2e-4):
        raise RuntimeError(f"{folder}: the rebuilt host model differs from the simulator's")
    marked, mean = draws.profiles.copy(), draws.profiles.copy()
    prior = dict(host.liver.components)
    prior_unmarked = sum(prior[p] for p in UNMARKED)
    for j, tissue in enumerate(draws.tissue):
        if tissue != host.liver.name:
            continue
        weights = {p: float(draws.mix.loc[j, f"{tissue}_mix_{p}"]) for p in host.liver.profiles}
        unmarked = sum(weights[p] for p in UNMARKED)
        marked[:, j] = sum((unmarked * prior[p] / prior_unmarked if p in UNMARKED else w) * model.components[p]
                           for p, w in weights.items())
        mean[:, j] = model.mean_host(host.liver)
    return {"sample": draws.profiles[rows], "marked": marked[rows], "mean": mean[rows]}


def one_seed(seed: int, patients: int, cores: int) -> dict:
    """Simulate the planted design, purify six ways, test, measure; one seed."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_oracle_{seed}_"))
    row: dict[str, object] = {"seed": seed, "patients": patients}
    try:
        out = make_admixture_cohort("admixture_planted", patients, seed, folder)
        counts, sheet = ceiling.read_counts(out)
        truth_genes = pd.read_csv(out / "truth_genes.tsv", sep="\t")
        symbols = pd.read_csv(out / "truth_host_genes.tsv.gz", sep="\t", index_col=0)["symbol"]
        truth = pd.read_csv(out / "truth_samples.tsv", sep="\t").set_index("sample").loc[counts.columns]
        x = counts.T.to_numpy(dtype=float)
        design = design_matrix(sheet, DESIGN).to_numpy(dtype=float)
        for kind, profiles in host_profiles(out, seed, patients).items():
            e = (truth["host_fraction"].to_numpy() * x.sum(axis=1))[:, None] * profiles.T
            for form in FORMS:
                purified = np.maximum(x - e, 0.0) if form == "subtract" else estep(x, e, design)
                de = ceiling.de_table(np.rint(purified), sheet, counts.index, cores)
                picked = de.assign(symbol=de["gene_id"].map(symbols)).set_index("symbol")
                row[f"{kind}_{form}"] = {"auc": calls.auc(de, truth_genes),
                                         **{f"{g}_stat": float(picked.loc[g, "stat"]) for g in GENES}}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict]) -> dict:
    """Per variant: mean AUC and axis-gene stats with 95% t intervals."""
    return {name: {"auc": calls.mean([r[name]["auc"] for r in rows], 0.9),
                   **{f"{g}_stat": calls.mean([r[name][f"{g}_stat"] for r in rows]) for g in GENES}}
            for name in VARIANTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "admixture_oracle.json")
    args = parser.parse_args(argv)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows.append(one_seed(seed, args.patients, args.cores))
        print(json.dumps(rows[-1]), flush=True)
    result = {"script": "benchmarks/admixture_oracle.py", **measured_commit(),
              "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "summary": summarise(rows), "seeds": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
