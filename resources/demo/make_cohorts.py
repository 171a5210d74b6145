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
    HostAdmixture,
    HostTissue,
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


#: The per-gene host truth shipped with a host-model cohort (``truth_host_genes.tsv.gz``): the columns of
#: :func:`simulate.host.truth_host_genes` without the reference id and the unperturbed reference levels (both read
#: from the shipped host reference). No genes x samples matrix is shipped (``host_share``): it would outweigh the
#: counts; the per-sample host fractions and cell mixes are in ``truth_samples.tsv``.
HOST_TRUTH_COLUMNS = ["gene_id", "symbol", "matched_by", "perturbation", "baseline_perturbation", "normal_cpm",
                      "primary_tumour_cpm", "metastasis_tumour_cpm", "liver_cpm", "liver_share",
                      "exocrine_pancreas_cpm", "exocrine_pancreas_share", "dispersion"]
ADMIXTURE_LABELS = ("liver_admixture", "exocrine_admixture")


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


def _legacy_files() -> list[str]:
    """The truth files of the original liver-admixture model (the tiny cohort)."""
    return [
        "- `truth_genes.tsv`: one row per gene with a planted effect: `gene_id, symbol, programme` (several "
        "programmes joined by `;`, effects summed), the tumour-intrinsic true log2 fold changes "
        "`lfc_primary_vs_normal, lfc_liver_met_vs_normal, lfc_liver_met_vs_primary` (0 for `liver_admixture` genes), "
        "`expected_lfc_liver_met_vs_normal, expected_lfc_liver_met_vs_primary` (what the metastases show after the "
        "liver admixture, averaged over this cohort's metastases: tumour effects slightly diluted, hepatocyte genes "
        "hugely up) and `baseline_log2cpm` (normal pancreas). Every gene not listed is null in every contrast.",
        "- `truth_programmes.tsv`: one row per programme: `programme, source, groups, direction, mean_lfc_primary, "
        "mean_lfc_liver_met` (realised means of the programme's own effect over its perturbed genes), "
        "`n_genes_perturbed, n_set_members` (set members in the cohort, excluding hand-picked core genes), "
        "`expected_class` (over the two tumour-vs-normal contrasts, the direct one deciding shared from "
        "shared-stronger: `shared`, `shared_stronger_in:liver_met_vs_normal`, `unique:liver_met_vs_normal`, or "
        "`artefact:liver_admixture`), `expected_contrasts` (every contrast with a mean effect of at least 0.25, "
        "with direction), `description`.",
        "- `truth_samples.tsv`: `sample, patient, site, batch, simulated, liver_fraction` (share of liver tissue in "
        "the RNA of a metastasis; 0 otherwise), `depth` (simulated sequencing depth over the whole transcriptome), "
        "`library_size` (column sum of `counts.tsv.gz`). The liver fraction is deliberately not in `samples.tsv`.",
    ]


def _host_files(host: HostAdmixture, n_genes: int) -> list[str]:
    """The truth files of the host-tissue model (the demo cohort)."""
    return [
        "- `truth_genes.tsv`: one row per gene with a planted effect or a host-tissue artefact: `gene_id, symbol, "
        "programme` (several labels joined by `;`, effects summed; `liver_admixture` / `exocrine_admixture` mark "
        f"genes that host tissue alone moves by at least {host.artefact_log2:g} log2 in metastases / primaries), "
        "the tumour-intrinsic true log2 fold changes `lfc_primary_vs_normal, lfc_liver_met_vs_normal, "
        "lfc_liver_met_vs_primary` (0 for genes labelled only with an admixture), `expected_lfc_primary_vs_normal, "
        "expected_lfc_liver_met_vs_normal, expected_lfc_liver_met_vs_primary` (what the samples show with their "
        "host tissue in, averaged over this cohort's primaries and metastases) and `baseline_log2cpm` (normal "
        "pancreas). Every gene not listed has no planted effect and is moved by less than "
        f"{host.artefact_log2:g} log2 by host tissue.",
        "- `truth_programmes.tsv`: one row per programme: `programme, source, groups, direction, mean_lfc_primary, "
        "mean_lfc_liver_met` (realised means of the programme's own effect over its perturbed genes), "
        "`n_genes_perturbed, n_set_members` (set members in the cohort, excluding hand-picked core genes), "
        "`expected_class` (over the two tumour-vs-normal contrasts, the direct one deciding shared from "
        "shared-stronger: `shared`, `shared_stronger_in:liver_met_vs_normal`, `unique:liver_met_vs_normal`, "
        "`artefact:liver_admixture` or `artefact:exocrine_admixture`), `expected_contrasts` (every contrast with a "
        "mean effect of at least 0.25, with direction; for the admixture rows the mean artefact), `description`.",
        "- `truth_samples.tsv`: `sample, patient, site, batch, simulated, liver_fraction` (share of liver tissue in "
        "the RNA of a metastasis; 0 otherwise), `exocrine_fraction` (share of exocrine pancreas in the RNA of a "
        "primary; 0 otherwise), `host_fraction, host_tissue` (the sample's host fraction and host), the host's cell "
        "mix `<host>_mix_<profile>` (shares of the host's RNA; 0 where the sample has no such host), `depth` "
        "(simulated sequencing depth over the whole transcriptome), `library_size` (column sum of "
        "`counts.tsv.gz`). The host fractions are deliberately not in `samples.tsv`.",
        f"- `truth_host_genes.tsv.gz`: per gene (all {n_genes}): `gene_id, symbol, matched_by` (how the gene was "
        "found in the HPA v23 host reference: `id`, `symbol` or `none`), `perturbation` (natural log: the per-gene "
        "factor of every host profile), `baseline_perturbation` (natural log: the per-gene factor of the pancreas "
        "baseline), `normal_cpm, primary_tumour_cpm, metastasis_tumour_cpm` (the pure tissues, CPM, before host "
        "tissue and nuisance effects), `liver_cpm, exocrine_pancreas_cpm` (each host at its mean cell mix, "
        "perturbed: what this cohort's host expresses on average), `liver_share, exocrine_pancreas_share` (mean "
        "over the host's samples of the host's share of the gene's expected counts), `dispersion`. The "
        "unperturbed reference levels are in `resources/host_reference/`; no genes x samples host-share matrix is "
        "shipped.",
    ]


def _host_baseline(cohort: SimulatedCohort, design: CohortDesign) -> str:
    """The baseline line of the noise model (host model)."""
    host = design.host
    assert host is not None and cohort.truth_host_genes is not None
    unmapped = int((cohort.truth_host_genes["matched_by"] == "none").sum())
    return (f"- Baseline expression (normal pancreas, log2 CPM): the HPA v23 pancreas tissue profile "
            "(`resources/host_reference/`, nTPM) times a per-gene lognormal factor (sd "
            f"{host.baseline_perturbation_sd:g}, natural log); genes the reference has at 0 in pancreas get "
            f"U{host.absent_log2cpm}, and the {unmapped} genes the reference lacks a random level (a mixture of "
            f"N{design.expressed_log2cpm} ({design.expressed_fraction:.0%}) and N{design.low_log2cpm}, clipped to "
            f"{design.log2cpm_clip}). Tumours are this baseline plus the planted programmes, so tumour cells express "
            "host-expressed genes (EGFR, KDR, CSF1R, CD68, ...) at their pancreas-tissue level.")


def _mix(tissue: HostTissue) -> str:
    names = {"pancreas_exocrine": "pancreas tissue minus its islet part", "liver": "liver tissue",
             "exocrine_glandular_cells": "acinar cells", "kupffer_cells": "Kupffer cells"}
    return ", ".join(f"{names.get(p, p.replace('_', ' '))} {w:.0%}" for p, w in tissue.components)


def _host_admixture(cohort: SimulatedCohort, host: HostAdmixture) -> str:
    """The host-tissue line of the noise model."""
    ts = cohort.truth_samples
    met, pri = ts[ts["site"] == "liver_metastasis"], ts[ts["site"] == "primary"]
    text = (f"- Host tissue (admixture): each liver metastasis is (1 - f) x tumour + f x liver (proportions of RNA), "
            f"f ~ U{host.liver.fraction_range}; here f = {met['liver_fraction'].min():.3f}-"
            f"{met['liver_fraction'].max():.3f}.")
    if host.pancreas is not None:
        text += (f" Each primary is (1 - g) x tumour + g x exocrine pancreas, g ~ U{host.pancreas.fraction_range}; "
                 f"here g = {pri['exocrine_fraction'].min():.3f}-{pri['exocrine_fraction'].max():.3f}.")
    text += (" Each host is the sample's own cell mix, Dirichlet(concentration x mean shares), of real HPA v23 "
             f"profiles (shares of the host's RNA): liver = {_mix(host.liver)} (concentration "
             f"{host.liver.concentration:g})")
    if host.pancreas is not None:
        text += (f"; exocrine pancreas = {_mix(host.pancreas)} (concentration {host.pancreas.concentration:g}; the "
                 f"islet part taken out with an islet share of {host.islet_fraction:g} of the tissue's RNA, islet "
                 f"hormones {', '.join(host.islet_genes)} removed entirely)")
    text += (f". Every host profile is multiplied by one per-gene lognormal factor (sd {host.perturbation_sd:g}, "
             "natural log, independent of the baseline's), so this cohort's hosts differ from HPA's gene by gene, "
             "as a real cohort's do. No host gene is set by hand: liver genes, and the hosts' share of EGFR, KDR, "
             "CSF1R, CD68, ..., follow from the profiles and the fractions.")
    return text


def _host_counts(tg: pd.DataFrame, design: CohortDesign, n_planted_tumour: int, n_genes: int) -> str:
    """The sentence counting tumour and host-tissue genes (host model)."""
    host = design.host
    assert host is not None
    acinar = next(p.lfc_primary for p in design.programmes if p.name == "acinar_loss")
    labels = tg["programme"].str.split(";")
    n_liver = int(labels.map(lambda x: "liver_admixture" in x).sum())
    n_exo = int(labels.map(lambda x: "exocrine_admixture" in x).sum())
    both = int(labels.map(lambda x: bool(set(x) & set(ADMIXTURE_LABELS)) and not set(x) <= set(ADMIXTURE_LABELS))
               .sum())
    return (f"{n_planted_tumour} genes carry tumour-intrinsic effects. Host tissue alone moves {n_liver} genes by at "
            f"least {host.artefact_log2:g} log2 in metastases (`liver_admixture`) and {n_exo} in primaries "
            f"(`exocrine_admixture`; {both} of these genes carry a tumour effect too). The other "
            f"{n_genes - len(tg)} of {n_genes} genes ({(n_genes - len(tg)) / n_genes:.1%}) have no planted effect "
            "and are moved by less than that. The programmes' `core_baseline_log2cpm` and `liver_offset` are not "
            "used by this model (baselines and host levels come from the reference); the acinar loss is "
            f"{acinar:g} log2 here (tumour cells make no acinar enzymes: a primary's acinar reads come from its "
            "exocrine host).")


def _host_closing(tg: pd.DataFrame) -> list[str]:
    """The closing paragraph (host model): the strongest artefact genes, and what a workflow should do."""
    lines = []
    for label, column, site in (("liver_admixture", "expected_lfc_liver_met_vs_normal", "metastases"),
                                ("exocrine_admixture", "expected_lfc_primary_vs_normal", "primaries")):
        mine = tg[tg["programme"].str.split(";").map(lambda x, label=label: label in x)]
        artefact = (mine[column] - mine[column.replace("expected_", "")]).sort_values(ascending=False)
        top = mine.loc[artefact.index[:15], "symbol"]
        lines.append(f"- `{label}` ({len(mine)} genes), moved most in {site}: {', '.join(top)}")
    return [
        "Genes host tissue moves most (expected observed minus tumour-intrinsic log2 fold change):",
        "",
        *lines,
        "",
        "The `liver_admixture` and `exocrine_admixture` effects are not tumour biology: the workflow's host-tissue "
        "stage (`admixture:` in `config/config.yaml`) estimates each sample's host fraction and takes the host's "
        "expected reads out of the counts before the DE fits; `results/diffexp/unadjusted/` keeps the tables "
        "with the host reads in, for comparison.",
    ]


def _patient_layer(cohort: SimulatedCohort, design: CohortDesign) -> list[str]:
    """The README's patient-layer section (none without a layer)."""
    layer = design.patient_layer
    if layer is None:
        return []
    truth = cohort.truth_samples
    column = f"{layer.programme}_active"
    lines = ["## Patient layer (the truth the patient stage is checked against)", ""]
    for site in ("liver_metastasis", "primary"):
        part = truth.loc[truth["site"] == site]
        active = part.loc[part[column] == "yes", "sample"].tolist()
        lines.append(f"- `{layer.programme}` active in {len(active)} of {len(part)} {site} samples"
                     + (f": {', '.join(active)}." if 0 < len(active) < len(part) else "."))
    per_patient = truth.drop_duplicates("patient")
    decisive = truth.loc[truth["site"] == layer.decisive_site].set_index("patient")[column]
    on = per_patient["patient"].map(decisive).eq("yes")
    high = per_patient["high_glycosylation"].eq("yes")
    lines += [
        f"- Sample-sheet columns per patient (every sample of a patient carries them): `high_glycosylation` (yes "
        f"in a share {layer.glycosylation[0]:g} of the patients whose {layer.decisive_site} carries the "
        f"programme, {layer.glycosylation[1]:g} of the others, rounded; here yes in {int((high & on).sum())} of "
        f"{int(on.sum())} and {int((high & ~on).sum())} of {int((~on).sum())}), `os_months` and `os_event` "
        f"(exponential death times, {layer.hazard:g} per month, x {layer.hazard_ratio:g} where the programme is "
        f"active; censored uniformly over {layer.follow_up[0]:g}-{layer.follow_up[1]:g} months; here "
        f"{int(per_patient['os_event'].sum())} deaths in {len(per_patient)} patients).",
        f"- A tumour without the programme has its genes at the level they have without it (its effect taken "
        f"out); `truth_samples.tsv` column `{column}` says which tumours carry it. The expected log2 fold changes "
        "of `truth_genes.tsv` average over the site's samples, active or not.",
        "",
    ]
    return lines


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
    host = design.host
    labels = tg["programme"].str.split(";")
    admixture_only = labels.map(lambda x: set(x) <= set(ADMIXTURE_LABELS))
    n_planted_tumour = int((~admixture_only).sum())
    by_site = s.groupby("site", sort=False).size()
    patients = []
    for patient, grp in s.groupby("patient", sort=False):
        patients.append(f"{patient} ({grp['batch'].iloc[0]}): " + ", ".join(grp["site"]))
    hand = {}
    for prog in design.programmes:
        if prog.core_genes:
            present = set(tg["symbol"])
            hand[prog.name] = [g for g in prog.core_genes if g in present]
    if host is None:
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
        "reads it and warns that the cohort is simulated, not patient data)"
        + (", then the patient layer's clinical columns (below)." if design.patient_layer else "."),
        *(_legacy_files() if host is None else _host_files(host, n_genes)),
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
        f"N{design.low_log2cpm}, clipped to {design.log2cpm_clip}; marker and receptor genes drawn from set ranges."
        if host is None else _host_baseline(cohort, design),
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
        f"{met['liver_fraction'].max():.3f}." if host is None else _host_admixture(cohort, host),
        "",
        *_patient_layer(cohort, design),
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
        "every contrast." if host is None else _host_counts(tg, design, n_planted_tumour, n_genes),
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
        *(["The `liver_admixture` genes are not tumour biology: a workflow should flag them (liver signature) "
           "rather than report them as metastasis-specific."] if host is None else _host_closing(tg)),
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
    if cohort.truth_host_genes is not None:
        files["truth_host_genes.tsv.gz"] = _gzip(_tsv(cohort.truth_host_genes[HOST_TRUTH_COLUMNS]))
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
