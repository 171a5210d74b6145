"""Generate a large simulated cohort for the benchmarks (not a test; not shipped data).

From the repository root::

    python benchmarks/make_cohort.py --genes 20000 --samples 12 --out /tmp/bench/20k_x_12

writes ``counts.tsv.gz`` (genes x samples, Ensembl ids), ``samples.tsv`` (``sample, patient, site, batch``) and
``config.yaml`` (design ``~ batch + site``, the three default contrasts, GO BP / MF / CC) into ``--out``.

The counts come from :func:`simulate.simulate_cohort` with the pNEN programmes of the demo
cohort; only the gene universe and the samples change:

* genes: the protein-coding genes of the shipped gene map first, then its other mapped genes (pseudogenes,
  ncRNAs, ...), then, beyond the ~36,500 mapped genes, synthetic ids ``ENSG99...`` that the workflow reports as
  unmapped (as the lncRNA / novel genes of a GENCODE-based count matrix would be);
* samples: ``samples // 3`` patients with normal pancreas, primary and liver metastasis, one more patient with
  the remainder (primary, then metastasis); batches alternate over patients.

The design is ``~ batch + site`` rather than the demo's ``~ patient + site``: with 67 patients the paired design
has 69 coefficients, which is not what a large unpaired cohort would fit. The same arguments give byte-identical
files (seeded generator, gzip with mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts"):  # allow running without PYTHONPATH
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from target_rationale.genesets.gmt import read_gmt  # noqa: E402

from simulate import (  # noqa: E402
    CohortDesign,
    pnen_programmes,
    prepare_gene_table,
    simulate_cohort,
)

GENE_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
DESIGN = "~ batch + site"
CONTRASTS = [
    {"name": "primary_vs_normal", "variable": "site", "target": "primary", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_normal", "variable": "site", "target": "liver_metastasis", "reference": "normal_pancreas"},
    {"name": "liver_met_vs_primary", "variable": "site", "target": "liver_metastasis", "reference": "primary"},
]
COLLECTIONS = {"GO_BP": {"gmt": "resources/genesets/go_bp.gmt.gz"},
               "GO_MF": {"gmt": "resources/genesets/go_mf.gmt.gz"},
               "GO_CC": {"gmt": "resources/genesets/go_cc.gmt.gz"}}


def gene_universe(n_genes: int, seed: int = 0) -> pd.DataFrame:
    """``n_genes`` genes (``gene_id, symbol``): mapped protein-coding genes, other mapped genes, synthetic ids.

    Parameters
    ----------
    n_genes : int
        Genes wanted. Fewer than the protein-coding genes: a seeded random subset of them.
    seed : int
        Seed of that subset.
    """
    gene_map = pd.read_csv(GENE_MAP, sep="\t", dtype=str)
    tables = [prepare_gene_table(gene_map, "protein-coding")]
    for gene_type in sorted(set(gene_map["gene_type"].dropna()) - {"protein-coding"}):
        tables.append(prepare_gene_table(gene_map, gene_type))
    genes = pd.concat(tables, ignore_index=True).drop_duplicates("gene_id").drop_duplicates("symbol")
    if n_genes <= len(tables[0]):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(tables[0]), n_genes, replace=False))
        return tables[0].iloc[keep].reset_index(drop=True)
    genes = genes.head(n_genes)
    missing = n_genes - len(genes)
    synthetic = pd.DataFrame({"gene_id": [f"ENSG99{i:09d}" for i in range(missing)],
                              "symbol": [f"SYNTH{i:06d}" for i in range(missing)]})
    return pd.concat([genes, synthetic], ignore_index=True)


def benchmark_design(n_samples: int) -> CohortDesign:
    """``n_samples // 3`` patients with all three sites, then one patient with the remaining one or two."""
    if n_samples < 6:
        raise ValueError("a benchmark cohort needs at least 6 samples (2 per site)")
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    patients = [(f"B{i:03d}", all3) for i in range(1, n_samples // 3 + 1)]
    rest = n_samples % 3
    if rest:
        patients.append((f"B{len(patients) + 1:03d}", ("primary", "liver_metastasis")[:rest]))
    return CohortDesign(name=f"bench{n_samples}", patients=tuple(patients), programmes=pnen_programmes())


def _write_gzip_tsv(table: pd.DataFrame, path: Path) -> None:
    data = table.to_csv(sep="\t", lineterminator="\n").encode("utf-8")
    with open(path, "wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                                                   compresslevel=1) as gz:
        gz.write(data)


def benchmark_config(counts: str = "counts.tsv.gz", samples: str = "samples.tsv",
                     collections: dict | None = None, shrink: bool = True) -> dict:
    """The workflow config of a benchmark cohort (paths relative to the run's working directory)."""
    return {"counts": counts, "samples": samples, "gene_id_type": "auto", "design": DESIGN,
            "contrasts": CONTRASTS, "seed": 42, "genesets": collections or COLLECTIONS,
            "diffexp": {"shrink": shrink},
            "enrichment": {"comparison": ["primary_vs_normal", "liver_met_vs_normal"]}}


def make_cohort(n_genes: int, n_samples: int, out: str | Path, seed: int = 1) -> Path:
    """Simulate the cohort and write ``counts.tsv.gz``, ``samples.tsv`` and ``config.yaml`` into ``out``.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = simulate_cohort(gene_universe(n_genes, seed), read_gmt(GO_BP), benchmark_design(n_samples), seed)
    _write_gzip_tsv(cohort.counts, out / "counts.tsv.gz")
    cohort.samples.to_csv(out / "samples.tsv", sep="\t", index=False, lineterminator="\n")
    (out / "config.yaml").write_text(yaml.safe_dump(benchmark_config(), sort_keys=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = make_cohort(args.genes, args.samples, args.out, args.seed)
    print(f"{args.genes} genes x {args.samples} samples written to {out}")


if __name__ == "__main__":
    main()
