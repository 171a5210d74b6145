rule enrich:
    # One contrast x one collection per job, so every FDR is over one collection.
    input:
        table=rules.contrast.output.table,
        collection=rules.collection.output.gmt,
        liver_signature=LIVER_SIGNATURE,
    output:
        **{table: report(result("enrichment_table", table=table), caption=f"../report/{caption}.rst",
                         category="5. Enrichment", subcategory="{contrast}")
           for table, caption in (("ora_up", "ora"), ("ora_down", "ora"), ("gsea", "gsea"))},
    params:
        alpha=config["diffexp"]["alpha"],
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        settings=enrich_settings(config),
        seed=config["seed"],
    threads: 2
    log:
        "logs/enrichment/{contrast}/{collection}.log",
    benchmark:
        "logs/benchmarks/enrich_{contrast}_{collection}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/enrich.py"


rule term_tests:
    # camera per contrast x collection on the (adjusted) VST: the FDRs the comparison's classes use.
    input:
        qc=rules.qc_matrix_adjusted.output.h5ad if ADJUST else rules.qc_matrix.output.h5ad,
        table=rules.contrast.output.table,
        collection=rules.collection.output.gmt,
        liver_signature=LIVER_SIGNATURE,
    output:
        table=report(result("enrichment_table", table="camera"), caption="../report/camera.rst",
                     category="5. Enrichment", subcategory="{contrast}"),
    params:
        contrast=lambda wildcards: CONTRASTS[wildcards.contrast],
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        min_size=config["enrichment"]["min_size"],
        max_size=config["enrichment"]["max_size"],
    log:
        "logs/enrichment/{contrast}/{collection}.camera.log",
    benchmark:
        "logs/benchmarks/term_tests_{contrast}_{collection}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/term_tests.py"


rule enrichment_plots:
    input:
        table=rules.contrast.output.table,
        collection=rules.collection.output.gmt,
        **dict(rules.enrich.output.items()),
        liver_signature=LIVER_SIGNATURE,
    output:
        **{name: value for plot in paths.ENRICHMENT_PLOTS for name, value in figure(
            plot, result("enrichment_figure", plot=plot), plot, "5. Enrichment", "{contrast}").items()},
    params:
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        gsea_fdr=config["enrichment"]["gsea_fdr"],
        ora_fdr=config["enrichment"]["ora_fdr"],
        curves=curve_terms(config, TARGETS),
    log:
        "logs/enrichment/{contrast}/{collection}.plots.log",
    benchmark:
        "logs/benchmarks/enrichment_plots_{contrast}_{collection}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1500,
    script:
        "../scripts/enrichment_plots.py"


rule compare_contrasts:
    input:
        **{table: expand(path, contrast=CONTRASTS, allow_missing=True) for table, path in rules.enrich.output.items()},
        camera=expand(rules.term_tests.output.table, contrast=CONTRASTS, allow_missing=True),
    output:
        table=report(result("comparison_table"), caption="../report/comparison.rst",
                     category="6. Shared and unique terms"),
        **figure("heatmap", result("comparison_figure"), "comparison_heatmap", "6. Shared and unique terms"),
    params:
        contrasts=list(CONTRASTS),
        compared=COMPARED,
        direct=DIRECT_COMPARISON,
        term_fdr=config["enrichment"]["term_fdr"],
    log:
        "logs/enrichment/comparison_{collection}.log",
    benchmark:
        "logs/benchmarks/compare_contrasts_{collection}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/compare_contrasts.py"
