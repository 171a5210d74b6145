"""The workflow's calls on simulated cohorts with host-tissue admixture, over many seeds (not a test).

From the repository root::

    python benchmarks/admixture_calls.py --seeds 20 --patients 10 --cores 2
    python benchmarks/admixture_calls.py --freeze-liver-genes      # rewrite benchmarks/liver_enriched_genes.txt
    python benchmarks/admixture_calls.py --merge A.json B.json --out C.json   # seeds of runs summarised together

Per seed, in a temporary folder (kept with ``--keep``), :func:`make_admixture_cohort` writes ``admixture_null``
(liver 10-50% in metastases, exocrine pancreas 0-20% in primaries), its twin without admixture (same seed,
fraction ranges 0-0) and ``admixture_planted`` (EGFR, VEGFR and CSF1R axes up by ``--lfc`` in the tumour part of
metastases) and its twin without admixture. Each runs through the real workflow (Snakemake; GO BP only, host-tissue
stage on, only the tables read here as targets). Measured in ``liver_met_vs_primary``:

* null: axes flagged; hypergeometric p of the frozen liver-enriched genes among the 200 highest ``stat``;
  GO BP terms significant on the admixed cohort but not on its twin (GSEA ``fdr < enrichment.gsea_fdr``, ORA up
  ``fdr < enrichment.ora_fdr``, and the term test the comparison's classes use, camera up
  ``fdr < enrichment.term_fdr``), counted, first 10 named, and those of them that are liver-function terms
  (members over-represented in the liver genes, hypergeometric p < 1e-3 over the collection's genes);
* planted: AUC of ``|stat|`` of planted genes (tumour-intrinsic ``lfc_liver_met_vs_primary != 0`` in
  truth_genes.tsv) against null genes; ``stat`` (and ``host_dominated`` when the DE table has it) of EGFR, KDR,
  CSF1R; flags of the EGFR, VEGFR and CSF1R axes here and in ``liver_met_vs_normal``; the same on the planted
  twin (the issue's "planted axis flags unchanged": the admixed cohort's flags equal to its twin's, both
  contrasts, all three axes);
* wall time of each workflow run.

The workflow's main tables (variant ``main``) and, when it has them, its tables without admixture adjustment
(``paths.LAYOUT`` entries naming ``unadjusted``; variant ``unadjusted``) are measured the same way. Summaries over
seeds carry 95% intervals (Wilson for shares, t for means) and the issue's targets, met when the point estimate
is: null, in >= 90% of seeds no axis flagged, liver-gene p > 0.05, no liver-function term unique to the admixed
run (GSEA or ORA: ``no_unique_liver_term``; the workflow's term calls: ``no_unique_liver_term_camera``);
planted, mean AUC >= 0.9, EGFR / KDR / CSF1R not host_dominated and all planted axes up in >= 90% of seeds.
``--host-variant`` simulates every cohort with a liver host of ``make_admixture_cohort.HOST_VARIANTS``
(``no_pan_stroma``: without HPA's pan-tissue endothelial and fibroblast classes; ``fixed_mix``: every sample's cell
mix at the mean).
A seed whose workflow run fails is recorded (``failed``) with its folder kept, and the other seeds go on. Writes
``benchmarks/results/admixture_calls.json`` (per-seed rows, summary, commit, arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "workflow" / "scripts", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from intervals import wilson  # noqa: E402
from make_admixture_cohort import HOST_VARIANTS, make_admixture_cohort  # noqa: E402
from measured_commit import RESULTS, measured_commit  # noqa: E402
from target_rationale import paths  # noqa: E402
from target_rationale.admixture.reference import load_host_reference, tissue_specific_genes  # noqa: E402
from target_rationale.core.schema import with_defaults  # noqa: E402
from target_rationale.genesets.gmt import read_gmt  # noqa: E402

REFERENCE = REPO / "resources" / "host_reference" / "hpa_v23_host_ntpm.tsv.gz"
LIVER_GENES = REPO / "benchmarks" / "liver_enriched_genes.txt"
LIVER_RULE = dict(host="liver", others=["pancreas", "pancreatic_endocrine_cells"], min_ratio=10, min_level=50)
HOSTS = {"liver_metastasis": "liver", "primary": "exocrine_pancreas"}
COLLECTION, CONTRAST, MET_NORMAL = "GO_BP", "liver_met_vs_primary", "liver_met_vs_normal"
PLANTED_AXES, PLANTED_GENES = ("EGFR", "VEGFR", "CSF1R"), ("EGFR", "KDR", "CSF1R")
TOP_N, LIVER_TERM_P = 200, 1e-3
#: Enrichment tables read in ``liver_met_vs_primary``: GSEA, ORA up and the term test the classes use (camera).
TERM_TABLES = ("gsea", "ora_up", "camera")
#: Result kind -> LAYOUT key of the workflow's main table (adjusted for admixture once the workflow adjusts).
KINDS = {"de": "de_table", "enrichment": "enrichment_table", "axes": "axes_table"}


def freeze_liver_genes(path: Path = LIVER_GENES) -> list[str]:
    """Write the reference's liver-enriched genes (symbols, sorted) with a header naming the rule; return them."""
    reference = load_host_reference(REFERENCE, REFERENCE.parent / "MANIFEST.yaml")
    missing = [p for p in [LIVER_RULE["host"], *LIVER_RULE["others"]] if p not in reference.profiles]
    if missing:
        raise KeyError(f"profiles {missing} not in the host reference ({reference.profiles})")
    ids = tissue_specific_genes(reference, LIVER_RULE["host"], LIVER_RULE["others"],
                                min_ratio=LIVER_RULE["min_ratio"], min_level=LIVER_RULE["min_level"])
    symbols = sorted(set(reference.table.loc[ids, "symbol"]))
    header = (f"# {len(symbols)} liver-enriched genes: target_rationale.admixture.reference.tissue_specific_genes("
              f"reference, 'liver', ['pancreas', 'pancreatic_endocrine_cells'], min_ratio=10, min_level=50) on "
              f"{REFERENCE.relative_to(REPO)} (HPA {reference.release}), as symbols; frozen before any tuning by "
              "benchmarks/admixture_calls.py --freeze-liver-genes\n")
    path.write_text(header + "".join(f"{s}\n" for s in symbols), encoding="utf-8")
    return symbols


def read_liver_genes(path: Path = LIVER_GENES) -> set[str]:
    """The frozen liver-enriched symbols."""
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}


def variants() -> dict[str, dict[str, str]]:
    """``{"main": {kind: LAYOUT key}}`` (the default tables) plus ``"unadjusted"`` with the kinds the workflow has."""
    found: dict[str, str] = {}
    for key, template in paths.LAYOUT.items():
        if "unadjusted" in template:
            plain = template.replace("unadjusted/", "").replace(".unadjusted", "").replace("_unadjusted", "")
            found.update({kind: key for kind, base in KINDS.items() if paths.LAYOUT[base] == plain})
    return {"main": dict(KINDS), **({"unadjusted": found} if found else {})}


def table(out: Path, key: str, **wildcards: str) -> Path:
    """A result of the run in ``out``."""
    return Path(paths.result(key, root=out / paths.RESULTS, **wildcards))


def run_targets(layout: dict[str, dict[str, str]]) -> list[str]:
    """The files the benchmark reads, relative to a run's folder (so plots and the report are not built)."""
    wanted = [paths.result("admixture_table")]
    for keys in layout.values():
        wanted += [paths.result(keys["de"], contrast=CONTRAST)] if "de" in keys else []
        wanted += [paths.result(keys["enrichment"], contrast=CONTRAST, collection=COLLECTION, table=t)
                   for t in TERM_TABLES] if "enrichment" in keys else []
        wanted += [paths.result(keys["axes"])] if "axes" in keys else []
    return list(dict.fromkeys(wanted))


def prepare_config(out: Path) -> dict[str, float]:
    """Keep GO BP only, turn the host-tissue stage on and the flags' bootstrap off in ``out/config.yaml``; return
    the enrichment FDRs."""
    config = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    config["genesets"] = {COLLECTION: config["genesets"][COLLECTION]}
    config["admixture"] = {"hosts": dict(HOSTS), "variable": "site"}
    # the flags are what is measured: no bootstrap of their stability (it changes no flag)
    targets = yaml.safe_load((REPO / "config" / "targets.yaml").read_text(encoding="utf-8"))
    targets["flag"] = {**targets.get("flag", {}), "bootstrap": 0}
    (out / "targets.yaml").write_text(yaml.safe_dump(targets, sort_keys=False), encoding="utf-8")
    config["targets"] = str(out / "targets.yaml")
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    enrichment = with_defaults(config.get("enrichment"), "config", "enrichment")
    return {"gsea_fdr": float(enrichment["gsea_fdr"]), "ora_fdr": float(enrichment["ora_fdr"]),
            "term_fdr": float(enrichment["term_fdr"])}


def run_workflow(out: Path, cores: int, targets: list[str]) -> float:
    """Run Snakemake on the cohort in ``out`` for ``targets``; return the wall time (s). Log: ``out/snakemake.log``."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--directory", str(out),
               "--configfile", str(out / "config.yaml"), "-s", str(REPO / "Snakefile"), *targets]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    with open(out / "snakemake.log", "w", encoding="utf-8") as log:
        done = subprocess.run(command, cwd=out, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode:
        tail = (out / "snakemake.log").read_text(encoding="utf-8").splitlines()[-30:]
        raise RuntimeError(f"snakemake failed in {out} (exit {done.returncode}):\n" + "\n".join(tail))
    return time.perf_counter() - start


def tested(de: pd.DataFrame) -> pd.DataFrame:
    """DE rows with a finite ``stat``."""
    return de.loc[np.isfinite(pd.to_numeric(de["stat"], errors="coerce"))]


def liver_top_p(de: pd.DataFrame, liver: set[str], n: int = TOP_N) -> dict[str, float]:
    """Hypergeometric p of the liver genes among the ``n`` highest ``stat`` (universe: tested genes, by symbol)."""
    de = tested(de)
    universe = set(de["symbol"].dropna())
    top = set(de.sort_values("stat", ascending=False, kind="mergesort")["symbol"].head(n))
    hits, in_universe = len(top & liver), len(universe & liver)
    p = float(stats.hypergeom.sf(hits - 1, len(universe), in_universe, len(top)))
    return {"liver_in_top": hits, "liver_tested": in_universe, "tested": len(universe), "liver_p": p}


def liver_terms(gmt: Path, liver: set[str]) -> set[str]:
    """Term ids whose members are over-represented in the liver genes (>= 3 of them, hypergeometric p < 1e-3)."""
    sets = read_gmt(gmt)
    universe = set().union(*(s.genes for s in sets.values()))
    k_all, n_all = len(universe & liver), len(universe)
    return {t for t, s in sets.items() if (k := len(set(s.genes) & liver)) >= 3
            and stats.hypergeom.sf(k - 1, n_all, k_all, len(s.genes)) < LIVER_TERM_P}


def significant(out: Path, key: str, fdrs: dict[str, float]) -> dict[str, pd.Series]:
    """Significant GO BP terms (id -> name) of ``liver_met_vs_primary``: GSEA, ORA up and the term test (camera,
    up only: the direction the liver would push)."""
    result = {}
    for name, limit in (("gsea", fdrs["gsea_fdr"]), ("ora_up", fdrs["ora_fdr"]), ("camera", fdrs["term_fdr"])):
        terms = pd.read_csv(table(out, key, contrast=CONTRAST, collection=COLLECTION, table=name), sep="\t")
        if name == "camera":
            terms = terms.loc[terms["direction"] == "up"]
        result[name] = terms.loc[terms["fdr"] < limit].set_index("term_id")["term_name"]
    return result


def read_axes(out: Path, key: str) -> pd.DataFrame:
    """The axes table (flags as text: ``up`` / ``down`` / ``none``)."""
    return pd.read_csv(table(out, key), sep="\t", dtype=str, keep_default_na=False)


def flagged(axes: pd.DataFrame, contrast: str = CONTRAST) -> list[str]:
    """Axes with a flag other than ``none`` / empty in ``contrast``."""
    rows = axes.loc[(axes["contrast"] == contrast) & ~axes["flag"].isin(["none", ""])]
    return rows["axis"].tolist()


def liver_fraction(out: Path) -> float:
    """Mean estimated liver fraction of the metastases (results/qc/admixture.tsv)."""
    rows = pd.read_csv(table(out, "admixture_table"), sep="\t")
    return float(rows.loc[rows["host"] == "liver", "fraction"].mean())


def measure_null(null: Path, twin: Path, keys: dict[str, str], liver: set[str], fdrs: dict[str, float]) -> dict:
    """Axes flagged, liver-gene p and the GO BP terms significant only with admixture, for one variant."""
    row: dict[str, object] = {}
    if "axes" in keys:
        row["axes_flagged"] = flagged(read_axes(null, keys["axes"]))
        row["twin_axes_flagged"] = flagged(read_axes(twin, keys["axes"]))
    if "de" in keys:
        row.update(liver_top_p(pd.read_csv(table(null, keys["de"], contrast=CONTRAST), sep="\t"), liver))
        twin_p = liver_top_p(pd.read_csv(table(twin, keys["de"], contrast=CONTRAST), sep="\t"), liver)
        row["twin_liver_p"] = twin_p["liver_p"]
    if "enrichment" in keys:
        liver_ids = liver_terms(table(null, "collection_gmt", collection=COLLECTION), liver)
        admixed, clean = significant(null, keys["enrichment"], fdrs), significant(twin, keys["enrichment"], fdrs)
        for name in admixed:
            only = admixed[name].loc[~admixed[name].index.isin(clean[name].index)]
            row[f"{name}_significant"] = int(len(admixed[name]))
            row[f"{name}_twin_significant"] = int(len(clean[name]))
            row[f"{name}_unique"] = int(len(only))
            row[f"{name}_unique_liver"] = int(only.index.isin(list(liver_ids)).sum())
            row[f"{name}_unique_first"] = only.head(10).tolist()
    return row


def auc(de: pd.DataFrame, truth: pd.DataFrame) -> float:
    """AUC (Mann-Whitney) of ``|stat|``: planted genes (tumour-intrinsic lfc != 0) against null genes (lfc 0, or
    not in ``truth``, which lists only genes some programme or host touches)."""
    de = tested(de).set_index("gene_id")
    lfc = truth.set_index("gene_id")[f"lfc_{CONTRAST}"].reindex(de.index).fillna(0.0)
    score = de["stat"].abs()
    planted, null = score[lfc.ne(0)], score[lfc.eq(0)]
    return float(stats.mannwhitneyu(planted, null).statistic / (len(planted) * len(null)))


def measure_planted(out: Path, keys: dict[str, str]) -> dict:
    """AUC, EGFR / KDR / CSF1R stat (and host_dominated), planted axes' flags, for one variant."""
    row: dict[str, object] = {}
    if "de" in keys:
        de = pd.read_csv(table(out, keys["de"], contrast=CONTRAST), sep="\t")
        row["auc"] = auc(de, pd.read_csv(out / "truth_genes.tsv", sep="\t"))
        for gene in PLANTED_GENES:
            hit = de.loc[de["symbol"] == gene]
            row[f"{gene}_stat"] = float(hit["stat"].iloc[0]) if len(hit) else None
            if "host_dominated" in de.columns and len(hit):
                value = hit["host_dominated"].iloc[0]
                row[f"{gene}_host_dominated"] = (None if pd.isna(value) else str(value).lower() == "true"
                                                 if isinstance(value, str) else bool(value))
    if "axes" in keys:
        axes = read_axes(out, keys["axes"]).set_index(["contrast", "axis"])["flag"]
        row["flags"] = {c: {a: axes.get((c, a), "") for a in PLANTED_AXES} for c in (CONTRAST, MET_NORMAL)}
    return row


def one_seed(seed: int, args: argparse.Namespace, liver: set[str], layout: dict[str, dict[str, str]]) -> dict:
    """Simulate, run and measure the designs of one seed."""
    folder = Path(tempfile.mkdtemp(prefix=f"admixture_calls_{seed}_"))
    cohorts = ({"planted": ("admixture_planted", None), "planted_twin": ("admixture_planted", (0.0, 0.0))}
               if "admixture_planted" in args.designs else {})
    if "admixture_null" in args.designs:
        cohorts = {"null": ("admixture_null", None), "twin": ("admixture_null", (0.0, 0.0)), **cohorts}
    row: dict[str, object] = {"seed": seed, "folder": str(folder) if args.keep else None, "wall_s": {}}
    outs, fdrs = {}, {}
    for name, (design, no_host) in cohorts.items():
        outs[name] = make_admixture_cohort(design, args.patients, seed, folder / name, lfc=args.lfc,
                                           liver_range=no_host, exocrine_range=no_host,
                                           host_variant=args.host_variant)
        fdrs = prepare_config(outs[name])
        row["wall_s"][name] = round(run_workflow(outs[name], args.cores, run_targets(layout)), 1)
        row[f"{name}_liver_fraction"] = liver_fraction(outs[name])
    for variant, keys in layout.items():
        if "null" in outs:
            row[f"null_{variant}"] = measure_null(outs["null"], outs["twin"], keys, liver, fdrs)
        if "planted" in outs:
            row[f"planted_{variant}"] = measure_planted(outs["planted"], keys)
            row[f"planted_{variant}"]["twin"] = measure_planted(outs["planted_twin"], keys)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def share(flags: list[bool], target: float | None = 0.9) -> dict:
    """Share of seeds where ``flags`` hold, its Wilson interval and whether it meets ``target``."""
    k, n = int(sum(flags)), len(flags)
    result = {"k": k, "n": n, "share": k / n if n else float("nan"), "ci95": wilson(k, n)}
    return {**result, "target": f">= {target}", "met": bool(n and k / n >= target)} if target else result


def mean(values: list[float], target: float | None = None) -> dict:
    """Mean with a 95% t interval (and whether it meets ``>= target``)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return {"n": 0, "mean": None, "ci95": [None, None]}
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    result = {"n": len(v), "mean": float(v.mean()), "ci95": [float(v.mean() - half), float(v.mean() + half)],
              "min": float(v.min()), "max": float(v.max())}
    return {**result, "target": f">= {target}", "met": bool(v.mean() >= target)} if target is not None else result


def summarise(rows: list[dict], layout: dict[str, dict[str, str]]) -> dict:
    """Per variant and design: the measures over seeds against the issue's targets."""
    names = dict.fromkeys(name for r in rows for name in r["wall_s"])
    summary: dict[str, dict] = {"wall_s": {name: mean([r["wall_s"][name] for r in rows if name in r["wall_s"]])
                                           for name in names}}
    for variant in layout:
        null = [r[f"null_{variant}"] for r in rows if f"null_{variant}" in r]
        if null:
            part: dict[str, object] = {}
            if "axes_flagged" in null[0]:
                part["no_axis_flagged"] = share([not r["axes_flagged"] for r in null])
                part["twin_no_axis_flagged"] = share([not r["twin_axes_flagged"] for r in null], None)
            if "liver_p" in null[0]:
                part["liver_p_above_0.05"] = share([r["liver_p"] > 0.05 for r in null])
                part["liver_p_median"] = float(np.median([r["liver_p"] for r in null]))
                part["twin_liver_p_above_0.05"] = share([r["twin_liver_p"] > 0.05 for r in null], None)
            if "gsea_unique" in null[0]:
                part["no_unique_liver_term"] = share([r["gsea_unique_liver"] + r["ora_up_unique_liver"] == 0
                                                      for r in null])
                for name in ("gsea", "ora_up"):
                    part[f"{name}_unique"] = mean([r[f"{name}_unique"] for r in null])
                    part[f"{name}_unique_liver"] = mean([r[f"{name}_unique_liver"] for r in null])
            if "camera_unique" in null[0]:
                part["no_unique_liver_term_camera"] = share([r["camera_unique_liver"] == 0 for r in null])
                part["camera_unique"] = mean([r["camera_unique"] for r in null])
                part["camera_unique_liver"] = mean([r["camera_unique_liver"] for r in null])
            summary[f"null_{variant}"] = part
        planted = [r[f"planted_{variant}"] for r in rows if f"planted_{variant}" in r]
        if planted:
            part = {"auc": mean([r.get("auc") for r in planted], 0.9)}
            for gene in PLANTED_GENES:
                if f"{gene}_host_dominated" in planted[0]:
                    part[f"{gene}_not_host_dominated"] = share([r[f"{gene}_host_dominated"] is False for r in planted])
            if "auc" in planted[0].get("twin", {}):
                part["twin_auc"] = mean([r["twin"].get("auc") for r in planted])
                part["auc_minus_twin"] = mean([r["auc"] - r["twin"]["auc"] for r in planted])
            if "flags" in planted[0]:
                if "flags" in planted[0].get("twin", {}):
                    part["planted_flags_as_twin"] = share([
                        all(r["flags"][c][a] == r["twin"]["flags"][c][a] for c in (CONTRAST, MET_NORMAL)
                            for a in PLANTED_AXES) for r in planted])
                    part[f"twin_all_planted_axes_up_{CONTRAST}"] = share(
                        [all(r["twin"]["flags"][CONTRAST][a] == "up" for a in PLANTED_AXES) for r in planted], None)
                for contrast in (CONTRAST, MET_NORMAL):
                    part[f"all_planted_axes_up_{contrast}"] = share(
                        [all(r["flags"][contrast][a] == "up" for a in PLANTED_AXES) for r in planted])
                    for axis in PLANTED_AXES:
                        part[f"{axis}_up_{contrast}"] = share([r["flags"][contrast][axis] == "up" for r in planted],
                                                              None)
            summary[f"planted_{variant}"] = part
    return summary


def print_summary(summary: dict) -> None:
    """A short table: measure, value, 95% interval, target, met."""
    print(f"{'measure':<58} {'value':>8} {'95% interval':>17} {'target':>8}  met")
    for group, part in summary.items():
        for name, m in part.items():
            if not isinstance(m, dict):
                print(f"{group + ': ' + name:<58} {m:>8.3g}")
                continue
            value = m.get("share", m.get("mean"))
            lo, hi = m["ci95"]
            ci = f"{lo:.3g}-{hi:.3g}" if lo is not None else ""
            met = "" if "met" not in m else ("yes" if m["met"] else "NO")
            print(f"{group + ': ' + name:<58} {value if value is not None else float('nan'):>8.3g} {ci:>17} "
                  f"{m.get('target', ''):>8}  {met}")


def merge(paths: list[Path], out: Path) -> int:
    """Summarise the seeds of several results together (e.g. a run of both designs and one of more null seeds)
    and write them to ``out``, with the commits and arguments of each part. The parts must measure the same
    variants and frozen liver genes; a seed may come from several results when each holds other designs of it
    (e.g. the null and the planted design run apart). Their code is the caller's to vouch for (the commits are
    recorded)."""
    parts = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    if len({json.dumps(part["variants"], sort_keys=True) for part in parts}) > 1 or len(
            {part["liver_genes"] for part in parts}) > 1:
        raise SystemExit("the results measure different variants or liver gene lists: not merged")
    by_seed: dict[int, dict] = {}
    for row in (row for part in parts for row in part["seeds"]):
        seen = by_seed.setdefault(row["seed"], {"seed": row["seed"], "folder": None, "wall_s": {}})
        measured = set(row) - {"seed", "folder", "wall_s"}
        if measured & set(seen) or set(row["wall_s"]) & set(seen["wall_s"]):
            raise SystemExit(f"seed {row['seed']} has the same design in two results: not merged")
        seen.update({key: row[key] for key in measured})
        seen["wall_s"].update(row["wall_s"])
    rows = [by_seed[seed] for seed in sorted(by_seed)]
    summary = summarise(rows, parts[0]["variants"])
    print_summary(summary)
    result = {"script": "benchmarks/admixture_calls.py", "merged": [
        {"path": str(path), "commit": part["commit"], "dirty": part["dirty"], "arguments": part["arguments"]}
        for path, part in zip(paths, parts)], "variants": parts[0]["variants"], "liver_genes": parts[0]["liver_genes"],
        "summary": summary, "seeds": rows, "failed": [f for part in parts for f in part["failed"]]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{len(rows)} seeds from {len(parts)} results written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run every seed, print and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds run from here (default 1)")
    parser.add_argument("--patients", type=int, default=10, help="patients per cohort (default 10)")
    parser.add_argument("--cores", type=int, default=2, help="Snakemake --cores (default 2)")
    parser.add_argument("--lfc", type=float, default=1.0, help="planted log2 effect (admixture_planted)")
    parser.add_argument("--designs", nargs="+", choices=["admixture_null", "admixture_planted"],
                        default=["admixture_null", "admixture_planted"])
    parser.add_argument("--host-variant", choices=sorted(HOST_VARIANTS), default="design",
                        help="the liver host's make-up (make_admixture_cohort.HOST_VARIANTS; default the design's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (printed per seed)")
    parser.add_argument("--freeze-liver-genes", action="store_true", help=f"write {LIVER_GENES.name} and stop")
    parser.add_argument("--out", type=Path, default=RESULTS / "admixture_calls.json", help="the JSON written")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="no run: the seeds of these results summarised together (same code; each of a seed's "
                             "designs from one result)")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    if args.freeze_liver_genes:
        print(f"{len(freeze_liver_genes())} liver-enriched genes written to {LIVER_GENES}")
        return 0
    liver, layout = read_liver_genes(), variants()
    print(f"{len(liver)} frozen liver genes; variants measured: {', '.join(layout)}")
    rows, failed = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        try:
            rows.append(one_seed(seed, args, liver, layout))
        except RuntimeError as error:  # a failed workflow run: recorded, its folder kept, the other seeds go on
            failed.append({"seed": seed, "error": str(error)[-3000:]})
            print(f"seed {seed}: FAILED\n{error}", flush=True)
            continue
        print(f"seed {seed}: wall {rows[-1]['wall_s']} s" + (f"; kept {rows[-1]['folder']}" if args.keep else ""),
              flush=True)
    summary = summarise(rows, layout) if rows else {}
    print_summary(summary)
    if failed:
        print(f"{len(failed)} seed(s) failed: {', '.join(str(f['seed']) for f in failed)}")
    out = args.out.resolve()
    arguments = {**vars(args), "out": str(out.relative_to(REPO) if out.is_relative_to(REPO) else out)}
    result = {"script": "benchmarks/admixture_calls.py", **measured_commit(), "arguments": arguments,
              "variants": layout, "liver_genes": len(liver), "summary": summary, "seeds": rows, "failed": failed}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
