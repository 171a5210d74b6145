"""Tests of the cohort simulator (simulate) and of the shipped simulated cohorts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulate import (
    HEPATOCYTE_CORE_GENES,
    TARGET_AXIS_GENES,
    CohortDesign,
    Subsample,
    demo_design,
    pnen_programmes,
    prepare_gene_table,
    sample_sheet,
    simulate_cohort,
    tiny_design,
)

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "data"
DEMO = REPO / "resources" / "demo"
GENE_MAP = REPO / "resources" / "gene_ids" / "hs_gene_id_map.tsv.gz"
GO_BP = REPO / "resources" / "genesets" / "go_bp.gmt.gz"
COHORT_FILES = ("counts.tsv.gz", "samples.tsv", "truth_genes.tsv", "truth_programmes.tsv", "truth_samples.tsv",
                "README.md")


@pytest.fixture(scope="module")
def universe() -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """A synthetic gene universe: every hand-picked symbol plus 1,500 made-up genes, and made-up GO sets."""
    named = sorted({g for p in pnen_programmes() for g in p.core_genes} | set(TARGET_AXIS_GENES)
                   | set(HEPATOCYTE_CORE_GENES))
    symbols = named + [f"GENE{i:04d}" for i in range(1500)]
    genes = pd.DataFrame({"gene_id": [f"ENSG{i:011d}" for i in range(len(symbols))], "symbol": symbols})
    filler = [f"GENE{i:04d}" for i in range(1500)]
    sets = {}
    for k, prog in enumerate(pnen_programmes()):
        for term in prog.go_ids[:1]:
            sets[term] = filler[k * 60:(k + 1) * 60] + list(prog.core_genes[:2])
    return genes, sets


def test_prepare_gene_table_one_id_per_symbol():
    gene_map = pd.DataFrame({
        "ensembl_gene_id": ["ENSG00000000002", "ENSG00000000001", "ENSG00000000003", "ENSG00000000003",
                            "ENSG00000000004.5", "ENSG00000000005"],
        "entrez_id": ["1", "2", "3", "4", "5", "6"],
        "symbol": ["AAA", "AAA", "BBB-AS1-CCC", "CCC", "DDD", "EEE"],
        "gene_type": ["protein-coding"] * 5 + ["ncRNA"],
    })
    table = prepare_gene_table(gene_map)
    assert table.to_dict("list") == {"gene_id": ["ENSG00000000001", "ENSG00000000003", "ENSG00000000004"],
                                     "symbol": ["AAA", "CCC", "DDD"]}


def _small_design(**kwargs: object) -> CohortDesign:
    all3 = ("normal_pancreas", "primary", "liver_metastasis")
    return CohortDesign(name="test", patients=tuple((f"T{i}", all3) for i in range(1, 4)),
                        programmes=pnen_programmes(), **kwargs)  # type: ignore[arg-type]


def test_same_seed_identical_output(universe):
    genes, sets = universe
    a = simulate_cohort(genes, sets, _small_design(), seed=3)
    b = simulate_cohort(genes, sets, _small_design(), seed=3)
    pd.testing.assert_frame_equal(a.counts, b.counts)
    pd.testing.assert_frame_equal(a.truth_genes, b.truth_genes)
    pd.testing.assert_frame_equal(a.truth_programmes, b.truth_programmes)
    pd.testing.assert_frame_equal(a.truth_samples, b.truth_samples)


def test_different_seed_different_output(universe):
    genes, sets = universe
    a = simulate_cohort(genes, sets, _small_design(), seed=3)
    b = simulate_cohort(genes, sets, _small_design(), seed=4)
    assert not a.counts.equals(b.counts)
    assert not a.truth_genes["gene_id"].equals(b.truth_genes["gene_id"])


def test_shapes_and_columns(universe):
    genes, sets = universe
    sim = simulate_cohort(genes, sets, _small_design(), seed=1)
    assert sim.counts.shape == (len(genes), 9)
    assert sim.counts.index.name == "gene_id"
    assert sim.counts.index.is_monotonic_increasing
    assert list(sim.counts.columns) == sim.samples["sample"].tolist()
    assert sim.counts.dtypes.map(pd.api.types.is_integer_dtype).all()
    assert (sim.counts.to_numpy() >= 0).all()
    assert list(sim.samples.columns) == ["sample", "patient", "site", "batch", "simulated"]
    assert list(sim.truth_genes.columns[:6]) == ["gene_id", "symbol", "programme", "lfc_primary_vs_normal",
                                                 "lfc_liver_met_vs_normal", "lfc_liver_met_vs_primary"]
    assert {"programme", "source", "groups", "direction", "mean_lfc_primary", "mean_lfc_liver_met",
            "n_genes_perturbed", "expected_class"} <= set(sim.truth_programmes.columns)
    ts = sim.truth_samples
    met = ts["site"] == "liver_metastasis"
    assert ts.loc[met, "liver_fraction"].between(0.05, 0.30).all()
    assert (ts.loc[~met, "liver_fraction"] == 0).all()
    assert "liver_fraction" not in sim.samples.columns
    # most genes stay null
    assert len(sim.truth_genes) < 0.5 * len(genes)


def test_subsample_keeps_target_genes(universe):
    genes, sets = universe
    design = _small_design(subsample=Subsample(max_members_per_programme=5, n_null=100, n_null_any=10))
    sim = simulate_cohort(genes, sets, design, seed=2)
    kept = set(genes.set_index("gene_id").loc[sim.counts.index, "symbol"])
    assert set(TARGET_AXIS_GENES) <= kept
    assert len(sim.counts) < len(genes)


@pytest.mark.parametrize("design_fn, n_samples", [(demo_design, 28), (tiny_design, 12)])
def test_designs_full_rank_and_batches_per_patient(design_fn, n_samples):
    sheet = sample_sheet(design_fn())
    assert len(sheet) == n_samples and sheet["sample"].is_unique
    assert sheet["sample"].str.fullmatch(r"[A-Za-z0-9_]+").all()
    x = pd.get_dummies(sheet[["patient", "site"]], drop_first=True, dtype=float)
    x.insert(0, "intercept", 1.0)
    assert np.linalg.matrix_rank(x.to_numpy()) == x.shape[1]
    assert (sheet.groupby("patient")["batch"].nunique() == 1).all()
    assert (sheet.groupby("batch")["site"].nunique() == 3).all()


# ---- shipped cohorts ----------------------------------------------------------------------------------------------


def _load(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    counts = pd.read_csv(folder / "counts.tsv.gz", sep="\t", index_col="gene_id")
    samples = pd.read_csv(folder / "samples.tsv", sep="\t")
    truth = pd.read_csv(folder / "truth_genes.tsv", sep="\t")
    return counts, samples, truth


def _log_norm(counts: pd.DataFrame) -> pd.DataFrame:
    """log2 counts normalised by median-of-ratios size factors (DESeq2 style), pseudo-count 1."""
    pos = (counts > 0).all(axis=1)
    logc = np.log(counts[pos])
    sf = np.exp((logc.sub(logc.mean(axis=1), axis=0)).median())
    return np.log2(counts.div(sf, axis=1) + 1)


def test_tiny_cohort_files():
    assert sum((TINY / f).stat().st_size for f in COHORT_FILES) < 100_000
    counts, samples, truth = _load(TINY)
    assert 300 <= len(counts) <= 500
    assert list(counts.columns) == samples["sample"].tolist()
    assert samples["site"].value_counts().to_dict() == {"normal_pancreas": 4, "primary": 4, "liver_metastasis": 4}
    assert counts.index.str.fullmatch(r"ENSG\d{11}").all()
    assert set(truth["gene_id"]) <= set(counts.index)
    assert counts.mean(axis=1).median() > 100
    if GENE_MAP.exists():
        gene_map = pd.read_csv(GENE_MAP, sep="\t", dtype=str)
        symbols = set(gene_map.loc[gene_map["ensembl_gene_id"].isin(counts.index), "symbol"])
        assert set(TARGET_AXIS_GENES) <= symbols


def test_tiny_planted_signs_recovered():
    counts, samples, truth = _load(TINY)
    lg = _log_norm(counts)
    site_mean = lg.T.groupby(samples.set_index("sample")["site"]).mean().T
    truth = truth.set_index("gene_id")
    tumour = truth[~truth["programme"].str.contains("liver_admixture")]
    for col, num, den in [("lfc_primary_vs_normal", "primary", "normal_pancreas"),
                          ("lfc_liver_met_vs_normal", "liver_metastasis", "normal_pancreas"),
                          ("lfc_liver_met_vs_primary", "liver_metastasis", "primary")]:
        strong = tumour[(tumour[col].abs() >= 1.5) & (tumour["baseline_log2cpm"] > 2)]
        assert len(strong) >= 8, col
        observed = site_mean.loc[strong.index, num] - site_mean.loc[strong.index, den]
        agree = (np.sign(observed) == np.sign(strong[col])).mean()
        assert agree >= 0.95, (col, agree)


def test_tiny_liver_genes_higher_in_metastases():
    counts, samples, truth = _load(TINY)
    lg = _log_norm(counts)
    liver = truth.loc[truth["programme"].str.contains("liver_admixture"), "gene_id"]
    assert len(liver) >= 15
    assert (truth.loc[truth["gene_id"].isin(liver), "lfc_liver_met_vs_primary"] == 0).all()
    site = samples.set_index("sample")["site"]
    for patient, grp in samples.groupby("patient"):
        s = grp.set_index("site")["sample"]
        assert (lg.loc[liver, s["liver_metastasis"]] > lg.loc[liver, s["primary"]] + 2).all(), patient
    assert site.nunique() == 3


def test_demo_cohort_files():
    samples = pd.read_csv(DEMO / "samples.tsv", sep="\t")
    assert list(samples.columns) == ["sample", "patient", "site", "batch", "simulated", "high_glycosylation",
                                     "os_months", "os_event"]  # the patient layer's clinical columns
    assert (samples["simulated"] == "yes").all()  # the report reads it
    assert samples["site"].value_counts().to_dict() == {"primary": 12, "liver_metastasis": 12,
                                                        "normal_pancreas": 4}
    assert (DEMO / "counts.tsv.gz").stat().st_size < 3_000_000
    with __import__("gzip").open(DEMO / "counts.tsv.gz", "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
    assert header == ["gene_id", *samples["sample"]]
    assert "SIMULATED" in (DEMO / "README.md").read_text()
    programmes = pd.read_csv(DEMO / "truth_programmes.tsv", sep="\t").set_index("programme")
    assert programmes.loc["egfr_axis", "expected_class"] == "unique:liver_met_vs_normal"
    assert programmes.loc["liver_admixture", "expected_class"] == "artefact:liver_admixture"
    assert programmes.loc["exocrine_admixture", "expected_class"] == "artefact:exocrine_admixture"
    # the host model: per-sample host fractions in truth_samples, a compact per-gene host truth (no sample matrix)
    truth = pd.read_csv(DEMO / "truth_samples.tsv", sep="\t").set_index("sample")
    met, primary = truth["site"] == "liver_metastasis", truth["site"] == "primary"
    assert truth.loc[met, "liver_fraction"].between(0.05, 0.30).all() and (truth.loc[~met, "liver_fraction"] == 0).all()
    assert truth.loc[primary, "exocrine_fraction"].between(0.0, 0.20).all()
    host = pd.read_csv(DEMO / "truth_host_genes.tsv.gz", sep="\t")
    gene_ids = pd.read_csv(DEMO / "counts.tsv.gz", sep="\t", usecols=["gene_id"])["gene_id"]
    assert host["gene_id"].tolist() == gene_ids.tolist()
    assert not set(samples["sample"]) & set(host.columns)
    assert sum(p.stat().st_size for p in DEMO.iterdir()) < 3_000_000


@pytest.mark.skipif(not (GENE_MAP.exists() and GO_BP.exists()), reason="repository gene resources not built")
def test_tiny_cohort_regenerates_byte_identical(tmp_path):
    spec = importlib.util.spec_from_file_location("make_cohorts", REPO / "resources" / "demo" / "make_cohorts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--preset", "tiny", "--out", str(tmp_path)]) == 0
    for name in COHORT_FILES:
        new, old = (tmp_path / name).read_bytes(), (TINY / name).read_bytes()
        if name == "README.md":
            new = new.replace(str(tmp_path).encode(), b"tests/data")
        assert new == old, f"{name} differs: regenerate with resources/demo/make_cohorts.py --preset tiny"
