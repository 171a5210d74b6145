rule enrich:
    # One contrast x one collection per job, so every FDR is over one collection.
    input:
        table="results/diffexp/{contrast}.tsv",
        collection="results/genesets/{collection}.gmt.gz",
        liver_signature=LIVER_SIGNATURE,
    output:
        ora_up=report(
            "results/enrichment/{contrast}/{collection}.ora_up.tsv",
            caption="../report/ora.rst",
            category="5. Enrichment",
            subcategory="{contrast}",
        ),
        ora_down=report(
            "results/enrichment/{contrast}/{collection}.ora_down.tsv",
            caption="../report/ora.rst",
            category="5. Enrichment",
            subcategory="{contrast}",
        ),
        gsea=report(
            "results/enrichment/{contrast}/{collection}.gsea.tsv",
            caption="../report/gsea.rst",
            category="5. Enrichment",
            subcategory="{contrast}",
        ),
    params:
        alpha=config["diffexp"]["alpha"],
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        settings=config["enrichment"],
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


rule enrichment_plots:
    input:
        table="results/diffexp/{contrast}.tsv",
        collection="results/genesets/{collection}.gmt.gz",
        ora_up="results/enrichment/{contrast}/{collection}.ora_up.tsv",
        ora_down="results/enrichment/{contrast}/{collection}.ora_down.tsv",
        gsea="results/enrichment/{contrast}/{collection}.gsea.tsv",
        liver_signature=LIVER_SIGNATURE,
    output:
        gsea_dots=report(
            "results/enrichment/{contrast}/{collection}.gsea_dots.png",
            caption="../report/gsea_dots.rst",
            category="5. Enrichment",
            subcategory="{contrast}",
        ),
        gsea_dots_svg="results/enrichment/{contrast}/{collection}.gsea_dots.svg",
        ora_dots=report(
            "results/enrichment/{contrast}/{collection}.ora_dots.png",
            caption="../report/ora_dots.rst",
            category="5. Enrichment",
            subcategory="{contrast}",
        ),
        ora_dots_svg="results/enrichment/{contrast}/{collection}.ora_dots.svg",
        curves=report(
            "results/enrichment/{contrast}/{collection}.curves.png",
            caption="../report/curves.rst",
            category="5. Enrichment",
            subcategory="{contrast}",
        ),
        curves_svg="results/enrichment/{contrast}/{collection}.curves.svg",
    params:
        exclude_liver_genes=config["diffexp"]["exclude_liver_genes"],
        settings=config["enrichment"],
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
        gsea=expand("results/enrichment/{contrast}/{{collection}}.gsea.tsv", contrast=CONTRASTS),
        ora_up=expand("results/enrichment/{contrast}/{{collection}}.ora_up.tsv", contrast=CONTRASTS),
        ora_down=expand("results/enrichment/{contrast}/{{collection}}.ora_down.tsv", contrast=CONTRASTS),
    output:
        table=report(
            "results/enrichment/comparison/{collection}.tsv",
            caption="../report/comparison.rst",
            category="6. Shared and unique terms",
        ),
        heatmap=report(
            "results/enrichment/comparison/{collection}.heatmap.png",
            caption="../report/comparison_heatmap.rst",
            category="6. Shared and unique terms",
        ),
        heatmap_svg="results/enrichment/comparison/{collection}.heatmap.svg",
    params:
        contrasts=list(CONTRASTS),
        compared=COMPARED,
        settings=config["enrichment"],
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
