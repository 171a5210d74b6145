rule provenance:
    # What the run was made from. The command line comes from the environment (see common.smk), so running
    # the workflow again with other flags does not rerun this rule or the report.
    input:
        **provenance_inputs(),
        manifests=expand(rules.collection.output.manifest, collection=COLLECTIONS),
    output:
        **PROVENANCE,
    params:
        config=config,
        collections=list(COLLECTIONS),
    log:
        "logs/provenance.log",
    benchmark:
        "logs/benchmarks/provenance.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=500,
    script:
        "../scripts/provenance.py"


rule report:
    input:
        analysis_outputs(),
        provenance=rules.provenance.output,
        css=workflow.source_path("../report/html/report.css"),
        script=workflow.source_path("../report/html/report.js"),
    output:
        html=report(
            result("report_html"),
            caption="../report/report_html.rst",
            category="9. Report",
        ),
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1500,
    script:
        "../scripts/report.py"
