"""Time every stage of the workflow on a generated cohort, and R DESeq2 on the same matrix (not a test).

From the repository root::

    python benchmarks/run_benchmark.py --genes 20000 --samples 12 --cores 2 [--r] [--keep]

1. Generates the cohort with ``benchmarks/make_cohort.py`` (cached under ``benchmarks/out/cohorts/``).
2. Runs the whole workflow on it with ``--cores`` in a fresh temporary folder (three contrasts; GO BP, MF and CC;
   design ``~ batch + site``) and measures the run's wall time, the time until Snakemake started the first job
   (config and input validation, DAG), the largest process (``ru_maxrss``) and, sampled every 0.5 s, the
   summed resident memory of all its processes and the peak memory (``VmHWM``) of each rule's processes.
3. Reads each job's wall time, peak resident memory (``max_rss``) and CPU time from Snakemake's benchmark files
   (``logs/benchmarks/``); jobs of rules without a ``benchmark:`` get their wall time from Snakemake's log
   (whole seconds). Jobs are grouped into stages; a stage's peak memory is the larger of ``max_rss`` (which
   Snakemake samples and can miss short peaks) and the sampled ``VmHWM`` of its scripts' processes.
4. With ``--r``: runs ``benchmarks/deseq2_benchmark.R`` (R DESeq2, ``--cores`` BiocParallel workers) on the same
   counts with the workflow's pre-filter, and prints the time ratio (the workflow's DE stage, i.e. its ``fit``
   and ``contrast`` jobs, over R's whole script) and the agreement of the unshrunk log2 fold changes (Pearson r)
   and of the padj < 0.05 calls (Jaccard).

The machine may be shared: the load average before and after is printed and stored. Results go to
``benchmarks/results/workflow_<genes>x<samples>.json`` (committed, with the commit measured) and a Markdown
summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from make_cohort import CONTRASTS, DESIGN, benchmark_config, make_cohort  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402

OUT = REPO / "benchmarks" / "out"

#: Stage of each rule (rules not listed form a stage of their own).
STAGES = {
    "cohort": "cohort", "collection": "gene sets", "fetch_collection": "gene sets",
    "fit": "DE: fit", "contrast": "DE: Wald test + shrinkage", "qc_matrix": "QC matrix (VST)",
    "qc_plots": "plots", "dispersion_plot": "plots", "contrast_plots": "plots", "enrichment_plots": "plots",
    "target_plots": "plots", "enrich": "enrichment (ORA + GSEA)", "compare_contrasts": "comparison",
    "axis_scores": "target axes", "targets": "target axes", "provenance": "report", "report": "report",
}
DE_RULES = ("fit", "contrast")
#: Rule of each rule script whose name differs from the rule's.
SCRIPT_RULES = {"build_cohort": "cohort", "prepare_collection": "collection"}


# ---- measuring a run ---------------------------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """Memory of every process in a session, sampled every ``interval`` s.

    ``peak_mb``: the largest sum of resident memory over the session's processes at one sample.
    ``largest``: per job script (or ``snakemake``), the largest peak resident memory (``VmHWM``, which the
    kernel tracks exactly, so a process seen at least once reports its true peak; Snakemake's own benchmark
    samples too sparsely for short peaks).
    """

    def __init__(self, session: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.session, self.interval = session, interval
        self.peak_mb = 0.0
        self.largest: dict[str, float] = {}
        self.done = threading.Event()

    def sample(self) -> None:
        total = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) != self.session:
                    continue
                status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines()
                              if ":" in line)
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            if "VmRSS" not in status:
                continue
            total += int(status["VmRSS"].split()[0]) / 1024
            script = re.search(r"\.snakemake/scripts/tmp\w+\.(\w+)\.py", command)
            name = script.group(1) if script else "snakemake" if "-m snakemake" in command else "other"
            peak = int(status.get("VmHWM", status["VmRSS"]).split()[0]) / 1024
            self.largest[name] = max(self.largest.get(name, 0.0), peak)
        self.peak_mb = max(self.peak_mb, total)

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()


def run_workflow(workdir: Path, cores: int) -> dict:
    """Run the whole workflow in ``workdir``; wall time, peak memories, Snakemake's exit status."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", str(cores)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    with open(workdir / "snakemake.stderr", "w") as stderr:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
        sampler = MemorySampler(process.pid)
        sampler.start()
        returncode = process.wait()
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"returncode": returncode, "wall_s": wall, "peak_total_rss_mb": sampler.peak_mb,
            "peak_process_rss_mb": largest / 1024 if largest > before else None,
            "peak_rss_by_script_mb": dict(sorted(sampler.largest.items(), key=lambda item: -item[1]))}


_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def _stamp(text: str) -> datetime:
    return datetime.strptime(re.sub(" +", " ", text), "%a %b %d %H:%M:%S %Y")


def jobs_from_log(log: Path) -> pd.DataFrame:
    """One row per job of a Snakemake log: ``jobid, rule, wildcards, benchmark, start, end``."""
    jobs: dict[int, dict] = {}
    stamp, current = None, None
    for line in log.read_text().splitlines():
        if match := _STAMP.match(line):
            stamp, current = _stamp(match.group(1)), None
        elif match := re.match(r"^(?:local)?rule (\w+):$", line):
            current = {"rule": match.group(1), "start": stamp, "wildcards": "", "benchmark": ""}
        elif current is not None and (match := re.match(r"^\s+(jobid|wildcards|benchmark): (.*)$", line)):
            if match.group(1) == "jobid":
                jobs[int(match.group(2))] = current
            else:
                current[match.group(1)] = match.group(2)
        elif match := re.match(r"^Finished jobid: (\d+)", line):
            if int(match.group(1)) in jobs:
                jobs[int(match.group(1))]["end"] = stamp
    table = pd.DataFrame.from_dict(jobs, orient="index").rename_axis("jobid").reset_index()
    return table[table["rule"] != "all"]


def job_table(workdir: Path) -> pd.DataFrame:
    """Every job with wall time, peak RSS and CPU time (benchmark file where the rule has one, else the log)."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs = jobs_from_log(logs[-1])
    rows = []
    for job in jobs.itertuples():
        row = {"rule": job.rule, "wildcards": job.wildcards, "stage": STAGES.get(job.rule, job.rule),
               "start": job.start, "end": job.end,
               "wall_s": (job.end - job.start).total_seconds(), "max_rss_mb": np.nan, "cpu_s": np.nan,
               "source": "log"}
        if job.benchmark and (workdir / job.benchmark).exists():
            bench = pd.read_csv(workdir / job.benchmark, sep="\t").iloc[-1]
            row.update(wall_s=float(bench["s"]), max_rss_mb=float(bench["max_rss"]),
                       cpu_s=float(bench["cpu_time"]), source="benchmark")
        rows.append(row)
    return pd.DataFrame(rows)


def stage_table(jobs: pd.DataFrame, script_peaks: dict[str, float]) -> pd.DataFrame:
    """Per stage: jobs, summed and longest job wall time, span (first start to last end), peak RSS of a job.

    The peak is the larger of Snakemake's ``max_rss`` and the sampled ``VmHWM`` of the stage's scripts.
    """
    order = list(dict.fromkeys([*STAGES.values(), *jobs["stage"]]))
    grouped = jobs.groupby("stage")
    sampled = pd.Series({STAGES.get(SCRIPT_RULES.get(script, script), script): mb
                         for script, mb in sorted(script_peaks.items(), key=lambda item: item[1])})
    table = pd.DataFrame({
        "jobs": grouped.size(),
        "job_wall_sum_s": grouped["wall_s"].sum(),
        "longest_job_s": grouped["wall_s"].max(),
        "span_s": (grouped["end"].max() - grouped["start"].min()).dt.total_seconds(),
        "peak_job_rss_mb": grouped["max_rss_mb"].max(),
        "cpu_s": grouped["cpu_s"].sum(min_count=1),
    })
    table["peak_job_rss_mb"] = pd.concat([table["peak_job_rss_mb"], sampled.groupby(level=0).max()],
                                         axis=1).max(axis=1).reindex(table.index)
    return table.loc[[s for s in order if s in table.index]]


# ---- R DESeq2 ------------------------------------------------------------------------------------------------


def min_samples(sheet: pd.DataFrame) -> int:
    """The workflow's default pre-filter ``min_samples``: the smallest compared group."""
    sizes = sheet["site"].value_counts()
    return int(min(sizes[level] for c in CONTRASTS for level in (c["target"], c["reference"])))


def run_r(cohort: Path, workers: int, out: Path) -> dict:
    """Run R DESeq2 on the cohort; its step times, peak memory and the wall time of the whole Rscript process."""
    sheet = pd.read_csv(cohort / "samples.tsv", sep="\t", dtype=str)
    command = ["Rscript", str(REPO / "benchmarks" / "deseq2_benchmark.R"), str(cohort / "counts.tsv.gz"),
               str(cohort / "samples.tsv"), DESIGN, "10", str(min_samples(sheet)), "0.05", str(workers), str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"R DESeq2 failed:\n{done.stderr[-3000:]}")
    timing = pd.read_csv(out / "timing.tsv", sep="\t", dtype=str).set_index("step")["value"]
    result = {k: float(v) for k, v in timing.items() if k != "deseq2_version"}
    result.update(process_wall_s=wall, deseq2_version=timing["deseq2_version"])
    return result


def concordance(workdir: Path, r_out: Path) -> dict:
    """Per contrast: Pearson r of the unshrunk LFCs (genes tested by both), padj < 0.05 calls and their Jaccard."""
    result = {}
    for contrast in (c["name"] for c in CONTRASTS):
        ours = pd.read_csv(workdir / "results" / "diffexp" / f"{contrast}.tsv", sep="\t", index_col="gene_id")
        theirs = pd.read_csv(r_out / f"deseq2_{contrast}.tsv", sep="\t", index_col="gene_id", na_values="NA")
        both = ours.join(theirs, rsuffix="_r", how="inner").dropna(subset=["log2FoldChange", "log2FoldChange_r"])
        a, b = set(ours.index[ours["padj"] < 0.05]), set(theirs.index[theirs["padj"] < 0.05])
        result[contrast] = {"genes": len(both),
                            "lfc_pearson_r": float(np.corrcoef(both["log2FoldChange"], both["log2FoldChange_r"])[0, 1]),
                            "lfc_max_abs_diff": float((both["log2FoldChange"] - both["log2FoldChange_r"]).abs().max()),
                            "calls_ours": len(a), "calls_r": len(b), "calls_shared": len(a & b),
                            "calls_jaccard": len(a & b) / max(1, len(a | b))}
    return result


# ---- report --------------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB"


def markdown(result: dict) -> str:
    """The run as Markdown: one table of stages, then the totals and the R comparison."""
    lines = [f"### {result['genes']:,} genes x {result['samples']} samples, 3 contrasts, "
             f"{'+'.join(result['collections'])}, --cores {result['cores']}",
             "", f"{result['machine']}; load average {result['load_before']:.1f} before, "
             f"{result['load_after']:.1f} after; {result['date']}", "",
             "| stage | jobs | job wall, sum (s) | longest job (s) | span (s) | peak job RSS (GB) |",
             "|---|---|---|---|---|---|"]
    for stage, row in result["stages"].items():
        rss = f"{row['peak_job_rss_mb'] / 1024:.2f}" if row["peak_job_rss_mb"] == row["peak_job_rss_mb"] else "-"
        lines.append(f"| {stage} | {row['jobs']} | {row['job_wall_sum_s']:.1f} | {row['longest_job_s']:.1f} | "
                     f"{row['span_s']:.0f} | {rss} |")
    run = result["run"]
    lines += ["", f"Whole run: {run['wall_s']:.0f} s wall ({run['startup_s']:.0f} s before the first job: config, "
              f"input validation, DAG); peak memory {run['peak_total_rss_mb'] / 1024:.2f} GB summed over concurrent "
              f"processes, {(run['peak_process_rss_mb'] or 0) / 1024:.2f} GB in the largest process (largest "
              "by rule script: "
              + ", ".join(f"{name} {mb / 1024:.2f}" for name, mb in list(run["peak_rss_by_script_mb"].items())[:3])
              + f" GB). DE stage (fit + contrast jobs): {result['de_s']:.1f} s."]
    if "r" in result:
        r = result["r"]
        lines += ["", f"R DESeq2 {r['deseq2_version']} ({int(r['workers'])} worker(s)), same counts and pre-filter "
                  f"({int(r['genes_tested']):,} genes): {r['process_wall_s']:.1f} s for the whole script (loading "
                  f"{r['load_packages']:.1f} s, reading {r['read_counts']:.1f} s, DESeq() {r['deseq']:.1f} s, "
                  f"results() x3 {r['results']:.1f} s), peak {r['peak_rss_mb'] / 1024:.2f} GB. "
                  f"Ratio workflow DE stage / R: {result['de_s'] / r['process_wall_s']:.2f}.", "",
                  "| contrast | genes | LFC Pearson r | padj < 0.05: ours / R / shared (Jaccard) |",
                  "|---|---|---|---|"]
        for contrast, c in result["concordance"].items():
            lines.append(f"| {contrast} | {c['genes']:,} | {c['lfc_pearson_r']:.5f} | {c['calls_ours']} / "
                         f"{c['calls_r']} / {c['calls_shared']} ({c['calls_jaccard']:.3f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--collections", nargs="+", default=["GO_BP", "GO_MF", "GO_CC"])
    parser.add_argument("--no-shrink", action="store_true", help="diffexp.shrink: false (one fit per design)")
    parser.add_argument("--r", action="store_true", help="also run R DESeq2 on the same counts")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (its path is printed)")
    parser.add_argument("--workdir", type=Path, help="run in this (new) folder instead of a temporary one")
    parser.add_argument("--report", type=Path, help="only print the Markdown of a saved result (JSON)")
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return

    name = f"{args.genes}x{args.samples}"
    cohort = OUT / "cohorts" / name
    if not (cohort / "counts.tsv.gz").exists():
        started = time.perf_counter()
        make_cohort(args.genes, args.samples, cohort)
        print(f"generated {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for file in ("counts.tsv.gz", "samples.tsv"):
        (workdir / file).unlink(missing_ok=True)
        (workdir / file).symlink_to(cohort / file)
    all_collections = benchmark_config()["genesets"]
    config = benchmark_config(collections={k: all_collections[k] for k in args.collections},
                              shrink=not args.no_shrink)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    result = {"genes": args.genes, "samples": args.samples, "cores": args.cores, "collections": args.collections,
              "shrink": not args.no_shrink, "machine": machine(), "date": datetime.now().isoformat(timespec="seconds"),
              **measured_commit(),
              "load_before": os.getloadavg()[0]}
    print(f"running the workflow in {workdir} ...", file=sys.stderr)
    run = run_workflow(workdir, args.cores)
    if run["returncode"] != 0:
        sys.exit(f"the workflow failed; see {workdir}/snakemake.stderr")
    jobs = job_table(workdir)
    run["startup_s"] = run["wall_s"] - (jobs["end"].max() - jobs["start"].min()).total_seconds()
    result["run"] = run
    result["jobs"] = jobs.assign(start=jobs["start"].astype(str), end=jobs["end"].astype(str)).to_dict("records")
    result["stages"] = stage_table(jobs, run["peak_rss_by_script_mb"]).to_dict("index")
    result["de_s"] = float(jobs.loc[jobs["rule"].isin(DE_RULES), "wall_s"].sum())
    if args.r:
        print("running R DESeq2 ...", file=sys.stderr)
        r_out = workdir / "r_deseq2"
        result["r"] = run_r(cohort, args.cores, r_out)
        result["concordance"] = concordance(workdir, r_out)
    result["load_after"] = os.getloadavg()[0]

    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if not args.no_shrink else "_noshrink"
    (RESULTS / f"workflow_{name}{suffix}.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(markdown(result))
    if args.keep or args.workdir:
        print(f"\nrun folder kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
