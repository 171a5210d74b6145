"""Benchmark the builtin preranked GSEA engine on GO BP, optionally against gseapy's multilevel prerank.

Not a test. From the repository root::

    python benchmarks/gsea_benchmark.py [--threads 2] [--compare-gseapy]

Input: a 20,000-gene ranking (protein-coding symbols of the shipped gene map, seeded standard-normal
statistics, plus a shift of +/-``--shift`` on the members of ``--planted`` random GO BP sets) and the shipped
GO BP collection (sets of 10-500 ranked genes).

Every engine run happens in a fresh worker process, so its peak resident memory (``ru_maxrss``) is its own:

* ``compile``: our engine with an empty numba cache (the first job on a new machine: compiles, writes the
  cache), then a second call in the same process (``warm``);
* ``cached``: a new process that finds the cache (every later job);
* ``gseapy`` (with ``--compare-gseapy``): ``gseapy.prerank(method="multilevel", threads=1)`` on the same input.

Times are wall-clock seconds of the ``prerank`` call alone, with the process's CPU seconds beside them (the
machine may be shared: the load average is printed). Tables go to ``benchmarks/out/`` (git-ignored); the summary to
``benchmarks/results/gsea_benchmark.json`` (committed, with the commit measured).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))

from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale.genesets.gmt import as_gseapy_dict, read_gmt, restrict  # noqa: E402

GENE_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
OUT = REPO / "benchmarks" / "out"


def build_input(seed: int, n_genes: int, planted: int, shift: float) -> tuple[pd.Series, dict[str, list[str]],
                                                                             list[str]]:
    """The benchmark ranking, the GO BP sets restricted to it, and the planted terms."""
    gene_map = pd.read_csv(GENE_MAP, sep="\t", usecols=["symbol", "gene_type"])
    symbols = np.array(sorted(set(gene_map.loc[gene_map.gene_type == "protein-coding", "symbol"].dropna())))
    rng = np.random.default_rng(seed)
    genes = np.sort(rng.choice(symbols, n_genes, replace=False))
    stats = pd.Series(rng.normal(size=n_genes), index=genes)
    sets = as_gseapy_dict(restrict(read_gmt(GO_BP), set(genes), 10, 500))
    terms = [str(t) for t in rng.choice(sorted(sets), planted, replace=False)]
    for i, term in enumerate(terms):
        stats[sets[term]] += shift if i % 2 == 0 else -shift
    return stats, sets, terms


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def worker(args: argparse.Namespace) -> None:
    """Run one engine (in this fresh process) and print one JSON line with timings and memory."""
    stats, sets, _ = build_input(args.seed, args.genes, args.planted, args.shift)
    report: dict = {"engine": args.worker, "n_sets_given": len(sets), "rss_before_mb": peak_rss_mb()}
    if args.worker == "ours":
        from target_rationale.engines import gsea
        runs = []
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            table = gsea.prerank(stats, sets, min_size=10, max_size=500, nperm=1000, seed=42, threads=args.threads)
            runs.append({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})
        report["runs"] = runs
    else:
        import gseapy
        ranking = stats.sort_values(ascending=False)
        wall, cpu = time.perf_counter(), time.process_time()
        res = gseapy.prerank(rnk=ranking, gene_sets=sets, min_size=10, max_size=500, permutation_num=1000,
                             method="multilevel", threads=1, seed=42, outdir=None, no_plot=True, verbose=False)
        report["runs"] = [{"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}]
        table = res.res2d.rename(columns={"Term": "term_id", "ES": "es", "NES": "nes", "NOM p-val": "pvalue",
                                          "FDR q-val": "fdr"})[["term_id", "es", "nes", "pvalue", "fdr"]]
        table[["es", "nes", "pvalue", "fdr"]] = table[["es", "nes", "pvalue", "fdr"]].astype(float)
    report["n_tested"] = len(table)
    report["peak_rss_mb"] = peak_rss_mb()
    table.to_csv(args.table, sep="\t", index=False)
    print(json.dumps(report))


def run_worker(args: argparse.Namespace, engine: str, table: Path, cache_dir: Path, repeat: int) -> dict:
    command = [sys.executable, __file__, "--worker", engine, "--table", str(table), "--repeat", str(repeat),
               "--threads", str(args.threads), "--seed", str(args.seed), "--genes", str(args.genes),
               "--planted", str(args.planted), "--shift", str(args.shift)]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{engine} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict:
    """NES correlation, FDR < 0.05 call overlap and p-value agreement of two result tables."""
    joined = ours.set_index("term_id").join(theirs.set_index("term_id"), rsuffix="_g", how="inner")
    a = set(joined.index[joined.fdr < 0.05])
    b = set(joined.index[joined.fdr_g < 0.05])
    out = {"n_common": len(joined), "es_max_abs_diff": float((joined.es - joined.es_g).abs().max()),
           "nes_pearson_r": float(np.corrcoef(joined.nes, joined.nes_g)[0, 1]),
           "fdr05_ours": len(a), "fdr05_gseapy": len(b), "fdr05_shared": len(a & b),
           "fdr05_jaccard": len(a & b) / max(1, len(a | b))}
    log2_ratio = np.log2(joined.pvalue / joined.pvalue_g)
    for lo, hi in [(1e-10, 1e-2), (1e-50, 1e-10), (1e-6, 1e-2), (1e-10, 1e-6)]:
        band = joined.pvalue_g.between(lo, hi, inclusive="left")
        r = log2_ratio[band]
        out[f"p[{lo:g},{hi:g})"] = {"n": int(band.sum()), "within_x3": float((r.abs() <= np.log2(3)).mean()),
                                    "median_log2_ratio": float(r.median()), "sd_log2_ratio": float(r.std())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-gseapy", action="store_true", help="also run gseapy multilevel (~1 min, 7 GB)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--planted", type=int, default=20)
    parser.add_argument("--shift", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=2, help="calls in the compiling process (first: cold)")
    parser.add_argument("--worker", choices=["ours", "gseapy"], help=argparse.SUPPRESS)
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    OUT.mkdir(parents=True, exist_ok=True)
    stats, sets, terms = build_input(args.seed, args.genes, args.planted, args.shift)
    print(f"input: {stats.size} genes, {len(sets)} GO BP sets (10-500 ranked genes), {len(terms)} planted "
          f"(shift +/-{args.shift}); threads={args.threads}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="gsea-bench-numba-") as cache:
        ours_table = OUT / "gsea_ours.tsv"
        cold = run_worker(args, "ours", ours_table, Path(cache), args.repeat)
        cached = run_worker(args, "ours", OUT / "gsea_ours_cached.tsv", Path(cache), 1)
    runs = cold["runs"]
    print(f"ours, empty numba cache (compiles): {runs[0]['wall_s']:.2f} s wall ({runs[0]['cpu_s']:.2f} s CPU)")
    for i, run in enumerate(runs[1:], start=2):
        print(f"ours, warm (call {i} in that process): {run['wall_s']:.2f} s wall ({run['cpu_s']:.2f} s CPU)")
    run = cached["runs"][0]
    print(f"ours, new process with the numba cache: {run['wall_s']:.2f} s wall ({run['cpu_s']:.2f} s CPU)")
    print(f"ours, peak RSS of the process: {cold['peak_rss_mb']:.0f} MB (before the first call: "
          f"{cold['rss_before_mb']:.0f} MB); {cold['n_tested']} sets tested")
    same = pd.read_csv(ours_table, sep="\t").equals(pd.read_csv(OUT / "gsea_ours_cached.tsv", sep="\t"))
    print(f"ours, identical tables across processes: {same}")
    summary = {"ours_compile": cold, "ours_cached": cached}

    if args.compare_gseapy:
        gseapy_table = OUT / "gsea_gseapy.tsv"
        theirs = run_worker(args, "gseapy", gseapy_table, Path(tempfile.gettempdir()), 1)
        run = theirs["runs"][0]
        print(f"gseapy multilevel (threads=1): {run['wall_s']:.2f} s wall ({run['cpu_s']:.2f} s CPU), peak RSS "
              f"{theirs['peak_rss_mb']:.0f} MB; {theirs['n_tested']} sets tested")
        agreement = compare(pd.read_csv(ours_table, sep="\t"), pd.read_csv(gseapy_table, sep="\t"))
        summary.update(gseapy=theirs, agreement=agreement)
        print(f"ES max |diff| {agreement['es_max_abs_diff']:.2g}; NES Pearson r {agreement['nes_pearson_r']:.5f}; "
              f"FDR<0.05 calls ours {agreement['fdr05_ours']}, gseapy {agreement['fdr05_gseapy']}, shared "
              f"{agreement['fdr05_shared']}, Jaccard {agreement['fdr05_jaccard']:.3f}")
        for key, band in agreement.items():
            if key.startswith("p["):
                print(f"gseapy p in {key[1:]}: n={band['n']}, ours within x3 of gseapy: {band['within_x3']:.1%}, "
                      f"median log2(ours/gseapy) {band['median_log2_ratio']:+.2f}, sd {band['sd_log2_ratio']:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary.update(measured_commit())
    (RESULTS / "gsea_benchmark.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
