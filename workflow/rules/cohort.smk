rule cohort:
    input:
        counts=COUNTS,
        samples=SAMPLES,
        gene_id_map=GENE_ID_MAP,
    output:
        h5ad="results/cohort/cohort.h5ad",
        gene_ids=report(
            "results/cohort/gene_ids.tsv",
            caption="../report/gene_ids.rst",
            category="1. Cohort",
        ),
        samples=report(
            "results/cohort/samples.tsv",
            caption="../report/samples.rst",
            category="1. Cohort",
        ),
    params:
        gene_id_type=INPUTS.id_type,
    log:
        "logs/cohort.log",
    benchmark:
        "logs/benchmarks/cohort.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/build_cohort.py"
