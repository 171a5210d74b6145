#!/usr/bin/env python3
"""Write the shipped simulated pNEN cohorts (counts, sample sheet, truth tables, README).

Usage (from the repository root)::

    PYTHONPATH=workflow/scripts python resources/demo/make_cohorts.py --preset demo --out resources/demo
    PYTHONPATH=workflow/scripts python resources/demo/make_cohorts.py --preset tiny --out tests/data

Inputs are the repository's own resources: the gene map ``resources/gene_ids/hs_gene_id_map.tsv.gz`` and GO
biological-process sets ``resources/genesets/go_bp.gmt.gz``. Output is byte-for-byte deterministic for a given seed
and inputs (gzip with mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "workflow" / "scripts"):  # allow running without PYTHONPATH
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from target_rationale.genesets.gmt import read_gmt  # noqa: E402

from simulate import (  # noqa: E402
    CONTRASTS,
    CohortDesign,
    SimulatedCohort,
    demo_design,
    prepare_gene_table,
    simulate_cohort,
    tiny_design,
)

PRESETS = {"demo": (demo_design, 20240917), "tiny": (tiny_design, 7)}
DEFAULT_OUT = {"demo": "resources/demo", "tiny": "tests/data"}
GENE_MAP = "resources/gene_ids/hs_gene_id_map.tsv.gz"
GO_BP = "resources/genesets/go_bp.gmt.gz"


def _tsv(df: pd.DataFrame, index: bool = False) -> bytes:
    return df.to_csv(sep="\t", index=index, lineterminator="\n").encode("utf-8")


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def readme(cohort: SimulatedCohort, design: CohortDesign, preset: str, seed: int, command: str,
           inputs: dict[str, str], term_names: dict[str, str]) -> str:
    """Render the cohort's README (Markdown) from the design and the truth tables.

    Parameters
    ----------
    cohort : SimulatedCohort
        The simulated cohort.
    design : CohortDesign
        Its design.
    preset : str
        Preset name.
    seed : int
        Seed used.
    command : str
        Command line that regenerates the files.
    inputs : dict of str to str
        Input path -> checksum prefix.
    term_names : dict of str to str
        GO id -> term name, for the gene sets the programmes use.

    Returns
    -------
    str
        Markdown text.
    """
    s = cohort.samples
    ts = cohort.truth_samples
    met = ts[ts["site"] == "liver_metastasis"]
    tg = cohort.truth_genes
    tp = cohort.truth_programmes
    n_genes, n_samples = cohort.counts.shape
    n_planted_tumour = int((tg["programme"] != "liver_admixture").sum())
    by_site = s.groupby("site", sort=False).size()
    patients = []
    for patient, grp in s.groupby("patient", sort=False):
        patients.append(f"{patient} ({grp['batch'].iloc[0]}): " + ", ".join(grp["site"]))
    hand = {}
    for prog in design.programmes:
        if prog.core_genes:
            present = set(tg["symbol"])
            hand[prog.name] = [g for g in prog.core_genes if g in present]
    hand["liver_admixture"] = [g for g in design.liver.genes if g in set(tg["symbol"])]
    prog_cols = ["programme", "source", "groups", "direction", "mean_lfc_primary", "mean_lfc_liver_met",
                 "n_genes_perturbed", "n_set_members", "expected_class"]
    notes_terms = []
    for prog in design.programmes:
        used = [t for t in prog.go_ids if t in term_names]
        if used:
            note = f"- `{prog.name}`: {used[0]} {term_names[used[0]]}"
            if used[0] != prog.go_ids[0]:
                note += (f" (preferred {prog.go_ids[0]} is not in the shipped collection, which keeps sets of 10-500 "
                         "genes, so the next candidate was used)")
            notes_terms.append(note)
    composition = []
    if design.subsample is not None:
        composition = [
            "",
            "Caution for this small cohort: about a third of its genes carry planted effects, most of them up, so "
            "median-of-ratios size factors absorb a little of the signal; in a pydeseq2 check null genes had a "
            "median log2 fold change of about -0.1 in the two metastasis contrasts (0 in `primary_vs_normal`).",
        ]
    lines = [
        f"# Simulated pNEN RNA-seq cohort (`{preset}` preset)",
        "",
        "**These data are SIMULATED. They are not patient data and carry no biological findings.** They exist to",
        "run and test the workflow end to end against a known truth.",
        "",
        "## How they were made",
        "",
        "From the repository root:",
        "",
        "```",
        command,
        "```",
        "",
        f"Seed {seed} (`numpy.random.default_rng`); generator `simulate/cohort.py`"
        f" (`{'demo_design' if preset == 'demo' else 'tiny_design'}()`, `simulate_cohort`). Inputs (repository "
        "resources, sha256 prefix):",
        "",
        *[f"- `{k}` ({v})" for k, v in inputs.items()],
        "",
        "Same inputs and seed give byte-identical files.",
        "",
        "## Files",
        "",
        f"- `counts.tsv.gz`: integer counts, {n_genes} genes x {n_samples} samples; tab-separated; first column "
        "`gene_id` (Ensembl, no version), one column per sample.",
        "- `samples.tsv`: `sample, patient, site, batch, simulated` (`yes` for every sample: the workflow's report "
        "reads it and warns that the cohort is simulated, not patient data).",
        "- `truth_genes.tsv`: one row per gene with a planted effect: `gene_id, symbol, programme` (several "
        "programmes joined by `;`, effects summed), the tumour-intrinsic true log2 fold changes "
        "`lfc_primary_vs_normal, lfc_liver_met_vs_normal, lfc_liver_met_vs_primary` (0 for `liver_admixture` genes), "
        "`expected_lfc_liver_met_vs_normal, expected_lfc_liver_met_vs_primary` (what the metastases show after the "
        "liver admixture, averaged over this cohort's metastases: tumour effects slightly diluted, hepatocyte genes "
        "hugely up) and `baseline_log2cpm` (normal pancreas). Every gene not listed is null in every contrast.",
        "- `truth_programmes.tsv`: one row per programme: `programme, source, groups, direction, mean_lfc_primary, "
        "mean_lfc_liver_met` (realised means of the programme's own effect over its perturbed genes), "
        "`n_genes_perturbed, n_set_members` (set members in the cohort, excluding hand-picked core genes), "
        "`expected_class` (over the two tumour-vs-normal contrasts: `shared`, `unique:liver_met_vs_normal`, or "
        "`artefact:liver_admixture`), `expected_contrasts` (every contrast with a mean effect of at least 0.25, "
        "with direction), `description`.",
        "- `truth_samples.tsv`: `sample, patient, site, batch, simulated, liver_fraction` (share of liver tissue in "
        "the RNA of a metastasis; 0 otherwise), `depth` (simulated sequencing depth over the whole transcriptome), "
        "`library_size` (column sum of `counts.tsv.gz`). The liver fraction is deliberately not in `samples.tsv`.",
        "",
        "## Design",
        "",
        f"{n_samples} samples of {s['patient'].nunique()} patients: "
        + ", ".join(f"{site} {int(n)}" for site, n in by_site.items())
        + ". Batches (`b1`/`b2`) are assigned per patient (alternating), so all samples of a patient share a batch "
        "and both batches contain every site. The design `~ patient + site` is full rank (batch is nested in "
        "patient).",
        "",
        *[f"- {p}" for p in patients],
        "",
        "Default contrasts (site levels):",
        "",
        *[f"- `{name}`: `{num}` vs `{den}`" for name, (num, den) in CONTRASTS.items()],
        "",
        "## Noise model",
        "",
        f"- Baseline expression (normal pancreas, log2 CPM): a mixture of an expressed mode "
        f"N{design.expressed_log2cpm} ({design.expressed_fraction:.0%} of genes) and a low mode "
        f"N{design.low_log2cpm}, clipped to {design.log2cpm_clip}; marker and receptor genes drawn from set ranges.",
        f"- Sequencing depth per sample U({design.depth_range[0]:.3g}, {design.depth_range[1]:.3g}) reads over the "
        "whole transcriptome"
        + (" (this cohort keeps a subset of genes, so its library sizes are smaller)." if design.subsample else "."),
        f"- Negative binomial (gamma-Poisson) counts; dispersion = ({design.dispersion_asymptotic:g} + "
        f"{design.dispersion_extra_poisson:g} / mean) x lognormal(0, {design.dispersion_scatter_sd:g}), capped at "
        f"{design.max_dispersion:g}.",
        f"- Per-patient random effect on {design.patient_effect_fraction:.0%} of genes (sd "
        f"{design.patient_effect_sd:g} log2); batch effect (`b2` vs `b1`) on {design.batch_effect_fraction:.0%} of "
        f"genes (sd {design.batch_effect_sd:g} log2).",
        f"- Liver admixture: each metastasis is (1 - f) x tumour + f x normal liver (proportions of RNA), "
        f"f ~ U{design.liver.fraction_range}; here f = {met['liver_fraction'].min():.3f}-"
        f"{met['liver_fraction'].max():.3f}.",
        "",
        "## Planted effects (the truth the tests use)",
        "",
        "Log2 fold changes are relative to normal pancreas unless stated. Within a GO set, a random "
        f"{design.programmes[0].fraction_perturbed:.0%} of the members present get gene-specific effects "
        "(normal around the programme mean, sd 0.3; metastasis effect = primary effect scaled by the programme's "
        "ratio); hand-picked core genes are always perturbed and are not perturbed as mere set members of other "
        "programmes. Genes of the metastasis-only programmes (their GO set and core genes) are reserved: no other "
        "programme perturbs them, so their terms stay null in primaries even where GO terms overlap. Genes in "
        "several programmes get the sum of the effects.",
        "",
        _md_table(tp[prog_cols]),
        "",
        f"{n_planted_tumour} genes carry tumour-intrinsic effects and "
        f"{int((tg['programme'] == 'liver_admixture').sum())} genes are up in metastases through liver admixture "
        f"only; the other {n_genes - len(tg)} of {n_genes} genes ({(n_genes - len(tg)) / n_genes:.1%}) are null in "
        "every contrast.",
        "",
        "Gene sets used (GO BP, `resources/genesets/go_bp.gmt.gz`):",
        "",
        *notes_terms,
        *composition,
        "",
        "Programme notes:",
        "",
        *[f"- `{row.programme}`: {row.description}. Expected: {row.expected_contrasts}."
          for row in tp.itertuples(index=False)],
        "",
        "Hand-picked genes (present in this cohort):",
        "",
        *[f"- `{name}`: {', '.join(genes)}" for name, genes in hand.items()],
        "",
        "The `liver_admixture` genes are not tumour biology: a workflow should flag them (liver signature) rather "
        "than report them as metastasis-specific.",
        "",
    ]
    return "\n".join(lines)


def write_cohort(cohort: SimulatedCohort, out: Path, readme_text: str) -> list[Path]:
    """Write the cohort files into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "counts.tsv.gz": _gzip(_tsv(cohort.counts, index=True)),
        "samples.tsv": _tsv(cohort.samples),
        "truth_genes.tsv": _tsv(cohort.truth_genes),
        "truth_programmes.tsv": _tsv(cohort.truth_programmes),
        "truth_samples.tsv": _tsv(cohort.truth_samples),
        "README.md": readme_text.encode("utf-8"),
    }
    paths = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--out", help="output folder (default: resources/demo or tests/data)")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--gene-map", default=GENE_MAP, help=f"gene map TSV(.gz) (default {GENE_MAP})")
    parser.add_argument("--gmt", default=GO_BP, help=f"GO BP GMT(.gz) (default {GO_BP})")
    args = parser.parse_args(argv)

    design_fn, default_seed = PRESETS[args.preset]
    seed = default_seed if args.seed is None else args.seed
    out = args.out or DEFAULT_OUT[args.preset]
    gene_map_path = Path(args.gene_map) if Path(args.gene_map).is_absolute() else REPO / args.gene_map
    gmt_path = Path(args.gmt) if Path(args.gmt).is_absolute() else REPO / args.gmt
    for path in (gene_map_path, gmt_path):
        if not path.exists():
            parser.error(f"input not found: {path}")

    gene_map = pd.read_csv(gene_map_path, sep="\t", dtype=str)
    genes = prepare_gene_table(gene_map)
    gene_sets = read_gmt(gmt_path)
    design = design_fn()
    cohort = simulate_cohort(genes, gene_sets, design, seed)
    inputs = {args.gene_map: _sha256(gene_map_path), args.gmt: _sha256(gmt_path)}
    out_path = Path(out) if Path(out).is_absolute() else Path.cwd() / out
    command = f"python resources/demo/make_cohorts.py --preset {args.preset} --out {out}"
    if args.seed is not None:
        command += f" --seed {args.seed}"
    if args.gene_map != GENE_MAP:
        command += f" --gene-map {args.gene_map}"
    if args.gmt != GO_BP:
        command += f" --gmt {args.gmt}"
    term_names = {t: gene_sets[t].term_name for p in design.programmes for t in p.go_ids if t in gene_sets}
    text = readme(cohort, design, args.preset, seed, command, inputs, term_names)
    for path in write_cohort(cohort, out_path, text):
        print(f"{path}\t{path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
