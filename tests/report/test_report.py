"""The HTML report, the provenance files and `snakemake --report`: content checked against the tables."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_CONFIG, require, run_workflow
from target_rationale.paths import result
from target_rationale.report.answer import glance_html
from target_rationale.report.html import (
    ReportContext,
    build_report,
    de_summary,
    geneset_rows,
    glance,
    make_up_sentence,
    qc_flags,
)
from target_rationale.report.measured import HOST_TISSUE_ENRICHMENT
from target_rationale.report.render import Table, format_cell, markdown_to_html, table_html

ASSETS = REPO / "workflow" / "report" / "html"
#: Where the browser test leaves its screenshot (kept after the run; ignored by git).
ARTEFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def read_report(run: Path) -> str:
    return (run / "results" / "report" / "report.html").read_text(encoding="utf-8")


# ---- pure functions, hand-computed cases ----------------------------------------------------------------


def test_qc_flags_follow_the_documented_thresholds() -> None:
    qc = pd.DataFrame({"library_size": [30e6, 30e6, 9e6, 30e6, 30e6],
                       "detected_genes": [18000, 18000, 18000, 14000, 18000],
                       "liver_count_share": [0.0, 0.0, 0.0, 0.0, 0.012]},
                      index=["a", "b", "small", "few", "liver"])
    flags = qc_flags(qc)
    assert flags["a"] == "" and flags["b"] == ""
    assert flags["small"].startswith("small library")  # 9e6 < 30e6 / 3
    assert flags["few"].startswith("few detected genes")  # 14000 < 0.8 * 18000
    assert flags["liver"] == "liver admixture (1.2% of counts)"


def test_de_summary_counts_by_hand() -> None:
    table = pd.DataFrame({"padj": [0.01, 0.2, 0.04, None, 0.001],
                          "log2FoldChange": [2.0, 5.0, -0.5, 3.0, -1.5]})
    contrast = {"name": "t_vs_r", "variable": "site", "target": "t", "reference": "r"}
    row = de_summary({"t_vs_r": table}, [contrast], alpha=0.05, lfc_min=1.0).iloc[0]
    assert (row["genes"], row["tested"], row["up"], row["down"]) == (5, 4, 1, 2)
    assert (row["up_strong"], row["down_strong"]) == (1, 1)


def test_table_html_escapes_sorts_numbers_and_shows_ids_on_hover() -> None:
    frame = pd.DataFrame({"symbol": ["<b>X</b>", "EGFR"], "gene_id": ["id<1>", "ENSG00000146648"],
                          "padj": [1e-30, 0.5]})
    text = table_html(Table(frame, hover={"symbol": "gene_id"}), "t")
    assert "<b>X</b>" not in text and "&lt;b&gt;X&lt;/b&gt;" in text
    assert '<abbr title="ENSG00000146648">EGFR</abbr>' in text
    assert "<th scope=\"col\" title=\"click to sort\">gene_id</th>" not in text  # hover column not shown
    assert 'data-sort="1e-30"' in text and 'data-sort="0.5"' in text
    assert format_cell(float("nan")) == ("", "") and format_cell(1234567) == ("1\u2009234\u2009567", "1234567")


def test_markdown_renders_lists_headings_and_code() -> None:
    text = markdown_to_html("# Title\n\n- a `x`\n- b\n\n1. one\n3. three\n\nplain <text>")
    assert text.splitlines() == ["<h4>Title</h4>", "<ul>", "<li>a <code>x</code></li>", "<li>b</li>", "</ul>",
                                 "<ol>", '<li value="1">one</li>', '<li value="3">three</li>', "</ol>",
                                 "<p>plain &lt;text&gt;</p>"]


def test_geneset_rows_carry_dates_licences_and_credits() -> None:
    shipped = {"source": {"file": "resources/genesets/go_bp.gmt.gz", "manifest": {"data_sources": {
        "gene_ontology": {"release_date": "2022-07-01", "licence": "CC BY 4.0", "credit": "GO Consortium"},
        "ncbi_gene": {"licence": "public domain", "credit": "NCBI Gene"}}}},
        "checks": {"n_terms": 12, "n_genes": 40, "n_genes_in_cohort": 30}}
    online = {"source": {"source": "msigdb", "url": "https://x/h.all.gmt", "licence": "CC BY 4.0",
                         "retrieved": "2026-01-02"}, "checks": {"n_terms": 50}}
    rows = geneset_rows({"GO_BP": shipped, "Hallmark": online}).set_index("collection")
    assert rows.loc["GO_BP", "dates"] == "gene_ontology: 2022-07-01"
    assert rows.loc["GO_BP", "licence"] == "CC BY 4.0; public domain"
    assert rows.loc["GO_BP", "credit"] == "GO Consortium; NCBI Gene"
    assert (rows.loc["GO_BP", "sets"], rows.loc["GO_BP", "genes_in_cohort"]) == (12, 30)
    assert rows.loc["Hallmark", "source"] == "https://x/h.all.gmt"
    assert rows.loc["Hallmark", "dates"] == "retrieved: 2026-01-02"


# ---- the report of the tiny-cohort run ----------------------------------------------------------------------


@pytest.mark.workflow
def test_report_is_self_contained_and_in_order(tiny_run: Path) -> None:
    text = read_report(tiny_run)
    # Offline: no external resource (scripts, styles, images, fonts) anywhere in the file.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "<link" not in text
    images = re.findall(r'<img src="data:image/png;base64,', text)
    # 3 QC + 3 volcanoes + 3 contrasts x 1 collection GSEA dots + 1 comparison heatmap + 3 target plots.
    assert len(images) == 3 + 1 + 3 + 3 + 1 + 3 + 4  # QC, host, volcanoes, GSEA dots, heatmap, targets, patients
    headings = re.findall(r'<section id="(\w+)">', text)
    assert headings == ["cohort", "diffexp", "enrichment", "targets", "methods", "caveats"]
    assert "Simulated cohort." in text  # the tiny cohort's sample sheet says it is simulated
    # host-adjusted contrasts (the default): the enrichment section says what GSEA and ORA are worth under host
    enrichment = re.search(r'<section id="enrichment">(.*?)</section>', text, re.S).group(1)
    assert HOST_TISSUE_ENRICHMENT in enrichment


@pytest.mark.workflow
def test_report_numbers_match_the_result_tables(tiny_run: Path) -> None:
    text = read_report(tiny_run)
    results = tiny_run / "results"
    summary = re.search(r'id="de-summary".*?<tbody>(.*?)</tbody>', text, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", summary)
    for contrast, row in zip(["primary_vs_normal", "liver_met_vs_normal", "liver_met_vs_primary"], rows):
        table = pd.read_csv(results / "diffexp" / f"{contrast}.tsv", sep="\t")
        significant = table["padj"] < 0.05
        up = int((significant & (table["log2FoldChange"] > 0)).sum())
        down = int((significant & (table["log2FoldChange"] < 0)).sum())
        keys = re.findall(r'data-sort="([^"]*)"', row)
        assert row.startswith(f"<td>{contrast}</td>")
        assert keys[:4] == [str(len(table)), str(int(table["padj"].notna().sum())), str(up), str(down)]
    # Every sample is listed with its liver share; flagged samples say so.
    qc = pd.read_csv(results / "qc" / "samples.tsv", sep="\t")
    for sample, share in zip(qc["sample"], qc["liver_count_share"]):
        assert f"<td>{sample}</td>" in text
        assert (f"liver admixture ({share:.1%} of counts)" in text) == (share >= 0.01)
    # The at-a-glance answer agrees with the axis table and the ranked rationale.
    axes = pd.read_csv(results / "targets" / "axes.tsv", sep="\t")
    judged = axes.dropna(subset=["unique"])
    best = pd.read_csv(results / "targets" / "rationale.tsv", sep="\t").iloc[0]
    glance = re.search(r"<div class='glance'>.*?</div>", text, re.S).group(0)
    for row in judged[judged["flag"] != "none"].itertuples():
        assert f"<strong>{row.axis}</strong> {row.flag}" in glance
    assert f"<strong>{best['therapy']}</strong>" in glance
    # Top DE genes show their symbol with the Ensembl id on hover.
    top = pd.read_csv(results / "diffexp" / "liver_met_vs_normal.tsv", sep="\t").iloc[0]
    assert f'<abbr title="{top["gene_id"]}">{top["symbol"]}</abbr>' in text


@pytest.mark.workflow
def test_provenance_records_inputs_versions_and_command(tiny_run: Path) -> None:
    folder = tiny_run / "results" / "provenance"
    checksums = pd.read_csv(folder / "checksums.tsv", sep="\t").set_index("input")
    for role, path in [("counts", "tests/data/counts.tsv.gz"), ("samples", "tests/data/samples.tsv"),
                       ("genesets:GO_BP", "resources/genesets/go_bp.gmt.gz")]:
        assert checksums.loc[role, "sha256"] == hashlib.sha256((REPO / path).read_bytes()).hexdigest()
    versions = pd.read_csv(folder / "versions.tsv", sep="\t", dtype=str).set_index("software")["version"]
    for package in ("pydeseq2", "gseapy", "scanpy", "snakemake"):
        assert versions[package] == metadata.version(package)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["seed"] == 42 and config["diffexp"]["alpha"] == 0.05  # resolved: defaults filled in
    assert (folder / "samples.tsv").read_bytes() == (REPO / "tests" / "data" / "samples.tsv").read_bytes()
    run = yaml.safe_load((folder / "run.yaml").read_text())
    assert run["command"].startswith("python -m snakemake ") and "--cores 2" in run["command"]
    assert set(yaml.safe_load((folder / "genesets.yaml").read_text())) == {"GO_BP"}
    text = read_report(tiny_run)
    assert checksums.loc["counts", "sha256"] in text and run["command"].replace("'", "&#x27;") in text
    assert "2022-07-01" in text and "CC BY 4.0" in text  # GO release date and licence


@pytest.mark.workflow
def test_report_of_a_real_cohort_has_no_simulation_warning(tiny_run: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(tiny_run / "results", results)
    qc = results / "qc" / "samples.tsv"
    qc.write_text(pd.read_csv(qc, sep="\t", dtype=str).drop(columns="simulated").to_csv(sep="\t", index=False))
    text = build_report(results, "", "")
    assert "Simulated cohort." not in text and "simulated" not in text.split('id="caveats"')[1]


@pytest.mark.workflow
def test_the_report_asks_the_configured_question(tiny_run: Path, tmp_path: Path) -> None:
    """The built-in question names no disease or trial (the tiny config sets none); `report.question` replaces
    it (the demo config asks the pNEN trial's)."""
    text = read_report(tiny_run)
    assert "Which of the configured target axes are changed" in text and "NCT06592989" not in text
    results = tmp_path / "results"
    shutil.copytree(tiny_run / "results", results)
    config_path = results / "provenance" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    question = "Is FGFR up in `colorectal` liver metastases & why?"
    config["report"] = {**(config.get("report") or {}), "question": question}
    config_path.write_text(yaml.safe_dump(config))
    asked = build_report(results, "", "")
    assert "Is FGFR up in <code>colorectal</code> liver metastases &amp; why?" in asked  # escaped, `code` kept
    assert "Which of the configured target axes" not in asked
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert "NCT06592989" in demo["report"]["question"]


@pytest.mark.workflow
def test_snakemake_report_collects_every_category(tiny_run: Path, tmp_path: Path) -> None:
    result = run_workflow(tiny_run, TEST_CONFIG, "--report", str(tmp_path / "report.zip"))
    assert result.returncode == 0, result.stderr[-3000:]
    archive = zipfile.ZipFile(tmp_path / "report.zip")
    names = archive.namelist()
    index = archive.read("report/report.html").decode()
    categories = sorted({m for path in (REPO / "workflow" / "rules").glob("*.smk")
                         for m in re.findall(r'(?<!sub)category="([^"]+)"', path.read_text())})
    assert len(categories) == 10
    for category in categories:
        assert category in index, category
    for data_file in ["report.html", "rationale.md", "liver_met_vs_normal.tsv", "pca.png", "GO_BP.tsv"]:
        assert any(name.startswith("report/data/") and name.endswith("/" + data_file) for name in names), data_file


# ---- the report in a real browser -------------------------------------------------------------------------

BEFORE = """<script>window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
(function () { const original = console.error; console.error = function () {
  window.__errors.push(Array.from(arguments).join(" ")); original.apply(console, arguments); }; })();
</script>"""

#: Runs after the report's own script: checks images, sorts and filters a table, writes the outcome to the DOM.
HARNESS = """<script>
window.addEventListener("load", function () {
  const out = {errors: window.__errors};
  const images = Array.from(document.images);
  out.images = images.length;
  out.broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  const block = document.getElementById("samples");
  const table = block.querySelector("table.data");
  const headers = Array.from(table.tHead.rows[0].cells);
  const column = headers.findIndex(function (h) { return h.textContent.trim() === "library_size"; });
  function values() { return Array.from(table.tBodies[0].rows).map(function (r) {
    return parseFloat(r.cells[column].getAttribute("data-sort")); }); }
  out.before = values();
  headers[column].click(); out.ascending = values();
  headers[column].click(); out.descending = values();
  const input = block.querySelector("input.filter");
  input.value = "T2_"; input.dispatchEvent(new Event("input"));
  out.visible = Array.from(table.tBodies[0].rows).filter(function (r) { return !r.hidden; })
    .map(function (r) { return r.cells[0].textContent; });
  out.count = block.querySelector(".count").textContent;
  document.body.setAttribute("data-harness", JSON.stringify(out));
});
</script>"""


def chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.mark.workflow
def test_report_renders_in_headless_chromium(tiny_run: Path, tmp_path: Path) -> None:
    require(CHROMIUM is not None, "the browser test needs Chromium (Debian package `chromium`; .ci/run installs it)")
    text = read_report(tiny_run)
    page = tmp_path / "report_under_test.html"
    page.write_text(text.replace("<head>", "<head>" + BEFORE, 1).replace("</body>", HARNESS + "</body>", 1))
    result = chromium("--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'data-harness="([^"]*)"', result.stdout)
    assert found, "the harness did not run: " + result.stderr[-2000:]
    out = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert out["errors"] == []
    assert not re.search(r"CONSOLE.*(Uncaught|Error)", result.stderr)
    assert out["images"] == 18 and out["broken"] == 0
    assert out["ascending"] == sorted(out["before"]) and out["descending"] == sorted(out["before"], reverse=True)
    samples = pd.read_csv(REPO / "tests" / "data" / "samples.tsv", sep="\t")["sample"]
    expected = [s for s in samples if s.startswith("T2_")]
    assert sorted(out["visible"]) == sorted(expected) and out["count"] == f"{len(expected)} of 12 rows match"
    # The screenshot a developer can look at (and CI can keep).
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "report.png"
    shot.unlink(missing_ok=True)
    result = chromium("--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
                      (tiny_run / "results" / "report" / "report.html").as_uri())
    assert result.returncode == 0 and shot.stat().st_size > 50_000


def test_make_up_sentence_lists_fitted_weights_and_names_a_host_left_at_its_tissue() -> None:
    got = make_up_sentence({"liver": {"liver": 0.12, "hepatocytes": 0.82, "kupffer_cells": 0.014,
                                      "fibroblasts": 0.001},
                            "exocrine_pancreas": {"pancreas": 1.0}})
    assert got == ("Host make-up fitted on this cohort (weights of reference profiles): exocrine pancreas: the "
                   "reference's tissue profile (the samples could not tell better: too few, fractions too close "
                   "together, or no better fit); liver: hepatocytes 0.82, liver 0.12, kupffer cells 0.01.")
    fitted_alone = make_up_sentence({"liver": {"hepatocytes": 1.0}})  # one profile, not the tissue: fitted
    assert fitted_alone.endswith("liver: hepatocytes 1.00.")
    assert make_up_sentence({}) == ""


def test_glance_names_no_therapy_when_none_covers_a_flagged_axis(tmp_path: Path) -> None:
    """An axis flagged down only: the ranking's first row covers 0 of 0 axes flagged up, and the answer says no
    therapy is named instead of calling it the best-covering one; with an axis up and covered it is named."""
    axes = pd.DataFrame({"contrast": ["met", "prim"], "axis": ["EGFR", "EGFR"], "flag": ["down", "none"],
                         "unique": ["unique", None]})
    ranked = pd.DataFrame({"rank": [1], "therapy": ["gefitinib"], "n_covered": [0], "n_flagged": [0],
                           "covers": [""]})
    table = Path(result("rationale_table", root=tmp_path / "results"))
    table.parent.mkdir(parents=True)
    ranked.to_csv(table, sep="\t", index=False)
    ctx = ReportContext(results=tmp_path / "results", config={}, versions=pd.DataFrame(),
                        checksums=pd.DataFrame(), genesets={}, run={}, simulated=False, qc=pd.DataFrame(), axes=axes)
    text = " ".join(glance(ctx))
    assert "no therapy is named" in text and "gefitinib" not in text
    ranked.assign(n_covered=1, n_flagged=1, covers="EGFR").to_csv(table, sep="\t", index=False)
    ctx.axes.loc[0, "flag"] = "up"
    assert "Best-covering therapy: <strong>gefitinib</strong> (covers 1 of 1" in " ".join(glance(ctx))


def test_glance_says_when_nothing_is_unique_and_what_the_direct_contrast_flags() -> None:
    """Axes flagged in the metastasis contrast but none unique: the box says so, and names what the direct
    metastasis-vs-primary contrast flags (the demo's EGFR there), or that it flags nothing."""
    axes = pd.DataFrame({"contrast": ["met", "met", "prim", "direct", "direct"],
                         "axis": ["VEGFR", "EGFR", "VEGFR", "VEGFR", "EGFR"],
                         "role": ["metastasis", "metastasis", "primary", "metastasis_vs_primary",
                                  "metastasis_vs_primary"],
                         "flag": ["up", "none", "up", "none", "up"], "unique": ["shared", "none", None, None, None]})
    text = " ".join(glance_html(axes, pd.DataFrame()))
    assert "None of them is unique to this contrast." in text
    assert "Metastases against primaries (<code>direct</code>): <strong>EGFR</strong> up." in text
    axes.loc[0, "unique"], axes.loc[4, "flag"] = "unique", "none"
    text = " ".join(glance_html(axes, pd.DataFrame()))
    assert "None of them" not in text and "(<code>direct</code>): no axis flagged." in text
