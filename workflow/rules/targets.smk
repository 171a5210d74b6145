rule axis_scores:
    input:
        qc="results/qc/qc.h5ad",
        targets=TARGETS_FILE or [],
    output:
        scores=report(
            "results/targets/scores.tsv",
            caption="../report/axis_scores_table.rst",
            category="7. Target axes",
        ),
    params:
        seed=config["seed"],
    log:
        "logs/targets/axis_scores.log",
    benchmark:
        "logs/benchmarks/axis_scores.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/axis_scores.py"


rule targets:
    input:
        de=expand("results/diffexp/{contrast}.tsv", contrast=CONTRASTS),
        gsea=expand("results/enrichment/{contrast}/{collection}.gsea.tsv", contrast=CONTRASTS,
                    collection=COLLECTIONS),
        ora_up=expand("results/enrichment/{contrast}/{collection}.ora_up.tsv", contrast=CONTRASTS,
                      collection=COLLECTIONS),
        ora_down=expand("results/enrichment/{contrast}/{collection}.ora_down.tsv", contrast=CONTRASTS,
                        collection=COLLECTIONS),
        scores="results/targets/scores.tsv",
        targets=TARGETS_FILE or [],
        liver_signature=LIVER_SIGNATURE,
    output:
        axes=report("results/targets/axes.tsv", caption="../report/axes.rst", category="7. Target axes"),
        genes=report("results/targets/genes.tsv", caption="../report/axis_genes_table.rst",
                     category="7. Target axes"),
        rationale=report("results/targets/rationale.tsv", caption="../report/rationale.rst",
                         category="8. Therapy rationale"),
        markdown=report("results/targets/rationale.md", caption="../report/rationale.rst",
                        category="8. Therapy rationale"),
    params:
        contrasts=list(CONTRASTS.values()),
        collections=list(COLLECTIONS),
        alpha=config["diffexp"]["alpha"],
        gsea_fdr=config["enrichment"]["gsea_fdr"],
        ora_fdr=config["enrichment"]["ora_fdr"],
    log:
        "logs/targets/targets.log",
    benchmark:
        "logs/benchmarks/targets.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1500,
    script:
        "../scripts/targets.py"


rule target_plots:
    input:
        qc="results/qc/qc.h5ad",
        scores="results/targets/scores.tsv",
        axes="results/targets/axes.tsv",
        targets=TARGETS_FILE or [],
    output:
        heatmap=report("results/targets/axis_genes.png", caption="../report/axis_genes.rst",
                       category="7. Target axes"),
        heatmap_svg="results/targets/axis_genes.svg",
        scores=report("results/targets/axis_scores.png", caption="../report/axis_scores.rst",
                      category="7. Target axes"),
        scores_svg="results/targets/axis_scores.svg",
        grid=report("results/targets/evidence.png", caption="../report/evidence.rst", category="7. Target axes"),
        grid_svg="results/targets/evidence.svg",
    params:
        group=CONTRASTS[TARGETS.metastasis].variable if TARGETS else None,
        annotate="patient" if "patient" in INPUTS.sheet.columns else None,
    log:
        "logs/targets/target_plots.log",
    benchmark:
        "logs/benchmarks/target_plots.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1500,
    script:
        "../scripts/target_plots.py"
