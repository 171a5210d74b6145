"""The QC matrix's current VST (``diffexp.qc.qc_matrix``: pydeseq2's trend) against ``engines.vst.blind_vst``
(DESeq2's ``vst(blind = TRUE)``) on the demo cohort: agreement, trend and time of each; with ``--r``, both against
R DESeq2's own ``vst()`` on the same counts (needs ``Rscript`` with DESeq2).

    python benchmarks/vst_demo.py [--counts resources/demo/counts.tsv.gz] [--repeats 3] [--r]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from target_rationale.core.jobs import LOG  # noqa: E402
from target_rationale.diffexp.qc import qc_matrix  # noqa: E402
from target_rationale.engines.nbinom import FastDeseqDataSet, VectorizedInference  # noqa: E402
from target_rationale.engines.vst import blind_vst  # noqa: E402

R_VST = """suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(TRUE)
x <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
vsd <- vst(DESeqDataSetFromMatrix(x[rowSums(x) > 0, ], data.frame(row.names = colnames(x)), ~ 1), blind = TRUE)
write.table(data.frame(gene_id = rownames(vsd), assay(vsd), check.names = FALSE), args[2], sep = "\\t",
            quote = FALSE, row.names = FALSE)
"""


def summary(a: pd.DataFrame, b: pd.DataFrame) -> str:
    d = (a - b.loc[a.index, a.columns]).abs().to_numpy()
    return f"max {d.max():.3g}, median {np.median(d):.3g} (log2)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default=str(REPO / "resources" / "demo" / "counts.tsv.gz"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--r", action="store_true", help="also compare with R DESeq2's vst()")
    args = parser.parse_args()
    counts = pd.read_csv(args.counts, sep="\t", index_col=0).T
    counts = counts.loc[:, counts.sum(axis=0) > 0]
    cohort = ad.AnnData(X=counts.to_numpy(float), obs=pd.DataFrame(index=counts.index),
                        var=pd.DataFrame({"symbol": counts.columns}, index=counts.columns))
    notes: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: notes.append(record.getMessage())
    LOG.addHandler(handler)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.repeats):
            start = time.perf_counter()
            qc = qc_matrix(cohort, set(), seed=0)
            middle = time.perf_counter()
            with threadpool_limits(limits=1):
                dds = FastDeseqDataSet(counts=counts, metadata=pd.DataFrame({"all": "all"}, index=counts.index),
                                       design="~ 1", inference=VectorizedInference(n_cpus=1), quiet=True)
                dds.fit_size_factors()
                ours, trend = blind_vst(counts, dds.obs["size_factors"].to_numpy(float))
            times.append((middle - start, time.perf_counter() - middle))
    current = pd.DataFrame(qc.layers["vst"], index=qc.obs_names, columns=qc.var_names)
    fallback = any("VST" in note for note in notes)
    print(f"{counts.shape[1]} genes with a count x {counts.shape[0]} samples")
    print(f"qc_matrix VST: pydeseq2 {'mean trend on all genes (fallback)' if fallback else 'parametric trend'}; "
          f"engines.vst: {trend.fit_type} {trend.coefficients if trend.coefficients is not None else ''} on "
          f"{'all genes' if trend.all_genes else f'{len(trend.genes)} genes'}")
    print(f"qc_matrix vs engines.vst: {summary(current, ours)}")
    print("seconds, qc_matrix (whole) / engines.vst (with size factors): "
          + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in times))
    if args.r:
        with tempfile.TemporaryDirectory() as tmp:
            script, out = Path(tmp) / "vst.R", Path(tmp) / "vst.tsv"
            script.write_text(R_VST)
            start = time.perf_counter()
            subprocess.run(["Rscript", str(script), args.counts, str(out)], check=True)
            print(f"R vst(): {time.perf_counter() - start:.2f} s with R's start-up and reading")
            r = pd.read_csv(out, sep="\t", index_col="gene_id").T
        print(f"engines.vst vs R: {summary(ours, r)}; qc_matrix vs R: {summary(current, r)}")


if __name__ == "__main__":
    main()
