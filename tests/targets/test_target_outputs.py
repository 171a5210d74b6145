"""What the rules call (``targets.outputs``): the files of rules ``axis_scores`` and ``targets``, and the import
layout of the stage (computing modules never load the figures or scanpy)."""

from __future__ import annotations

import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
from axis_inputs import MET, PRIM, THRESHOLDS, de_table, gsea_table
from conftest import REPO
from target_rationale.cohort.design import Contrast
from target_rationale.targets.config import Axis, Drug, FlagRule, Targets
from target_rationale.targets.flags import AXES_COLUMNS, axes_table
from target_rationale.targets.outputs import write_targets
from target_rationale.targets.rationale import rationale, rationale_markdown
from target_rationale.targets.scores import write_scores

TARGETS = Targets(axes={"MET": Axis("MET", ("MET",), ("HGF",), terms=("GO:0048012",)),
                        "EGFR": Axis("EGFR", ("EGFR",), ("EGF",))},
                  drugs={"crizotinib": Drug("crizotinib", ("MET", "ALK"))}, flag=FlagRule.from_config(),
                  metastasis=MET, primary=PRIM, metastasis_vs_primary=None)


def test_write_scores_puts_the_axis_scores_next_to_the_sample_sheet(tmp_path) -> None:
    rng = np.random.default_rng(0)
    n_genes = 200
    symbols = ["MET", "HGF", "EGFR", "EGF"] + [f"G{i}" for i in range(4, n_genes)]
    obs = pd.DataFrame({"site": ["a", "b"] * 3, "library_size": 1e6, "size_factor": 1.0},
                       index=[f"s{i}" for i in range(6)])
    qc = ad.AnnData(X=np.zeros((6, n_genes)), obs=obs,
                    var=pd.DataFrame({"symbol": symbols}, index=[f"ENSG{i:05d}" for i in range(n_genes)]))
    qc.layers["vst"] = rng.uniform(2, 12, n_genes) + rng.normal(0, 0.3, (6, n_genes))
    table = write_scores(qc, TARGETS, seed=0, out_scores=str(tmp_path / "scores.tsv"))
    written = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert list(written.columns) == ["sample", "site", "MET", "EGFR"]  # derived QC columns left out
    assert list(written["sample"]) == list(qc.obs_names) and list(table.index) == list(qc.obs_names)
    assert written[["MET", "EGFR"]].notna().all().all()


def test_write_targets_writes_the_tables_and_the_markdown_it_computes(tmp_path) -> None:
    de = {PRIM: de_table({"MET": (0.1, 0.9), "HGF": (0.2, 0.8), "EGFR": (1.0, 0.01), "EGF": (1.1, 0.01)}),
          MET: de_table({"MET": (2.0, 1e-6), "HGF": (1.5, 1e-4), "EGFR": (1.0, 0.01), "EGF": (1.1, 0.01)})}
    gsea = {(MET, "GO_BP"): gsea_table([("GO:0048012", 2.0, 0.001, "MET;HGF")]),
            (PRIM, "GO_BP"): gsea_table([("GO:0048012", 0.3, 0.9, "MET")])}
    samples = [f"p{i}" for i in range(3)] + [f"m{i}" for i in range(3)] + [f"n{i}" for i in range(3)]
    scores = pd.DataFrame({"site": ["primary"] * 3 + ["liver_metastasis"] * 3 + ["normal"] * 3,
                           "MET": [0.0, 0.1, -0.1, 2.0, 2.1, 1.9, 0.0, 0.1, -0.1],
                           "EGFR": [1.0, 1.1, 0.9, 1.0, 1.1, 0.9, 0.0, 0.1, -0.1]},
                          index=pd.Index(samples, name="sample"))
    contrasts = [Contrast(PRIM, "site", "primary", "normal", "~ site"),
                 Contrast(MET, "site", "liver_metastasis", "normal", "~ site")]
    out = {key: str(tmp_path / f"{key}.tsv") for key in ("axes", "genes", "rationale")}
    out["markdown"] = str(tmp_path / "rationale.md")
    table = write_targets(de, gsea, {}, TARGETS, scores, contrasts, alpha=0.05, pathway_fdr=0.25, ora_fdr=0.05,
                          liver_genes=set(), out=out)
    expected = axes_table(de, gsea, {}, TARGETS, scores=scores[["MET", "EGFR"]], sheet=scores[["site"]],
                          contrasts=contrasts, **THRESHOLDS)
    pd.testing.assert_frame_equal(table, expected)
    assert list(pd.read_csv(out["axes"], sep="\t").columns) == AXES_COLUMNS
    assert len(pd.read_csv(out["genes"], sep="\t")) == 8
    assert pd.read_csv(out["rationale"], sep="\t")[["therapy", "covers"]].values.tolist() == [["crizotinib", "MET"]]
    assert (tmp_path / "rationale.md").read_text() == rationale_markdown(table, rationale(table, TARGETS), TARGETS)
    # the patient stage's summary becomes the rationale's Patients section
    write_targets(de, gsea, {}, TARGETS, scores, contrasts, alpha=0.05, pathway_fdr=0.25, ora_fdr=0.05,
                  liver_genes=set(), out=out, patients="## Patients\n\n- EGFR: active in 3/5.\n")
    text = (tmp_path / "rationale.md").read_text()
    assert text.endswith("\n## Patients\n\n- EGFR: active in 3/5.\n")
    assert text.index("## Caveats") < text.index("## Patients")


def test_computing_modules_load_neither_the_figures_nor_scanpy() -> None:
    code = ("import sys\n"
            "import target_rationale.targets.outputs\n"
            "print(sorted(m for m in ('target_rationale.targets.plots', 'matplotlib', 'scanpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=REPO / "workflow" / "scripts")
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
