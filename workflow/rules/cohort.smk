rule cohort:
    input:
        counts=COUNTS,
        samples=SAMPLES,
        gene_id_map=GENE_ID_MAP,
    output:
        h5ad=result("cohort_h5ad"),
        gene_ids=report(result("cohort_gene_ids"), caption="../report/gene_ids.rst", category="1. Cohort"),
        samples=report(result("cohort_samples"), caption="../report/samples.rst", category="1. Cohort"),
    params:
        gene_id_type=INPUTS.id_type,
        # Design and contrasts were checked against your own files before any job; imported files are checked
        # here, in the job, once they exist (so only then do these reach the job and rerun it when changed).
        design=config["design"] if COHORT_IMPORT else None,
        contrasts=config["contrasts"] if COHORT_IMPORT else [],
        min_library_size=config["min_library_size"] if COHORT_IMPORT else None,
        # Not here: the targets file whose symbols the parse could not check (an import that has not run). The
        # job finds it in the environment (planning.TARGETS_CHECK_VARIABLE): editing the file reruns nothing.
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
