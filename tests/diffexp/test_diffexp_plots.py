"""Tests of the shared plot style and the QC / differential-expression figures (synthetic, seeded inputs)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import pdist, squareform
from target_rationale.core import plotting
from target_rationale.diffexp import plots as de_plots
from target_rationale.diffexp import qc_plots

SITES = ["normal_pancreas", "primary", "liver_metastasis"]
TARGETS = ["EGFR", "KDR", "FLT1", "FLT4", "FGFR1", "CSF1R"]
LIVER = ["ALB", "APOA1", "TF", "HP", "FGB"]


# ---------------------------------------------------------------------------------------------- synthetic data

def make_obs(seed: int = 1) -> pd.DataFrame:
    """12 samples: patients P1-P4 x three sites, with library sizes in reads."""
    rng = np.random.default_rng(seed)
    names = [f"P{p}_{s}" for p in range(1, 5) for s in ("normal", "primary", "met")]
    site = {"normal": "normal_pancreas", "primary": "primary", "met": "liver_metastasis"}
    return pd.DataFrame({"site": pd.Categorical([site[n.split("_")[1]] for n in names], categories=SITES),
                         "patient": pd.Categorical([n.split("_")[0] for n in names]),
                         "library_size": rng.integers(8_000_000, 40_000_000, len(names))},
                        index=pd.Index(names, name="sample"))


def make_adata(seed: int = 2, n_genes: int = 300) -> ad.AnnData:
    """Samples x genes with a 'vst' layer: gene baselines + site effects on 60 genes + patient effects + noise."""
    rng = np.random.default_rng(seed)
    obs = make_obs()
    base = rng.normal(8, 2, n_genes)
    site_effect = np.zeros((3, n_genes))
    site_effect[1, :30] = rng.normal(2.5, 0.5, 30)
    site_effect[2, 30:60] = rng.normal(-2.0, 0.5, 30)
    site_code = obs["site"].cat.codes.to_numpy()
    patient_effect = rng.normal(0, 0.3, (4, n_genes))[obs["patient"].cat.codes.to_numpy()]
    vst = base + site_effect[site_code] + patient_effect + rng.normal(0, 0.4, (len(obs), n_genes))
    var = pd.DataFrame(index=pd.Index([f"ENSG{i:011d}" for i in range(n_genes)], name="gene_id"))
    adata = ad.AnnData(X=np.zeros_like(vst), obs=obs, var=var)
    adata.layers["vst"] = vst
    return adata


def make_var(seed: int = 3, n_genes: int = 300) -> pd.DataFrame:
    """A pydeseq2-like ``.var`` with a dispersion trend, a few NaNs and an all-zero gene."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.normal(4, 2, n_genes))
    fitted = 0.04 + 1.5 / mean
    genewise = fitted * np.exp(rng.normal(0, 0.8, n_genes))
    final = np.exp(0.6 * np.log(genewise) + 0.4 * np.log(fitted))
    var = pd.DataFrame({"_normed_means": mean, "genewise_dispersions": genewise, "fitted_dispersions": fitted,
                        "dispersions": final})
    var.iloc[0] = [0.0, np.nan, np.nan, np.nan]
    var.iloc[1, 1] = np.nan
    return var


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    scaled = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return adjusted


def make_table(seed: int = 4, n_genes: int = 300, shrunk: bool = False, liver: bool = True) -> pd.DataFrame:
    """A DE results table: targets and liver genes first, 60 real effects, one p = 0, some padj NaN."""
    rng = np.random.default_rng(seed)
    symbols = TARGETS + LIVER + [f"GENE{i}" for i in range(n_genes - len(TARGETS) - len(LIVER))]
    lfc = rng.normal(0, 0.3, n_genes)
    lfc[:60] += rng.choice([-1, 1], 60) * rng.uniform(1, 4, 60)
    lfc[len(TARGETS):len(TARGETS) + len(LIVER)] = rng.uniform(3, 6, len(LIVER))
    se = rng.uniform(0.25, 0.6, n_genes)
    stat = lfc / se
    pvalue = np.array([math.erfc(abs(z) / math.sqrt(2)) for z in stat])  # two-sided normal p-value
    pvalue[7] = 0.0
    base_mean = np.exp(rng.normal(5, 2, n_genes))
    padj = benjamini_hochberg(pvalue)
    padj[-20:] = np.nan  # independent filtering
    table = pd.DataFrame({"gene_id": [f"ENSG{i:011d}" for i in range(n_genes)], "symbol": symbols,
                          "baseMean": base_mean, "log2FoldChange": lfc, "lfcSE": se, "stat": stat,
                          "pvalue": pvalue, "padj": padj})
    if shrunk:
        table["log2FoldChange_shrunk"] = lfc * 0.8
    if liver:
        table["liver_signature"] = table["symbol"].isin(LIVER)
    return table


def gene_labels(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "gene-label"]


def axes_by_label(fig, label: str):
    return next(ax for ax in fig.axes if ax.get_label() == label)


# ---------------------------------------------------------------------------------------------- colours / style

def test_level_colour_does_not_depend_on_other_levels() -> None:
    full = plotting.level_colors(SITES)
    for subset in (["primary"], ["liver_metastasis", "primary"], ["normal_pancreas", "liver_metastasis"]):
        assert {lvl: full[lvl] for lvl in subset} == plotting.level_colors(subset)
    assert len(set(full.values())) == 3 and set(full.values()) <= set(plotting.OKABE_ITO)
    # other variables: colour by sorted position in the variable's full level set (Categorical categories)
    patients = pd.Categorical(["P1", "P2", "P3", "P4"])
    all_patients = plotting.level_colors(pd.Series(patients))
    only_p3 = plotting.level_colors(pd.Series(pd.Categorical(["P3"], categories=patients.categories)))
    assert only_p3["P3"] == all_patients["P3"]
    assert len(set(all_patients.values())) == 4
    assert plotting.level_colors(["b", "a"]) == plotting.level_colors(["a", "b"])


def test_save_figure_writes_png_and_svg_deterministically(tmp_path: Path) -> None:
    fig = qc_plots.plot_library_sizes(make_obs(), "site")
    plotting.save_figure(fig, tmp_path / "a" / "v.png", tmp_path / "a" / "v.svg")
    plotting.save_figure(fig, tmp_path / "b" / "v.png", tmp_path / "b" / "v.svg")
    png, svg = (tmp_path / "a" / "v.png").read_bytes(), (tmp_path / "a" / "v.svg").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == (tmp_path / "b" / "v.png").read_bytes()
    assert svg == (tmp_path / "b" / "v.svg").read_bytes()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = svg.decode()
    assert "<dc:date>" not in text
    assert "P1_normal" in text  # svg.fonttype none: text stays text
    # a freshly built identical figure gives identical bytes too
    plotting.save_figure(qc_plots.plot_library_sizes(make_obs(), "site"), tmp_path / "c" / "v.png",
                      tmp_path / "c" / "v.svg")
    assert png == (tmp_path / "c" / "v.png").read_bytes()
    assert svg == (tmp_path / "c" / "v.svg").read_bytes()
    # PNG at 150 dpi (pHYs chunk: pixels per metre)
    phys = png[png.index(b"pHYs") + 4: png.index(b"pHYs") + 12]
    assert int.from_bytes(phys[:4], "big") == round(150 / 0.0254)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["v.png", "v.svg"]  # no temporaries left


# ---------------------------------------------------------------------------------------------- QC plots

def test_library_sizes_bars_in_group_then_name_order() -> None:
    obs = make_obs().sample(frac=1, random_state=0)  # order in the table must not matter
    fig = qc_plots.plot_library_sizes(obs, "site")
    ax = fig.axes[0]
    expected = sorted(obs.index, key=lambda s: (SITES.index(obs.at[s, "site"]), s))
    assert [t.get_text() for t in ax.get_xticklabels()] == expected
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, obs.loc[expected, "library_size"] / 1e6)
    colours = plotting.level_colors(SITES)
    assert [to_hex(bar.get_facecolor()) for bar in ax.patches] == [colours[obs.at[s, "site"]].lower()
                                                                   for s in expected]
    assert "million" in ax.get_ylabel()


def test_pca_variance_labels_points_and_colours() -> None:
    import scanpy as sc

    adata = make_adata()
    fig = qc_plots.plot_pca(adata, "vst", ["site", "patient"], seed=0, n_top_genes=100)
    site_ax, patient_ax = fig.axes[:2]

    # independent scanpy run on the 100 most variable genes
    vst = adata.layers["vst"]
    top = np.argsort(-vst.var(axis=0, ddof=1), kind="stable")[:100]
    ref = ad.AnnData(vst[:, np.sort(top)])
    sc.pp.pca(ref, n_comps=11, svd_solver="full", random_state=0, dtype="float64")
    ratio = ref.uns["pca"]["variance_ratio"]
    assert f"PC1 ({ratio[0] * 100:.1f}% variance)" == site_ax.get_xlabel()
    assert f"PC2 ({ratio[1] * 100:.1f}% variance)" == site_ax.get_ylabel()
    assert ratio[0] > 0.3  # the planted site effect dominates

    colours = {"site": plotting.level_colors(adata.obs["site"]), "patient": plotting.level_colors(adata.obs["patient"])}
    for ax, variable in ((site_ax, "site"), (patient_ax, "patient")):
        drawn = {}
        for collection in ax.collections:
            for xy in collection.get_offsets():
                drawn[tuple(np.round(xy, 8))] = to_hex(collection.get_facecolor()[0])
        assert len(drawn) == adata.n_obs
        for i, sample in enumerate(adata.obs_names):
            xy = ref.obsm["X_pca"][i, :2]
            key = next(k for k in drawn if np.allclose(np.abs(k), np.abs(xy), atol=1e-6))  # PC signs are arbitrary
            assert drawn[key] == colours[variable][adata.obs.at[sample, variable]].lower()
    # same site level -> same colour in the PCA and in the library-size bars
    bars = qc_plots.plot_library_sizes(adata.obs, "site").axes[0]
    bar_colour = {t.get_text(): to_hex(b.get_facecolor()) for t, b in zip(bars.get_xticklabels(), bars.patches)}
    for collection in site_ax.collections:
        level = collection.get_label()
        samples = adata.obs_names[adata.obs["site"] == level]
        assert {bar_colour[s] for s in samples} == {to_hex(collection.get_facecolor()[0])}


def test_sample_distances_heatmap_is_reordered_pdist() -> None:
    adata = make_adata()
    fig = qc_plots.plot_sample_distances(adata, "vst", ["site", "patient"])
    heatmap = axes_by_label(fig, "heatmap")
    drawn = np.asarray(heatmap.images[0].get_array())
    names = [t.get_text() for t in heatmap.get_xticklabels()]
    assert sorted(names) == sorted(adata.obs_names)
    full = pd.DataFrame(squareform(pdist(adata.layers["vst"])), index=adata.obs_names, columns=adata.obs_names)
    np.testing.assert_allclose(drawn, full.loc[names, names].to_numpy())
    order = leaves_list(linkage(pdist(adata.layers["vst"]), method="complete", optimal_ordering=True))
    assert names == list(adata.obs_names[order])
    # clustering groups samples of a site together (planted effect), and the strips follow the same order
    sites = adata.obs.loc[names, "site"].astype(str).tolist()
    assert sum(a != b for a, b in zip(sites, sites[1:])) == 2
    strip = np.asarray(axes_by_label(fig, "strips:top").images[0].get_array())
    colours = plotting.level_colors(adata.obs["site"])
    assert [to_hex(c) for c in strip[0]] == [colours[s].lower() for s in sites]
    assert "distance" in axes_by_label(fig, "colorbar").get_ylabel()


# ---------------------------------------------------------------------------------------------- DE plots

def test_dispersions_skip_nans_and_draw_sorted_trend() -> None:
    var = make_var()
    fig = de_plots.plot_dispersions(var)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    genewise, final = ax.collections
    assert len(genewise.get_offsets()) == len(var) - 2 and len(final.get_offsets()) == len(var) - 1
    assert to_hex(genewise.get_facecolor()[0]) == "#000000"
    line = ax.lines[0]
    ok = var.iloc[1:]
    np.testing.assert_allclose(line.get_xdata(), np.sort(ok["_normed_means"]))
    np.testing.assert_allclose(line.get_ydata(), ok.sort_values("_normed_means")["fitted_dispersions"])


@pytest.mark.parametrize("shrunk", [False, True])
def test_ma_plot(shrunk: bool) -> None:
    table = make_table(shrunk=shrunk)
    fig = de_plots.plot_ma(table, "primary / normal_pancreas", 0.05, ["EGFR", "KDR", "NOTAGENE"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel().endswith("log2 fold change (primary / normal_pancreas)")
    assert ("shrunken" in ax.get_ylabel()) == shrunk
    assert sorted(gene_labels(fig)) == ["EGFR", "KDR"]
    column = "log2FoldChange_shrunk" if shrunk else "log2FoldChange"
    up_points = next(c for c in ax.collections if c.get_label().startswith("up"))  # legend: "up, padj < 0.05 (n)"
    n_up = int(((table["padj"] < 0.05) & (table[column] > 0)).sum())
    assert len(up_points.get_offsets()) == n_up


def test_volcano_labels_counts_and_liver_marker() -> None:
    table = make_table()
    highlight = TARGETS + ["NOTAGENE"]
    fig = de_plots.plot_volcano(table, "primary / normal_pancreas", 0.05, 1.0, highlight, n_top=10)
    ax = fig.axes[0]
    top10 = table.dropna(subset=["padj"]).sort_values(["padj", "pvalue"], kind="mergesort")["symbol"][:10]
    labels = gene_labels(fig)
    assert len(labels) == len(set(labels))
    assert set(labels) == set(top10) | set(TARGETS)
    assert set(labels) - set(TARGETS) == set(top10) - set(TARGETS)
    sig = (table["padj"] < 0.05) & (table["log2FoldChange"].abs() >= 1.0)
    n_up, n_down = int((sig & (table["log2FoldChange"] > 0)).sum()), int((sig & (table["log2FoldChange"] < 0)).sum())
    counts = next(t for t in ax.texts if t.get_gid() == "counts").get_text()
    assert counts == f"up: {n_up}, down: {n_down}"
    assert n_up > 0 and n_down > 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "liver signature" in legend
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert np.isfinite(ys).all()
    assert ax.get_ylim()[1] > ys.max()  # the p = 0 gene is drawn (at the smallest p) inside the axes
    assert re.search("primary / normal_pancreas", ax.get_xlabel())
    # labels do not overlap each other
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_gid() == "gene-label"]
    overlaps = [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
    assert not overlaps


def test_volcano_without_liver_column_or_labels() -> None:
    table = make_table(liver=False)
    fig = de_plots.plot_volcano(table, "liver_metastasis / primary", 0.05, 0.0, [], n_top=0)
    ax = fig.axes[0]
    assert gene_labels(fig) == []
    assert "liver signature" not in [t.get_text() for t in ax.get_legend().get_texts()]
    n_sig = int((table["padj"] < 0.05).sum())
    counts = next(t for t in ax.texts if t.get_gid() == "counts").get_text()
    assert sum(map(int, re.findall(r"\d+", counts))) == n_sig
