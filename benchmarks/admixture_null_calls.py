"""Where the admixture-only null's false calls come from: which host cell types the workflow under-subtracts (not a
test).

From the repository root::

    python benchmarks/admixture_null_calls.py --seeds 20 --patients 10 --cores 2

On the admixture-only null (two tumour groups that differ only by host tissue), ``liver_met_vs_primary`` should call
no gene. Per seed, an ``admixture_null`` cohort and an ``admixture_planted`` one (``make_admixture_cohort.py``;
host-tissue stage on, as in ``admixture_calls.py``) are run to that contrast's DE table; then, on the null:

* the genes called up and down (``padj < 0.05``), and the called-up genes by the liver cell type that makes most
  of the host's reads of them (``cell_type``: the simulator's mean liver mix times the reference profiles; ``tumour``
  where the host makes under 20% of the metastases' reads);
* the workflow's expected host reads over the true ones (each metastasis' count times its true host share), summed
  over the metastases and the genes of each cell type of which the host makes at least 20% (1 is right);
* the liver make-up the workflow fitted (``results/cohort/adjusted.h5ad``) against the simulator's mean mix;
* the median Wald statistic per stratum of the table's host share (0 everywhere is right);

and, on both designs, a variant: each stratum's median log fold change subtracted (an empirical null's location
per stratum of host share, Efron 2004) before the statistic is recomputed: null calls and the planted AUC of
``|stat|`` (``admixture_calls.auc``). Writes ``benchmarks/results/admixture_null_calls.json`` (per-seed rows, means
with 95% t intervals, commit). About 1 min per seed.
"""

from __future__ import annotations

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

from admixture_calls import CONTRAST, auc, mean, prepare_config, run_workflow, table, tested  # noqa: E402
from make_admixture_cohort import make_admixture_cohort  # noqa: E402
from measured_commit import seed_parser, seed_rows, write_result  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.admixture.adjust import HOST_LAYER, reference_levels  # noqa: E402
from target_rationale.core.stats import benjamini_hochberg, normal_sf  # noqa: E402

from simulate.design import LIVER_HOST  # noqa: E402
from simulate.host import shipped_host_reference  # noqa: E402

#: Host share of the metastases' reads from which a gene is counted as the host's (under it: ``tumour``).
HOST_GENE_SHARE = 0.2
#: Edges of the host-share strata (the table's ``host_share``) of the centring variant and the stratum medians.
STRATA = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65)
#: Fewest genes a stratum needs to be centred.
MIN_STRATUM = 50
ALPHA = 0.05


def centred(de: pd.DataFrame, edges: tuple[float, ...] = STRATA) -> pd.DataFrame:
    """The table with each host-share stratum's median log fold change (over its tested genes) subtracted, and
    ``stat``, ``pvalue``, ``padj`` recomputed (Benjamini-Hochberg over the tested genes)."""
    out = de.copy()
    ok = (np.isfinite(out["stat"]) & np.isfinite(out["host_share"])).to_numpy()
    stratum = np.digitize(out["host_share"].fillna(0.0).to_numpy(), edges)
    lfc = out["log2FoldChange"].to_numpy(float).copy()
    for value in np.unique(stratum[ok]):
        members = ok & (stratum == value)
        if members.sum() >= MIN_STRATUM:
            lfc[members] -= np.median(lfc[members])
    stat = np.where(ok, lfc / out["lfcSE"].to_numpy(float), np.nan)
    out["log2FoldChange"], out["stat"] = lfc, stat
    out["pvalue"] = np.where(ok, 2 * normal_sf(np.abs(stat)), np.nan)
    padj = np.full(len(out), np.nan)
    tested_mask = ok & out["padj"].notna().to_numpy()
    padj[tested_mask] = benjamini_hochberg(out["pvalue"].to_numpy()[tested_mask])
    out["padj"] = padj
    return out


def calls(de: pd.DataFrame) -> tuple[int, int]:
    """Genes called up and down at ``padj < ALPHA``."""
    hit = de["padj"] < ALPHA
    return int((hit & (de["log2FoldChange"] > 0)).sum()), int((hit & (de["log2FoldChange"] < 0)).sum())


def cell_types(out: Path, cohort: ad.AnnData) -> tuple[pd.Series, dict[str, float]]:
    """Per gene id, the liver cell type making most of the simulated host's reads of it (reference profiles times
    the simulator's mean mix over the metastases), and that mean mix."""
    samples = pd.read_csv(out / "truth_samples.tsv", sep="\t")
    mets = samples[samples["host_tissue"] == LIVER_HOST.name]
    mix = {p: float(mets[f"{LIVER_HOST.name}_mix_{p}"].mean()) for p in LIVER_HOST.profiles}
    reference = shipped_host_reference()
    contribution = np.vstack([w * reference_levels(cohort, reference, p) for p, w in mix.items()])
    names = np.array(list(mix))
    return pd.Series(names[contribution.argmax(axis=0)], index=cohort.var_names), mix


def null_measures(out: Path) -> dict:
    """The null design's false calls, their cell types, host reads over true ones, fitted make-up, strata."""
    de = pd.read_csv(table(out, "de_table", contrast=CONTRAST), sep="\t").set_index("gene_id")
    adjusted = ad.read_h5ad(out / paths.result("adjusted_cohort"))
    cohort = ad.read_h5ad(out / paths.result("cohort_h5ad"))
    kind, mix_true = cell_types(out, cohort)
    share = pd.read_csv(out / "host_share.tsv.gz", sep="\t", index_col="gene_id")
    mets = adjusted.obs_names[adjusted.obs["host"] == LIVER_HOST.name]
    true_share = share.reindex(index=adjusted.var_names, columns=mets).fillna(0.0).to_numpy().T
    counts = np.asarray(cohort[mets].X.toarray() if hasattr(cohort.X, "toarray") else cohort[mets].X, float)
    expected = np.asarray(adjusted[mets].layers[HOST_LAYER], float)
    true_reads = counts * true_share
    met_share = true_reads.sum(axis=0) / np.maximum(counts.sum(axis=0), 1.0)
    kind = kind.where(met_share >= HOST_GENE_SHARE, "tumour")
    row: dict[str, object] = {}
    row["up"], row["down"] = calls(de)
    up = de.index[(de["padj"] < ALPHA) & (de["log2FoldChange"] > 0)]
    row["up_by_cell_type"] = {str(k): int(v) for k, v in kind.reindex(up).value_counts().items()}
    row["host_genes_by_cell_type"] = {str(k): int(v) for k, v in kind.value_counts().items()}
    row["reads_over_true_by_cell_type"] = {
        str(k): float(expected[:, (kind == k).to_numpy()].sum() / true_reads[:, (kind == k).to_numpy()].sum())
        for k in kind.unique() if k != "tumour"}
    row["mix_true"] = mix_true
    row["mix_fitted"] = {str(k): float(v) for k, v in adjusted.uns["admixture"]["mix"][LIVER_HOST.name].items()}
    kept = tested(de.reset_index())
    stratum = pd.cut(kept["host_share"], [0.0, 0.05, 0.2, 0.5, 0.8], include_lowest=True)
    medians = kept.groupby(stratum, observed=True)["stat"].median()
    row["median_stat_by_host_share"] = {str(k): float(v) for k, v in medians.items()}
    row["centred_up"], row["centred_down"] = calls(centred(de))
    return row


def one_seed(seed: int, patients: int, cores: int, workdir: Path) -> dict:
    """Both designs of one seed."""
    row: dict[str, object] = {"seed": seed}
    for design in ("admixture_null", "admixture_planted"):
        out = make_admixture_cohort(design, patients, seed, workdir / f"{design}_{seed}")
        prepare_config(out)
        run_workflow(out, cores, [paths.result("de_table", contrast=CONTRAST)])
        if design == "admixture_null":
            row.update(null_measures(out))
        else:
            de = pd.read_csv(table(out, "de_table", contrast=CONTRAST), sep="\t")
            truth = pd.read_csv(out / "truth_genes.tsv", sep="\t")
            row["auc"], row["centred_auc"] = auc(de, truth), auc(centred(de.set_index("gene_id")).reset_index(),
                                                                  truth)
    return row


def summarise(rows: list[dict]) -> dict:
    """Means with 95% t intervals over the seeds."""
    def keys(field: str) -> list[str]:
        return sorted({k for r in rows for k in r[field]})

    summary: dict[str, object] = {name: mean([float(r[name]) for r in rows]) for name in
                                  ("up", "down", "centred_up", "centred_down", "auc", "centred_auc")}
    summary["auc_change"] = mean([r["centred_auc"] - r["auc"] for r in rows])
    for field in ("up_by_cell_type", "reads_over_true_by_cell_type", "mix_true", "mix_fitted",
                  "median_stat_by_host_share"):
        summary[field] = {k: mean([float(r[field].get(k, 0.0)) for r in rows]) for k in keys(field)}
    return summary


def main() -> None:
    args = seed_parser(__doc__, "admixture_null_calls.json", 20).parse_args()
    with tempfile.TemporaryDirectory(prefix="admixture-null-calls-") as tmp:
        rows = seed_rows(one_seed, args, Path(tmp))
    write_result("benchmarks/admixture_null_calls.py", args, summarise(rows), rows)


if __name__ == "__main__":
    main()
