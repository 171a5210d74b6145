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

With ``--design admixture_null`` (the two groups differ only by host tissue) it measures the null instead, as
the workflow would test it: genes whose true host share of the metastases' reads is at least the default
``admixture.host_dominated`` (0.8) left untested, then the genes called up and down (padj < 0.1, Benjamini-Hochberg
over the rest), the hypergeometric p of the frozen liver genes among the 200 highest ``stat``
(``admixture_calls.liver_top_p``), and the mean ``stat`` of the tested genes in bins of that host share (0 under
a calibrated null).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
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
from admixture_purification import estep  # noqa: E402
from make_admixture_cohort import DESIGN, GENE_MAP, admixture_design, make_admixture_cohort  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.cohort.design import design_matrix  # noqa: E402
from target_rationale.core.stats import benjamini_hochberg  # noqa: E402

from simulate import prepare_gene_table  # noqa: E402
from simulate.host import build_host_model, draw_hosts, shipped_host_reference  # noqa: E402

#: Components of the simulated liver with no marker a tumour lacks (HPA's pan-tissue classes).
UNMARKED = ("endothelial_cells", "fibroblasts")
PROFILES = ("sample", "marked", "mean")
FORMS = ("subtract", "estep")
VARIANTS = tuple(f"{p}_{f}" for p in PROFILES for f in FORMS)
GENES = ("KDR", "FLT1", "FLT4", "VEGFA", "EGFR", "CSF1R")
#: Bins of the true host share of the metastases' reads of a gene (null design).
SHARE_BINS = (0.0, 0.05, 0.2, 0.5, 0.8)


@dataclass(frozen=True)
class TrueHost:
    """A workflow run's cohort beside its true host reads (:func:`true_host`)."""

    cohort: ad.AnnData  #: results/cohort.h5ad
    counts: np.ndarray  #: its counts, samples x genes
    truth: pd.DataFrame  #: truth_samples.tsv, rows as the cohort's samples
    symbols: pd.Series  #: gene id -> symbol (truth_host_genes.tsv.gz)
    reads: np.ndarray  #: each sample's true host reads, samples x genes (its fraction and its own profile)
    metastases: np.ndarray  #: the samples whose host is liver
    share: pd.Series  #: per gene, the true host share of the metastases' reads


def true_host(out: Path, seed: int, patients: int, design_name: str) -> TrueHost:
    """The cohort a workflow run of :func:`make_admixture_cohort`'s ``out`` wrote, with its true host reads."""
    cohort = ad.read_h5ad(out / paths.result("cohort_h5ad"))
    counts = np.asarray(cohort.X, dtype=float)
    truth = pd.read_csv(out / "truth_samples.tsv", sep="\t").set_index("sample").loc[cohort.obs_names]
    symbols = pd.read_csv(out / "truth_host_genes.tsv.gz", sep="\t", index_col=0)["symbol"]
    profiles = pd.DataFrame(host_profiles(out, seed, patients, design_name)["sample"],
                            index=symbols.index).reindex(cohort.var_names).fillna(0.0).to_numpy()
    reads = (truth["host_fraction"].to_numpy() * counts.sum(axis=1))[:, None] * profiles.T
    metastases = (truth["host_tissue"] == "liver").to_numpy()
    share = pd.Series(reads[metastases].sum(axis=0) / np.maximum(counts[metastases].sum(axis=0), 1.0),
                      index=cohort.var_names)
    return TrueHost(cohort, counts, truth, symbols, reads, metastases, share)


def run_true_host(design_name: str, patients: int, seed: int, folder: Path, cores: int) -> tuple[Path, TrueHost]:
    """A cohort of :func:`make_admixture_cohort` in ``folder / design_name``, run through Snakemake to
    results/qc/admixture.tsv (``admixture_calls``' config), and :func:`true_host` of it."""
    out = make_admixture_cohort(design_name, patients, seed, folder / design_name)
    calls.prepare_config(out)
    calls.run_workflow(out, cores, [paths.result("admixture_table")])
    return out, true_host(out, seed, patients, design_name)


def host_profiles(folder: Path, seed: int, patients: int, design_name: str = "admixture_planted"
                  ) -> dict[str, np.ndarray]:
    """Per profile kind, genes (as in ``truth_host_genes``) x samples host profiles, rebuilt from the seed."""
    design = admixture_design(design_name, patients)
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


def null_measures(de: pd.DataFrame, share: pd.Series, symbols: pd.Series, liver: set[str]) -> dict:
    """Calls, liver genes' p and mean ``stat`` by host-share bin of one null DE table (see the module docstring)."""
    share = share.reindex(de["gene_id"]).to_numpy()
    de = de.assign(symbol=de["gene_id"].map(symbols))
    dominated = share >= SHARE_BINS[-1]
    de.loc[dominated, ["stat", "pvalue", "padj"]] = np.nan
    pvalue = pd.to_numeric(de["pvalue"], errors="coerce")
    padj = pd.Series(np.nan, index=de.index)
    keep = pvalue.notna()
    padj[keep] = benjamini_hochberg(pvalue[keep].to_numpy())
    lfc, stat = de["log2FoldChange"].to_numpy(), de["stat"].to_numpy(dtype=float)
    bins = {f"{lo:g}-{hi:g}": float(np.nanmean(stat[(share >= lo) & (share < hi)]))
            for lo, hi in zip(SHARE_BINS[:-1], SHARE_BINS[1:])}
    return {"called_up": int(((padj < 0.1) & (lfc > 0)).sum()), "called_down": int(((padj < 0.1) & (lfc < 0)).sum()),
            "liver_p": calls.liver_top_p(de, liver)["liver_p"], "mean_stat_by_host_share": bins}


def one_seed(seed: int, patients: int, cores: int, design_name: str = "admixture_planted") -> dict:
    """Simulate the design, purify six ways, test, measure; one seed."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_oracle_{seed}_"))
    row: dict[str, object] = {"seed": seed, "patients": patients}
    planted = design_name == "admixture_planted"
    liver = set() if planted else calls.read_liver_genes()
    try:
        out = make_admixture_cohort(design_name, patients, seed, folder)
        counts, sheet = ceiling.read_counts(out)
        truth_genes = pd.read_csv(out / "truth_genes.tsv", sep="\t")
        symbols = pd.read_csv(out / "truth_host_genes.tsv.gz", sep="\t", index_col=0)["symbol"]
        truth = pd.read_csv(out / "truth_samples.tsv", sep="\t").set_index("sample").loc[counts.columns]
        x = counts.T.to_numpy(dtype=float)
        design = design_matrix(sheet, DESIGN).to_numpy(dtype=float)
        metastases = (truth["host_tissue"] == "liver").to_numpy()
        for kind, profiles in host_profiles(out, seed, patients, design_name).items():
            e = (truth["host_fraction"].to_numpy() * x.sum(axis=1))[:, None] * profiles.T
            share = pd.Series(e[metastases].sum(axis=0) / np.maximum(x[metastases].sum(axis=0), 1.0),
                              index=counts.index)
            for form in FORMS:
                purified = np.maximum(x - e, 0.0) if form == "subtract" else estep(x, e, design)
                # on the null, no shrinkage: its sign check tripped on an E-step null where few genes change
                # (without it the design's base level is alphabetical, so the fit differs a little)
                de = ceiling.de_table(np.rint(purified), sheet, counts.index, cores, shrink=None if planted else False)
                if not planted:
                    row[f"{kind}_{form}"] = null_measures(de, share, symbols, liver)
                    continue
                picked = de.assign(symbol=de["gene_id"].map(symbols)).set_index("symbol")
                row[f"{kind}_{form}"] = {"auc": calls.auc(de, truth_genes),
                                         **{f"{g}_stat": float(picked.loc[g, "stat"]) for g in GENES}}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict]) -> dict:
    """Per variant: mean AUC and axis-gene stats (planted) or calls, liver p and binned stats (null), with 95% t
    intervals and shares with Wilson intervals."""
    if "auc" in rows[0][VARIANTS[0]]:
        return {name: {"auc": calls.mean([r[name]["auc"] for r in rows], 0.9),
                       **{f"{g}_stat": calls.mean([r[name][f"{g}_stat"] for r in rows]) for g in GENES}}
                for name in VARIANTS}
    bins = list(rows[0][VARIANTS[0]]["mean_stat_by_host_share"])
    return {name: {"called_up": calls.mean([r[name]["called_up"] for r in rows]),
                   "called_down": calls.mean([r[name]["called_down"] for r in rows]),
                   "liver_p_above_0.05": calls.share([r[name]["liver_p"] > 0.05 for r in rows], 0.9),
                   "mean_stat_by_host_share": {b: calls.mean([r[name]["mean_stat_by_host_share"][b] for r in rows])
                                               for b in bins}}
            for name in VARIANTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--design", choices=("admixture_planted", "admixture_null"), default="admixture_planted")
    parser.add_argument("--out", type=Path, default=None,
                        help="default benchmarks/results/admixture_oracle.json (admixture_oracle_null.json for the "
                             "null design)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = RESULTS / ("admixture_oracle.json" if args.design == "admixture_planted"
                              else "admixture_oracle_null.json")
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows.append(one_seed(seed, args.patients, args.cores, args.design))
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
