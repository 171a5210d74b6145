rule qc_matrix:
    input:
        cohort=rules.cohort.output.h5ad,
        liver_signature=LIVER_SIGNATURE,
    output:
        h5ad=result("qc_h5ad"),
        samples=report(result("qc_samples"), caption="../report/qc_samples.rst", category="3. Quality control"),
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
        cohort=de_cohort(),
    output:
        result("fit"),
    params:
        contrasts=lambda wildcards: FITS[wildcards.fit],
        settings=fit_settings(config),
    threads: DE_THREADS
    priority: 10  # the longest chain (fits, tests, GSEA): started first, the plots fill the gaps
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
        fit=lambda wildcards: expand(rules.fit.output[0], fit=FIT_OF[wildcards.contrast])[0],
        cohort=de_cohort(),
        liver_signature=LIVER_SIGNATURE,
    output:
        table=report(result("de_table"), caption="../report/diffexp_table.rst",
                     category="4. Differential expression", subcategory="{contrast}"),
    params:
        contrast=lambda wildcards: CONTRASTS[wildcards.contrast],
        settings=wald_settings(config),
        adjust=ADJUST,
        host_dominated=config["admixture"]["host_dominated"] if ADJUST else 1.0,  # read only with the adjustment
    threads: DE_THREADS
    priority: 10  # the longest chain (fits, tests, GSEA): started first, the plots fill the gaps
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


# The axis scores read the VST of the purified cohort when admixture.adjust is on (the same correction as the DE).
use rule qc_matrix as qc_matrix_adjusted with:
    input:
        cohort=rules.purify.output.h5ad,
        liver_signature=LIVER_SIGNATURE,
    output:
        h5ad=result("qc_adjusted_h5ad"),
        samples=temp(result("qc_adjusted_h5ad") + ".samples.tsv"),
    log:
        "logs/qc/qc_matrix_adjusted.log",
    benchmark:
        "logs/benchmarks/qc_matrix_adjusted.tsv"


# The same fits and tests on the counts as they are (host reads in), for comparison: results/diffexp/unadjusted/.
use rule fit as fit_unadjusted with:
    input:
        cohort=rules.cohort.output.h5ad,
    output:
        result("fit_unadjusted"),
    log:
        "logs/diffexp/unadjusted/fit_{fit}.log",
    benchmark:
        "logs/benchmarks/fit_unadjusted_{fit}.tsv"
    priority: 0  # for comparison only: nothing downstream waits for it


use rule contrast as contrast_unadjusted with:
    input:
        fit=lambda wildcards: expand(rules.fit_unadjusted.output[0], fit=FIT_OF[wildcards.contrast])[0],
        cohort=de_cohort(),
        liver_signature=LIVER_SIGNATURE,
    output:
        table=report(result("de_table_unadjusted"), caption="../report/diffexp_unadjusted_table.rst",
                     category="4. Differential expression", subcategory="{contrast}"),
    params:
        contrast=lambda wildcards: CONTRASTS[wildcards.contrast],
        settings=wald_settings(config),
        adjust=False,
        host_dominated=config["admixture"]["host_dominated"],
    log:
        "logs/diffexp/unadjusted/{contrast}.log",
    benchmark:
        "logs/benchmarks/contrast_unadjusted_{contrast}.tsv"
    priority: 0


rule qc_plots:
    input:
        qc=rules.qc_matrix.output.h5ad,
    output:
        **figure("library_sizes", result("qc_figure", plot="library_sizes"), "library_sizes", "3. Quality control"),
        **figure("pca", result("qc_figure", plot="pca"), "pca", "3. Quality control"),
        **figure("sample_distances", result("qc_figure", plot="sample_distances"), "sample_distances",
                 "3. Quality control"),
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
        fit=rules.fit.output[0],
    output:
        **figure("dispersions", result("dispersions_figure"), "dispersions", "3. Quality control"),
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
        table=rules.contrast.output.table,
    output:
        **figure("ma", result("contrast_figure", plot="ma"), "ma", "4. Differential expression", "{contrast}"),
        **figure("volcano", result("contrast_figure", plot="volcano"), "volcano", "4. Differential expression",
                 "{contrast}"),
    params:
        label=lambda wildcards: f"{CONTRASTS[wildcards.contrast].target} / {CONTRASTS[wildcards.contrast].reference}",
        alpha=config["diffexp"]["alpha"],
        lfc_threshold=config["diffexp"]["lfc_threshold"],
        highlight=highlight_genes(config, TARGETS),
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
