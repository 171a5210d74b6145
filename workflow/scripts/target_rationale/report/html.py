"""The self-contained HTML report: one file with every image and table embedded, readable offline.

The report reads the workflow's results by their documented layout (``results/...``) and the run's provenance
(``results/provenance/``), and lays them out in the order a researcher checks a drug-target rationale: the
question and the cohort, differential expression, enrichment and the cross-contrast comparison, target-axis
evidence and the therapy rationale, then methods and caveats. Tables are sortable and filterable by a small
script inside the file (no network, no CDN); gene symbols show their gene id on hover.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import pandas as pd
import yaml

from target_rationale.admixture.adjust import SPECIFIC_SHARE
from target_rationale.admixture.anchors import HOSTS
from target_rationale.core.io import write_atomic
from target_rationale.core.jobs import LOG
from target_rationale.core.tsv import read_tsv
from target_rationale.paths import result
from target_rationale.report.answer import glance_html, metastasis_contrast
from target_rationale.report.measured import AXIS_OPERATING_CHARACTERISTICS, HOST_TISSUE_ENRICHMENT
from target_rationale.report.render import (
    Table,
    codes,
    esc,
    image_html,
    inline_markdown,
    limited,
    markdown_to_html,
    table_html,
)

#: QC flags: a sample is flagged when its library is below this fraction of the median library size ...
SMALL_LIBRARY = 1 / 3
#: ... when it detects fewer genes than this fraction of the median ...
FEW_GENES = 0.8
#: ... and when liver-signature genes take at least this share of its counts (admixture of liver tissue).
LIVER_SHARE = 0.01

DEFAULT_QUESTION = (
    "Which of the configured target axes are changed in the tumours, and are they shared between primaries and "
    "metastases or unique to metastases? Which drug or drug pair covers the axes flagged in metastases?")


# ---- reading results ---------------------------------------------------------------------------------------


def read_table(path: str | Path) -> pd.DataFrame:
    """A workflow TSV, with ids and names kept as text and empty cells as missing (:func:`core.io.read_tsv`)."""
    return read_tsv(path)


def qc_flags(qc: pd.DataFrame) -> pd.Series:
    """QC flags per sample, ``;``-joined (empty when none): small library, few genes, liver admixture.

    Parameters
    ----------
    qc
        ``results/qc/samples.tsv`` indexed by sample (``library_size``, ``detected_genes``, and
        ``liver_count_share`` when a liver signature was scored).
    """
    flags = pd.Series([[] for _ in range(len(qc))], index=qc.index, dtype=object)
    median_library = qc["library_size"].median()
    median_genes = qc["detected_genes"].median()
    for sample, row in qc.iterrows():
        if row["library_size"] < SMALL_LIBRARY * median_library:
            flags[sample].append(f"small library (< {SMALL_LIBRARY:.2g} x median)")
        if row["detected_genes"] < FEW_GENES * median_genes:
            flags[sample].append(f"few detected genes (< {FEW_GENES:.0%} of median)")
        if "liver_count_share" in qc and row["liver_count_share"] >= LIVER_SHARE:
            flags[sample].append(f"liver admixture ({row['liver_count_share']:.1%} of counts)")
    return flags.map("; ".join)


def de_summary(tables: Mapping[str, pd.DataFrame], contrasts: Sequence[Mapping], alpha: float,
               lfc_min: float) -> pd.DataFrame:
    """One row per contrast: genes in the table, genes with an adjusted p-value, up and down at ``alpha``.

    ``up_strong`` / ``down_strong`` also need ``|log2FoldChange| >= lfc_min`` (the ORA gene-list rule).
    """
    rows = []
    for contrast in contrasts:
        table = tables[contrast["name"]]
        significant = table["padj"] < alpha
        rows.append({
            "contrast": contrast["name"], "comparison": f"{contrast['target']} vs {contrast['reference']}",
            "variable": contrast["variable"], "genes": len(table), "tested": int(table["padj"].notna().sum()),
            "up": int((significant & (table["log2FoldChange"] > 0)).sum()),
            "down": int((significant & (table["log2FoldChange"] < 0)).sum()),
            "up_strong": int((significant & (table["log2FoldChange"] >= lfc_min)).sum()),
            "down_strong": int((significant & (table["log2FoldChange"] <= -lfc_min)).sum()),
        })
    return pd.DataFrame(rows)


def class_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Terms per class (shared, unique:<contrast>, unconfirmed:..., partial:..., none, ...) and direction, for one
    collection."""
    counts = comparison.fillna({"direction": ""}).groupby(["class", "direction"]).size()
    return counts.rename("terms").reset_index()


def cohort_groups(sheet: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Samples per level of each contrast variable."""
    rows = [{"variable": variable, "level": level, "samples": int(n)}
            for variable in variables for level, n in sheet[variable].value_counts(sort=False).items()]
    return pd.DataFrame(rows)


def pairing(sheet: pd.DataFrame, design: str, contrast_variables: Sequence[str]) -> list[str]:
    """Sentences on the blocking factors of the design (e.g. patients seen in several groups)."""
    terms = [term.strip() for term in re.split(r"[~+*:]", design) if term.strip()]
    sentences = []
    for term in terms:
        if term in contrast_variables or term not in sheet:
            continue
        blocks = sheet.groupby(term, observed=True)
        shared = [level for level, rows in blocks if any(rows[v].nunique() > 1 for v in contrast_variables)]
        sentences.append(f"`{term}` ({sheet[term].nunique()} levels) is a covariate of the design; "
                         f"{len(shared)} of its levels have samples in more than one group of the contrast "
                         f"variable(s), so those contrasts are within-{term} (paired) comparisons.")
    return sentences


# ---- sections ----------------------------------------------------------------------------------------------


@dataclass
class ReportContext:
    """What the sections share: the results folder, the resolved config and the run's provenance."""

    results: Path
    config: dict
    versions: pd.DataFrame
    checksums: pd.DataFrame
    genesets: dict
    run: dict
    simulated: bool
    qc: pd.DataFrame  # results/qc/samples.tsv, indexed by sample
    axes: pd.DataFrame | None  # results/targets/axes.tsv; None when the target stage is off

    @property
    def contrasts(self) -> list[dict]:
        return list(self.config["contrasts"])

    @property
    def collections(self) -> list[str]:
        return list(self.config["genesets"])

    def path(self, name: str, suffix: str = "", **wildcards: str) -> Path:
        """The file of result ``name`` (``paths.LAYOUT``) in this run, e.g. ``path("de_table", contrast=c)``."""
        return Path(result(name, root=self.results, **wildcards) + suffix)

    def image(self, name: str, caption: str, **wildcards: str) -> str:
        """The PNG of figure ``name`` (``paths.LAYOUT``), embedded with its caption."""
        return image_html(self.path(name, ".png", **wildcards), caption, self.results)


def section(anchor: str, title: str, content: Iterable[str]) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>\n' + "\n".join(content) + "\n</section>"


def glance(ctx: ReportContext) -> list[str]:
    """The answer in two sentences (:func:`~.answer.glance_html`): flagged axes in the judged contrast, and the
    best-covering therapy."""
    if metastasis_contrast(ctx.axes) is None:
        return []
    return glance_html(ctx.axes, read_table(ctx.path("rationale_table")))


def cohort_section(ctx: ReportContext) -> str:
    qc = ctx.qc
    flags = qc_flags(qc)
    variables = list(dict.fromkeys(c["variable"] for c in ctx.contrasts))
    question = (ctx.config.get("report") or {}).get("question") or DEFAULT_QUESTION
    blocks = [f"<p class='question'>{inline_markdown(question)}</p>", *glance(ctx),
              f"<p>{len(qc)} samples; design <code>{esc(ctx.config['design'])}</code>; "
              f"{int((flags != '').sum())} sample(s) with a QC flag.</p>"]
    if ctx.simulated:
        blocks.append("<p class='warning'><strong>Simulated cohort.</strong> These counts are the workflow's "
                      "embedded simulated demo/test cohort, not patient data: every effect in this report was "
                      "planted by the simulator (the sample sheet's <code>simulated</code> column says so; see "
                      "<code>resources/demo/README.md</code>).</p>")
    blocks.append(table_html(Table(cohort_groups(qc, variables), caption="Samples per group."), "groups"))
    blocks += [f"<p>{inline_markdown(s)}</p>" for s in pairing(qc, ctx.config["design"], variables)]
    shown = qc.assign(qc_flags=flags).reset_index()
    keep = [c for c in shown.columns if c not in ("liver_score",)]
    blocks.append(table_html(Table(shown[keep], source=result("qc_samples"), caption=(
        "Samples with their QC figures. `liver_count_share` is the share of a sample's counts from hepatocyte "
        "signature genes (liver admixture); flags: library below a third of the median, fewer than 80% of the "
        "median detected genes, liver genes >= 1% of counts.")), "samples"))
    for name, caption in [("library_sizes", "Library size (counted reads) per sample."),
                          ("pca", "PCA of the variance-stabilised counts (the most variable genes, up to 500)."),
                          ("sample_distances", "Euclidean distances between samples (VST).")]:
        blocks.append(ctx.image("qc_figure", caption, plot=name))
    blocks += host_tissue_blocks(ctx)
    return section("cohort", "1. The question and the cohort", blocks)


def host_summary(admixture: pd.DataFrame) -> list[str]:
    """One sentence per host tissue: how much of it the samples of each site carry (median and range)."""
    sentences = []
    hosted = admixture[admixture["host"].fillna("") != ""]
    for (site, host), rows in hosted.groupby(["site", "host"], sort=False):
        known = rows["fraction"].dropna()
        if not len(known):
            sentences.append(f"{site} samples: their {host.replace('_', ' ')} share could not be estimated (no "
                             "anchor gene of the host reference among the cohort's genes).")
            continue
        sentences.append(f"{site} samples carry {host.replace('_', ' ')}: median {known.median():.0%} of reads "
                         f"(range {known.min():.0%}-{known.max():.0%}, {len(known)} of {len(rows)} samples "
                         "estimated).")
    return sentences


def host_tissue_blocks(ctx: ReportContext) -> list[str]:
    """The host-tissue fractions (results/qc/admixture.tsv), when the admixture stage ran."""
    path = ctx.path("admixture_table")
    if not path.exists():
        return []
    admixture = read_table(path)
    return [f"<h3 id='host-tissue'>Host tissue</h3><p>{' '.join(host_summary(admixture))} Estimated per sample on "
            "genes specific to the host tissue and absent from the tumour, against the HPA v23 reference "
            "(<code>admixture:</code> in the config).</p>",
            ctx.image("qc_figure", "Host fraction of each sample's reads, with its 95% interval.", plot="admixture"),
            table_html(limited(admixture, result("admixture_table"), caption=(
                "Host-tissue fraction per sample. The cell-type columns (the liver's hepatocytes, Kupffer cells, "
                "cholangiocytes; acinar cells) are each read on its markers against a single-cell profile, whose "
                "scale differs from bulk tissue's, and capped at the host fraction: they do not add up to it, and "
                "a value at the cap says that scale, not that the host is that cell type alone.")),
                       "admixture"),
            f"<p>{adjustment_summary(ctx)}</p>"]


def make_up_sentence(mix: Mapping[str, Mapping[str, float]], tissues: Mapping[str, str] | None = None) -> str:
    """One sentence on each host's make-up as fitted on the cohort (``uns["admixture"]["mix"]`` of the adjusted
    cohort: host -> reference profile -> weight); a host left at its tissue profile alone (``tissues``: host ->
    tissue profile, default the hosts' settings) is said to be so."""
    tissues = {name: spec.profile for name, spec in HOSTS.items()} if tissues is None else tissues
    parts = []
    for host, weights in sorted(mix.items()):
        shown = {name: float(w) for name, w in weights.items() if float(w) >= 0.005}
        if list(shown) == [tissues.get(host)]:
            parts.append(f"{host.replace('_', ' ')}: the reference's tissue profile (the samples could not tell "
                         "better: too few, fractions too close together, or no better fit)")
        else:
            listed = ", ".join(f"{name.replace('_', ' ')} {w:.2f}"
                               for name, w in sorted(shown.items(), key=lambda item: -item[1]))
            parts.append(f"{host.replace('_', ' ')}: {listed}")
    return ("Host make-up fitted on this cohort (weights of reference profiles): " + "; ".join(parts) + "."
            if parts else "")


def adjustment_summary(ctx: ReportContext) -> str:
    """What was done about host tissue in the DE tables: adjusted or not, and host-dominated genes per contrast."""
    settings = ctx.config["admixture"]  # the resolved config: the schema's defaults filled in
    if not settings["adjust"]:
        return ("Differential expression is <b>not adjusted</b> for host tissue (<code>admixture.adjust: "
                "false</code>): host reads are in every count, so host genes can come out as changed.")
    counts, unadjusted = [], []
    for contrast in ctx.contrasts:
        path = ctx.path("de_table", contrast=contrast["name"])
        if not path.exists():
            continue
        table = read_table(path)
        if "host_dominated" in table.columns:
            counts.append(f"{contrast['name']} {int(table['host_dominated'].astype(bool).sum())}")
            if table["host_share"].isna().all():
                unadjusted.append(contrast["name"])
    text = ("Differential expression is <b>adjusted</b> for host tissue: each sample's expected host reads (its host "
            "fraction x the host's levels: its make-up in reference tissue and cell-type profiles fitted on this "
            "cohort at the samples' typical cell mix, calibrated gene by gene) were taken out "
            "of its counts before the fit, and the uncertainty of the host's levels is carried into each gene's "
            "standard error, so site effects are estimated at zero admixture. Genes whose reads are at least "
            f"{settings['host_dominated']:.0%} host in a contrast group, and host-specific genes (made by "
            f"the host, not the tumour) from {SPECIFIC_SHARE:.0%}, are reported as host-dominated (no test) and "
            "stay out of enrichment and axis evidence: " + (", ".join(counts) or "none") + ". "
            "Unadjusted tables: <code>results/diffexp/unadjusted/</code>.")
    if unadjusted:
        text += (" Not adjusted (host fraction not estimable): " + ", ".join(unadjusted)
                 + "; their host-specific genes are left out instead.")
    cohort = ctx.path("adjusted_cohort")
    if cohort.exists():
        adjusted = ad.read_h5ad(cohort, backed="r")  # uns only; the matrices stay on disk
        try:
            text += " " + make_up_sentence(adjusted.uns.get("admixture", {}).get("mix", {}))
        finally:
            adjusted.file.close()
    return text.rstrip()


def diffexp_section(ctx: ReportContext) -> str:
    settings = ctx.config["diffexp"]
    alpha, lfc_min = settings["alpha"], ctx.config["enrichment"]["ora_min_lfc"]
    tables = {c["name"]: read_table(ctx.path("de_table", contrast=c["name"])) for c in ctx.contrasts}
    summary = de_summary(tables, ctx.contrasts, alpha, lfc_min)
    blocks = [f"<p>Genes with adjusted p-value below {alpha} per contrast (Wald test, pydeseq2); "
              f"<code>up_strong</code>/<code>down_strong</code> also have |log2 fold change| &ge; {lfc_min} "
              "(the gene lists of the over-representation analysis).</p>",
              table_html(Table(summary), "de-summary")]
    for contrast in ctx.contrasts:
        name = contrast["name"]
        table = tables[name]
        top = table[table["padj"].notna()].head(25)
        columns = [c for c in ["symbol", "gene_id", "baseMean", "log2FoldChange", "log2FoldChange_shrunk",
                               "padj", "liver_signature"] if c in top]
        blocks += [f"<h3 id='de-{esc(name)}'>{esc(name)}: {esc(contrast['target'])} vs "
                   f"{esc(contrast['reference'])}</h3>",
                   f"<p>Model <code>{esc(contrast.get('design') or ctx.config['design'])}</code>.</p>",
                   ctx.image("contrast_figure", f"Volcano plot of {name}.", contrast=name, plot="volcano"),
                   table_html(Table(top[columns], source=result("de_table", contrast=name), total=len(table),
                                    hover={"symbol": "gene_id"},
                                    caption="Top genes by adjusted p-value (hover a symbol for its gene id)."),
                              f"de-top-{name}")]
    return section("diffexp", "2. Differential expression", blocks)


def enrichment_section(ctx: ReportContext) -> str:
    settings = ctx.config["enrichment"]
    compared = settings["comparison"] or [c["name"] for c in ctx.contrasts]
    judged = metastasis_contrast(ctx.axes)
    blocks = [f"<p>Per contrast and collection: a term test with sample-level error control (limma's camera on "
              "the variance-stabilised counts with the contrast's design, inter-gene correlation estimated from "
              f"the residuals; FDR &lt; {settings.get('term_fdr', 0.05)} significant), preranked GSEA on the Wald "
              f"statistic (NES, leading edges; FDR &lt; {settings['gsea_fdr']} marked in its plots) and "
              f"over-representation of up and down genes (FDR &lt; {settings['ora_fdr']}). The comparison "
              f"classifies each term over the contrasts {codes(compared)} by the term test: with the direct "
              "contrast between their groups, <em>unique:&lt;contrast&gt;</em> (significant in that one only "
              "and confirmed by the direct contrast), <em>unconfirmed:&lt;contrast&gt;</em> (significant in that "
              "one only, not different in the direct contrast), <em>shared</em>, "
              "<em>shared_stronger_in:&lt;contrast&gt;</em>, <em>opposite</em>, <em>none</em>; without it, "
              "<em>shared</em> (significant in all), <em>unique:&lt;contrast&gt;</em>, <em>partial</em>, "
              "<em>none</em>.</p>"]
    if ctx.config["admixture"]["adjust"] and ctx.path("admixture_table").exists():
        blocks.append(f"<p>{HOST_TISSUE_ENRICHMENT}</p>")
    for collection in ctx.collections:
        comparison = read_table(ctx.path("comparison_table", collection=collection))
        comparison["best_fdr"] = comparison[[f"fdr_{c}" for c in compared]].min(axis=1)
        comparison = comparison.sort_values(["best_fdr", "term_id"], kind="stable")
        columns = ["term_id", "term_name", "class", "direction", *[f"nes_{c}" for c in compared],
                   *[f"fdr_{c}" for c in compared]]
        # the classes and FDRs are the term test's (camera); the NES beside them is GSEA's: say so in the headers
        comparison = comparison.rename(columns={f"nes_{c}": f"gsea_nes_{c}" for c in compared})
        columns = [f"gsea_{c}" if c.startswith("nes_") else c for c in columns]
        source = result("comparison_table", collection=collection)
        blocks += [f"<h3 id='comparison-{esc(collection)}'>{esc(collection)}: shared vs unique</h3>",
                   table_html(Table(class_summary(comparison), caption="Terms per class and direction."),
                              f"classes-{collection}")]
        for contrast in sorted(compared, key=lambda c: c != judged):  # the metastasis contrast first
            unique = comparison[comparison["class"] == f"unique:{contrast}"]
            blocks.append(table_html(limited(unique[columns], source, max_rows=100, caption=(
                f"Terms unique to `{contrast}` ({len(unique)}; significant only there, and confirmed by the "
                "direct contrast where the config has one: the class `unique:`; `unconfirmed:` terms are counted "
                "in the table above), by FDR.")),
                f"unique-{collection}-{contrast}"))
        shared = comparison[comparison["class"].str.startswith("shared")]
        blocks += [table_html(limited(shared[columns], source, max_rows=100, caption=(
                       f"Terms significant in every compared contrast ({len(shared)}; shared, or shared and "
                       "stronger in one), by best FDR.")),
                       f"shared-{collection}"),
                   "<details><summary>Heatmap of the leading terms</summary>",
                   ctx.image("comparison_figure", f"NES of the leading terms of {collection} across contrasts.",
                             collection=collection),
                   "</details>"]
    for contrast in ctx.contrasts:
        name = contrast["name"]
        blocks.append(f"<h3 id='enrichment-{esc(name)}'>{esc(name)}</h3>")
        for collection in ctx.collections:
            source = result("enrichment_table", contrast=name, collection=collection, table="gsea")
            gsea = read_table(ctx.path("enrichment_table", contrast=name, collection=collection, table="gsea"))
            gsea = gsea.sort_values(["fdr", "pvalue"], kind="stable")
            blocks += [f"<details><summary>{esc(collection)}: {int((gsea['fdr'] < settings['gsea_fdr']).sum())} "
                       f"of {len(gsea)} sets significant in GSEA</summary>",
                       ctx.image("enrichment_figure", f"Top GSEA terms of {name}, {collection}.", contrast=name,
                                 collection=collection, plot="gsea_dots"),
                       table_html(limited(gsea[["term_id", "term_name", "size", "nes", "pvalue", "fdr"]], source,
                                          max_rows=50, caption="GSEA terms by FDR."), f"gsea-{name}-{collection}"),
                       "</details>"]
    return section("enrichment", "3. Enrichment and the cross-contrast comparison", blocks)


def targets_section(ctx: ReportContext) -> str:
    axes = ctx.axes
    if axes is None:
        return section("targets", "4. Target axes and therapy rationale",
                       ["<p>The target-axis stage is off (<code>targets: null</code>).</p>"])
    genes = read_table(ctx.path("axis_genes_table"))
    rationale = read_table(ctx.path("rationale_table"))
    axis_columns = ["contrast", "axis", "role", "flag", "unique", "compartment", "receptors_supported",
                    "test_effect", "test_p", "test_p_holm", "vote_flag",
                    "vote_genes", "vote_pathway", "vote_score",
                    "n_genes_measured", "n_genes_up", "n_genes_down", "best_term", "best_term_name", "best_nes",
                    "best_fdr", "score_diff", "score_p"]
    blocks = [ctx.image("targets_figure", "Evidence grid: flag per axis and contrast, with the votes of the genes, "
                        "pathway and score lines.", plot="evidence"),
              table_html(Table(axes[[c for c in axis_columns if c in axes]], source=result("axes_table"),
                               caption="Axis flag (calibrated test: fry, Holm across axes x "
                                       "contrasts, effect floor) and the evidence reported beside it, per "
                                       "contrast."), "axes"),
              "<h3>Therapy rationale</h3>",
              markdown_to_html(ctx.path("rationale_markdown").read_text()),
              table_html(Table(rationale, source=result("rationale_table"),
                               caption="Drugs and drug pairs ranked by the evidence: weighted coverage of "
                                       "the flagged axes through receptors with evidence, then fewer drugs, then "
                                       "the covered axes' test strength (`why` says it per therapy)."),
                         "rationale"),
              ctx.image("targets_figure", "Per-sample axis scores by group.", plot="axis_scores"),
              ctx.image("targets_figure", "Expression of each axis's genes per sample.", plot="axis_genes"),
              table_html(Table(genes, source=result("axis_genes_table"), hover={"symbol": "gene_id"},
                               caption="Every axis gene in every contrast."), "axis-genes")]
    if ctx.path("patients_prevalence").exists():  # results of runs before the patient stage have none
        # the patient stage's summary is the Patients section of the rationale above
        blocks += [table_html(Table(read_table(ctx.path("patients_prevalence")), source=result("patients_prevalence"),
                                    caption="Share of tumours with each axis active, per site, with 95% Wilson "
                                            "intervals (per sample: results/patients/activity.tsv; per patient: "
                                            "changes.tsv)."), "patients-prevalence"),
                   ctx.image("patients_figure", "Axis activity per tumour by site, with the rule's threshold.",
                             plot="activity"),
                   ctx.image("patients_figure", "Per patient: the axis score in the primary and in the metastasis.",
                             plot="changes"),
                   ctx.image("patients_figure", "Associations of the axis scores with the configured covariates "
                             "(effect, 95% CI; filled: padj < 0.05).", plot="associations"),
                   ctx.image("patients_figure", "Kaplan-Meier curves by axis activity (one sample per patient; the "
                             "Cox models are in the Patients section of the rationale).", plot="survival")]
    return section("targets", "4. Target axes and therapy rationale", blocks)


def geneset_rows(genesets: Mapping[str, dict]) -> pd.DataFrame:
    """One row per collection from the gathered manifests: source, size, dates, licences and credits."""
    rows = []
    for name, manifest in genesets.items():
        source = manifest.get("source", {})
        shipped = source.get("manifest", {}) or {}
        data_sources = shipped.get("data_sources", {}) or {}
        licences = sorted({str(d.get("licence")) for d in data_sources.values() if d.get("licence")}
                          | ({str(source["licence"])} if source.get("licence") else set()))
        credits = sorted({str(d.get("credit")) for d in data_sources.values() if d.get("credit")}
                         | ({str(source["credit"])} if source.get("credit") else set()))
        dates = [f"{key}: {d.get('release_date')}" for key, d in data_sources.items() if d.get("release_date")]
        dates += [f"{key}: {source[key]}" for key in ("retrieved", "release", "version") if source.get(key)]
        checks = manifest.get("checks", {})
        rows.append({
            "collection": name,
            "source": source.get("file") or source.get("url") or source.get("source", ""),
            "sets": checks.get("n_terms"), "genes": checks.get("n_genes"),
            "genes_in_cohort": checks.get("n_genes_in_cohort"),
            "dates": "; ".join(dates), "licence": "; ".join(licences), "credit": "; ".join(credits),
        })
    return pd.DataFrame(rows)


def methods_section(ctx: ReportContext) -> str:
    de, enrichment = ctx.config["diffexp"], ctx.config["enrichment"]
    contrasts = pd.DataFrame([{"contrast": c["name"], "variable": c["variable"], "target": c["target"],
                               "reference": c["reference"], "design": c.get("design") or ctx.config["design"],
                               "samples": str(c.get("samples") or "all")} for c in ctx.contrasts])
    settings = pd.DataFrame(
        [("diffexp", k, str(v)) for k, v in de.items()]
        + [("enrichment", k, str(v)) for k, v in enrichment.items()]
        + [("seed", "seed", str(ctx.config["seed"]))],
        columns=["section", "key", "value"])
    seeds = "; ".join(f"{k}: {v}" for k, v in ctx.run.get("seed_drives", {}).items())
    blocks = [
        "<p>Differential expression: pydeseq2 (DESeq2 model: median-of-ratios size factors, negative-binomial "
        "GLM with fitted dispersion trend, Wald tests, Benjamini-Hochberg, independent filtering and Cook's "
        "outlier handling as configured, apeGLM-like LFC shrinkage when <code>shrink</code> is on). Genes are "
        f"pre-filtered to at least {de['min_count']} counts in at least "
        + (f"{de['min_samples']} samples" if de.get("min_samples") is not None
           else "as many samples as the smallest group the fit's contrasts compare")
        + ". Enrichment: hypergeometric ORA of the up and down genes against the tested genes, "
        f"and preranked GSEA ({enrichment['gsea_engine']} engine) on the Wald statistic; sets of "
        f"{enrichment['min_size']}-{enrichment['max_size']} genes. Term calls (the comparison's classes): "
        "limma's camera on the variance-stabilised counts with each contrast's design, inter-gene correlation "
        f"estimated from the residuals, FDR &lt; {enrichment.get('term_fdr', 0.05)}; unique and shared are "
        "checked against the direct metastasis-vs-primary contrast when the config has one. Target axes: one "
        "calibrated test per contrast x axis (limma's fry of the axis' genes on the same matrix and design, "
        "Holm across axes x contrasts, an effect floor), repeated with each patient left out; the genes, pathway "
        "and per-sample score evidence lines are reported beside it (<code>config/targets.yaml</code>).</p>",
        f"<p>{AXIS_OPERATING_CHARACTERISTICS}</p>",
        table_html(Table(contrasts, caption="Contrasts and their models."), "methods-contrasts"),
        table_html(Table(settings, caption="Thresholds and settings (resolved config, defaults included)."),
                   "methods-settings"),
        f"<p>Seed {esc(ctx.config['seed'])} drives every random step ({esc(seeds)}); the same inputs and config "
        "give the same tables.</p>",
        "<h3>Gene-set collections</h3>",
        table_html(Table(geneset_rows(ctx.genesets), source=result("provenance", name="genesets.yaml"),
                         caption="Collections with their sources, release dates, licences and credits."),
                   "methods-genesets"),
        "<h3>Software</h3>",
        table_html(Table(ctx.versions, source=result("provenance", name="versions.tsv")), "methods-versions"),
        "<h3>Inputs and command</h3>",
        table_html(Table(ctx.checksums, source=result("provenance", name="checksums.tsv"),
                         caption="Every input with its SHA-256."), "methods-checksums"),
        f"<p>Command: <code>{esc(ctx.run.get('command', 'unknown'))}</code>. The resolved config and the "
        "sample sheet are in <code>results/provenance/</code>.</p>",
    ]
    return section("methods", "5. Methods and provenance", blocks)


def caveats_section(ctx: ReportContext) -> str:
    items = []
    if ctx.simulated:
        items.append("The cohort is simulated (the workflow's embedded demo or test data): the findings show "
                     "what the workflow detects, not biology.")
    if ctx.axes is not None:
        for axis, caveat in ctx.axes.dropna(subset=["caveat"]).drop_duplicates("axis")[["axis", "caveat"]].values:
            items.append(f"{axis}: {caveat}")
    qc = ctx.qc
    if "liver_count_share" in qc:
        flagged = qc[qc["liver_count_share"] >= LIVER_SHARE]
        if len(flagged):
            adjusted = ctx.config["admixture"]["adjust"] and ctx.path("admixture_table").exists()
            items.append(
                f"Liver admixture: {len(flagged)} sample(s) have >= {LIVER_SHARE:.0%} of counts from hepatocyte "
                f"genes (up to {flagged['liver_count_share'].max():.1%}). "
                + ("The host-tissue adjustment took each sample's expected host reads out before the DE fits: "
                   "genes the host makes most of are `host_dominated` (no test) and stay out of enrichment and "
                   "axis evidence (section 1); the unadjusted tables keep them "
                   "(`results/diffexp/unadjusted/`)." if adjusted else
                   "Genes up in liver metastases include normal-liver genes; the DE tables flag them "
                   "(`liver_signature`) and "
                   + ("they are left out of enrichment (`diffexp.exclude_liver_genes`)."
                      if ctx.config['diffexp'].get('exclude_liver_genes')
                      else "they are kept in the enrichment inputs (`diffexp.exclude_liver_genes`).")))
    items.append("Bulk RNA mixes tumour, stroma, vessels and immune cells: an axis that changes shows a tissue-"
                 "level change, not that tumour cells depend on it.")
    items.append("Expression is not drug sensitivity: the rationale ranks drugs by the flagged axes they target, "
                 "and needs functional and clinical evidence before use.")
    return section("caveats", "6. Caveats", ["<ul>" + "".join(f"<li>{inline_markdown(i)}</li>" for i in items)
                                             + "</ul>"])


# ---- the whole report --------------------------------------------------------------------------------------


def is_simulated(sheet: pd.DataFrame) -> bool:
    """Whether the cohort says it is simulated: a sample-sheet column ``simulated`` that is ``yes`` (or ``true``,
    ``1``) for every sample, as the workflow's simulator writes it (``simulate.sample_sheet``)."""
    if "simulated" not in sheet.columns or not len(sheet):
        return False
    return bool(sheet["simulated"].astype(str).str.strip().str.lower().isin(["yes", "true", "1"]).all())


def build_report(results: str | Path, css: str, script: str) -> str:
    """The whole report as one HTML string.

    Parameters
    ----------
    results
        The ``results/`` folder of a finished run (including ``results/provenance/``).
    css, script
        The report's style sheet and its sorting/filtering script, embedded as they are.
    """
    results = Path(results)

    def provenance(name: str) -> Path:
        return Path(result("provenance", root=results, name=name))

    axes_path = result("axes_table", root=results)
    qc = read_table(result("qc_samples", root=results)).set_index("sample")
    ctx = ReportContext(
        results=results,
        config=yaml.safe_load(provenance("config.yaml").read_text()),
        versions=read_table(provenance("versions.tsv")),
        checksums=read_table(provenance("checksums.tsv")),
        genesets=yaml.safe_load(provenance("genesets.yaml").read_text()) or {},
        run=yaml.safe_load(provenance("run.yaml").read_text()) or {},
        simulated=is_simulated(qc),
        qc=qc,
        axes=read_table(axes_path) if Path(axes_path).exists() else None,
    )
    title = (ctx.config.get("report") or {}).get("title") or "Drug-target rationale from tumour RNA-seq"
    sections = [cohort_section(ctx), diffexp_section(ctx), enrichment_section(ctx), targets_section(ctx),
                methods_section(ctx), caveats_section(ctx)]
    nav = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in [
        ("cohort", "Question and cohort"), ("diffexp", "Differential expression"), ("enrichment", "Enrichment"),
        ("targets", "Target axes and rationale"), ("methods", "Methods"), ("caveats", "Caveats")])
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{css}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p>Contrasts: {codes(c['name'] for c in ctx.contrasts)}; "
            f"collections: {codes(ctx.collections)}.</p>"
            f"<nav><ol>{nav}</ol></nav></header><main>" + "\n".join(sections)
            + f"</main><script>{script}</script></body></html>\n")


def write_report(results: str | Path, css_path: str | Path, script_path: str | Path, out: str | Path) -> None:
    """Build the report and write it atomically to ``out``."""
    text = build_report(results, Path(css_path).read_text(), Path(script_path).read_text())
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    LOG.info("report: %d bytes, %d images, %d tables", len(text.encode()), text.count("<img "),
             text.count('<table class="data'))
