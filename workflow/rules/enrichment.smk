rule enrich:
    # One job per contrast over every collection: one process and one set of imports instead of one per
    # collection; each collection is still tested on its own (every FDR is over one collection).
    input:
        table=rules.contrast.output.table,
        collections=expand(rules.collection.output.gmt, collection=COLLECTIONS),
        liver_signature=LIVER_SIGNATURE,
    output:
        **{table: [report(path, caption=f"../report/{caption}.rst", category="5. Enrichment",
                          subcategory="{contrast}") for path in per_collection(enrichment_tables(table))]
           for table, caption in (("ora_up", "ora"), ("ora_down", "ora"), ("gsea", "gsea"))},
    params:
        collections=list(COLLECTIONS),
        alpha=config["diffexp"]["alpha"],
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        settings=enrich_settings(config),
        seed=config["seed"],
    threads: 1
    priority: 10  # the longest chain (fits, tests, GSEA): started first, the plots fill the gaps
    log:
        "logs/enrichment/{contrast}.log",
    benchmark:
        "logs/benchmarks/enrich_{contrast}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/enrich.py"


rule term_tests:
    # camera per contrast, every collection, on the (adjusted) VST: the FDRs the comparison's classes use.
    input:
        qc=rules.qc_matrix_adjusted.output.h5ad if ADJUST else rules.qc_matrix.output.h5ad,
        table=rules.contrast.output.table,
        collections=expand(rules.collection.output.gmt, collection=COLLECTIONS),
        liver_signature=LIVER_SIGNATURE,
    output:
        table=[report(path, caption="../report/camera.rst", category="5. Enrichment", subcategory="{contrast}")
               for path in per_collection(enrichment_tables("camera"))],
    params:
        collections=list(COLLECTIONS),
        contrast=lambda wildcards: CONTRASTS[wildcards.contrast],
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        min_size=config["enrichment"]["min_size"],
        max_size=config["enrichment"]["max_size"],
    log:
        "logs/enrichment/{contrast}.camera.log",
    benchmark:
        "logs/benchmarks/term_tests_{contrast}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/term_tests.py"


rule enrichment_plots:
    input:
        table=rules.contrast.output.table,
        collections=expand(rules.collection.output.gmt, collection=COLLECTIONS),
        **dict(rules.enrich.output.items()),
        liver_signature=LIVER_SIGNATURE,
    output:
        **{name: [figure(plot, stem, plot, "5. Enrichment", "{contrast}")[name]
                  for stem in per_collection(result("enrichment_figure", plot=plot))]
           for plot in paths.ENRICHMENT_PLOTS for name in (plot, f"{plot}_svg")},
    params:
        collections=list(COLLECTIONS),
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        gsea_fdr=config["enrichment"]["gsea_fdr"],
        ora_fdr=config["enrichment"]["ora_fdr"],
        curves=curve_terms(config, TARGETS),
    log:
        "logs/enrichment/{contrast}.plots.log",
    benchmark:
        "logs/benchmarks/enrichment_plots_{contrast}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1500,
    script:
        "../scripts/enrichment_plots.py"


rule compare_contrasts:
    input:
        **{table: expand(enrichment_tables(table), contrast=CONTRASTS, allow_missing=True)
           for table in paths.ENRICHMENT_TABLES},
        camera=expand(enrichment_tables("camera"), contrast=CONTRASTS, allow_missing=True),
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
