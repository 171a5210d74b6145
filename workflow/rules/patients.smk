# Patient-level answers (workflow/scripts/target_rationale/patients/): per-tumour axis activity, the share of
# active tumours per site, and each patient's primary-to-metastasis change. Runs with the target stage.


rule patients:
    input:
        scores=rules.axis_scores.output.scores,
        qc=rules.qc_matrix_adjusted.output.h5ad if ADJUST else rules.qc_matrix.output.h5ad,
    output:
        activity=report(result("patients_activity"), caption="../report/patients.rst", category="9. Patients"),
        prevalence=report(result("patients_prevalence"), caption="../report/patients.rst", category="9. Patients"),
        changes=result("patients_changes"),
        associations=report(result("patients_associations"), caption="../report/patients_associations.rst",
                            category="9. Patients"),
        survival=result("patients_survival"),
        survival_data=result("patients_survival_data"),
        summary=result("patients_summary"),
    params:
        settings=pick(config["patients"], PatientSettings),
        axes=list(AXIS_GENES),
        layout=PATIENT_LAYOUT,
        references={name: axis.reference_prevalence for name, axis in TARGETS.axes.items()
                    if axis.reference_prevalence} if TARGETS else {},
        seed=config["seed"],
        sheet_name=SAMPLES,
    log:
        "logs/patients/patients.log",
    benchmark:
        "logs/benchmarks/patients.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/patients.py"


rule patient_plots:
    input:
        activity=rules.patients.output.activity,
        changes=rules.patients.output.changes,
        survival_data=rules.patients.output.survival_data,
        associations=rules.patients.output.associations,
    output:
        **figure("activity", result("patients_figure", plot="activity"), "patients_activity", "9. Patients"),
        **figure("changes", result("patients_figure", plot="changes"), "patients_changes", "9. Patients"),
        **figure("survival", result("patients_figure", plot="survival"), "patients_survival", "9. Patients"),
        **figure("associations", result("patients_figure", plot="associations"), "patients_forest", "9. Patients"),
    log:
        "logs/patients/patient_plots.log",
    benchmark:
        "logs/benchmarks/patient_plots.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/patient_plots.py"
