# Each axis' genes reach the scoring and plotting jobs as a param: editing a drug or the flag rule in the targets
# file reruns the targets job only.
AXIS_GENES = {name: list(axis.genes) for name, axis in TARGETS.axes.items()} if TARGETS else {}


rule axis_scores:
    input:
        qc=rules.qc_matrix_adjusted.output.h5ad if ADJUST else rules.qc_matrix.output.h5ad,
    output:
        scores=report(
            result("axis_scores"),
            caption="../report/axis_scores_table.rst",
            category="7. Target axes",
        ),
    params:
        axes=AXIS_GENES,
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


rule axis_tests:
    input:
        qc=rules.qc_matrix_adjusted.output.h5ad if ADJUST else rules.qc_matrix.output.h5ad,
        adjusted=rules.purify.output.h5ad if ADJUST else [],
    output:
        table=report(
            result("axis_tests"),
            caption="../report/axis_tests.rst",
            category="7. Target axes",
        ),
        loo=result("axis_tests_loo"),
        bootstrap=result("axis_tests_bootstrap"),
    params:
        axes=AXIS_GENES,
        contrasts=list(CONTRASTS.values()),
        host_dominated=config["admixture"]["host_dominated"] if ADJUST else 1.0,
        make_up_error=config["admixture"]["make_up_error"] if ADJUST else True,  # read only with the adjustment
        replicates=TARGETS.flag.bootstrap if TARGETS else 0,
        seed=config["seed"],
    log:
        "logs/targets/axis_tests.log",
    benchmark:
        "logs/benchmarks/axis_tests.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/axis_tests.py"


rule targets:
    input:
        de=expand(rules.contrast.output.table, contrast=CONTRASTS),
        **{table: expand(enrichment_tables(table), contrast=CONTRASTS, collection=COLLECTIONS)
           for table in paths.ENRICHMENT_TABLES},
        camera=expand(enrichment_tables("camera"), contrast=CONTRASTS, collection=COLLECTIONS),
        scores=rules.axis_scores.output.scores,
        tests=rules.axis_tests.output.table,
        loo=rules.axis_tests.output.loo,
        bootstrap=rules.axis_tests.output.bootstrap,
        targets=TARGETS_FILE or [],
        liver_signature=LIVER_SIGNATURE,
        patients=result("patients_summary"),  # rule patients (patients.smk, included after this file)
    output:
        axes=report(result("axes_table"), caption="../report/axes.rst", category="7. Target axes"),
        genes=report(result("axis_genes_table"), caption="../report/axis_genes_table.rst",
                     category="7. Target axes"),
        rationale=report(result("rationale_table"), caption="../report/rationale.rst",
                         category="8. Therapy rationale"),
        markdown=report(result("rationale_markdown"), caption="../report/rationale.rst",
                        category="8. Therapy rationale"),
    params:
        contrasts=list(CONTRASTS.values()),
        roles=TARGET_ROLES,
        collections=list(COLLECTIONS),
        alpha=config["diffexp"]["alpha"],
        term_fdr=config["enrichment"]["term_fdr"],
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
        qc=rules.qc_matrix.output.h5ad,
        scores=rules.axis_scores.output.scores,
        axes=rules.targets.output.axes,
    output:
        **figure("heatmap", result("targets_figure", plot="axis_genes"), "axis_genes", "7. Target axes"),
        **figure("scores", result("targets_figure", plot="axis_scores"), "axis_scores", "7. Target axes"),
        **figure("grid", result("targets_figure", plot="evidence"), "evidence", "7. Target axes"),
    params:
        axes=AXIS_GENES,
        group=CONTRASTS[TARGETS.judged].variable if TARGETS else None,
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
