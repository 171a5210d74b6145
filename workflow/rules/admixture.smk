# Host tissue in the tumour samples (admixture: in the config): each sample's share of reads from its site's host
# tissue (liver in liver metastases, exocrine pancreas in primaries), estimated on host-specific genes against the
# project's host reference. Off when admixture.hosts is empty.


rule admixture:
    input:
        cohort=rules.cohort.output.h5ad,
        reference=HOST_REFERENCE,
        manifest=HOST_REFERENCE_MANIFEST,
    output:
        table=report(result("admixture_table"), caption="../report/admixture_table.rst",
                     category="3. Quality control"),
    params:
        hosts=config["admixture"]["hosts"],
        variable=config["admixture"]["variable"],
        seed=config["seed"],
    log:
        "logs/qc/admixture.log",
    benchmark:
        "logs/benchmarks/admixture.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/admixture.py"


rule admixture_plot:
    input:
        table=rules.admixture.output.table,
    output:
        **figure("admixture", result("qc_figure", plot="admixture"), "admixture", "3. Quality control"),
    params:
        variable=config["admixture"]["variable"],
    log:
        "logs/qc/admixture_plot.log",
    benchmark:
        "logs/benchmarks/admixture_plot.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/admixture_plot.py"


# Site effects at zero admixture (admixture.adjust): each sample's expected host reads taken out of its counts; the
# fits, the axis scores and everything after them read this cohort.
rule purify:
    input:
        cohort=rules.cohort.output.h5ad,
        table=rules.admixture.output.table,
        reference=HOST_REFERENCE,
        manifest=HOST_REFERENCE_MANIFEST,
    output:
        h5ad=result("adjusted_cohort"),
    log:
        "logs/qc/purify.log",
    benchmark:
        "logs/benchmarks/purify.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=3000,
    script:
        "../scripts/purify.py"
