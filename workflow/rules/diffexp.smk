rule qc_matrix:
    input:
        cohort="results/cohort/cohort.h5ad",
        liver_signature=LIVER_SIGNATURE,
    output:
        h5ad="results/qc/qc.h5ad",
        samples=report(
            "results/qc/samples.tsv",
            caption="../report/qc_samples.rst",
            category="3. Quality control",
        ),
    params:
        seed=config["seed"],
    log:
        "logs/qc/qc_matrix.log",
    benchmark:
        "logs/benchmarks/qc_matrix.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/qc_matrix.py"


rule fit:
    input:
        cohort="results/cohort/cohort.h5ad",
    output:
        "results/diffexp/fits/{fit}.pkl",
    params:
        contrasts=lambda wildcards: FITS[wildcards.fit],
        settings=config["diffexp"],
    threads: 2
    log:
        "logs/diffexp/fit_{fit}.log",
    benchmark:
        "logs/benchmarks/fit_{fit}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/fit.py"


rule contrast:
    input:
        fit=lambda wildcards: f"results/diffexp/fits/{FIT_OF[wildcards.contrast]}.pkl",
        cohort="results/cohort/cohort.h5ad",
        liver_signature=LIVER_SIGNATURE,
    output:
        table=report(
            "results/diffexp/{contrast}.tsv",
            caption="../report/diffexp_table.rst",
            category="4. Differential expression",
            subcategory="{contrast}",
        ),
    params:
        contrast=lambda wildcards: CONTRASTS[wildcards.contrast],
        settings=config["diffexp"],
    threads: 2
    log:
        "logs/diffexp/{contrast}.log",
    benchmark:
        "logs/benchmarks/contrast_{contrast}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/contrast.py"


rule qc_plots:
    input:
        qc="results/qc/qc.h5ad",
    output:
        library_sizes=report("results/qc/library_sizes.png", caption="../report/library_sizes.rst",
                             category="3. Quality control"),
        library_sizes_svg="results/qc/library_sizes.svg",
        pca=report("results/qc/pca.png", caption="../report/pca.rst", category="3. Quality control"),
        pca_svg="results/qc/pca.svg",
        sample_distances=report("results/qc/sample_distances.png", caption="../report/sample_distances.rst",
                                category="3. Quality control"),
        sample_distances_svg="results/qc/sample_distances.svg",
    params:
        design_variables=DESIGN_VARIABLES,
        seed=config["seed"],
    log:
        "logs/qc/qc_plots.log",
    benchmark:
        "logs/benchmarks/qc_plots.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/qc_plots.py"


rule dispersion_plot:
    input:
        fit="results/diffexp/fits/{fit}.pkl",
    output:
        png=report("results/qc/dispersions_{fit}.png", caption="../report/dispersions.rst",
                   category="3. Quality control"),
        svg="results/qc/dispersions_{fit}.svg",
    log:
        "logs/qc/dispersions_{fit}.log",
    benchmark:
        "logs/benchmarks/dispersion_plot_{fit}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/dispersion_plot.py"


rule contrast_plots:
    input:
        table="results/diffexp/{contrast}.tsv",
    output:
        ma=report("results/diffexp/{contrast}.ma.png", caption="../report/ma.rst",
                  category="4. Differential expression", subcategory="{contrast}"),
        ma_svg="results/diffexp/{contrast}.ma.svg",
        volcano=report("results/diffexp/{contrast}.volcano.png", caption="../report/volcano.rst",
                       category="4. Differential expression", subcategory="{contrast}"),
        volcano_svg="results/diffexp/{contrast}.volcano.svg",
    params:
        label=lambda wildcards: f"{CONTRASTS[wildcards.contrast].target} / {CONTRASTS[wildcards.contrast].reference}",
        alpha=config["diffexp"]["alpha"],
        lfc_threshold=config["diffexp"]["lfc_threshold"],
        highlight=config["diffexp"]["highlight"],
    log:
        "logs/diffexp/{contrast}.plots.log",
    benchmark:
        "logs/benchmarks/contrast_plots_{contrast}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/contrast_plots.py"
