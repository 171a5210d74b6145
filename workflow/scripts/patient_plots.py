"""Rule `patient_plots`: axis activity by site, per-patient primary-to-metastasis changes, Kaplan-Meier curves, a
forest plot of the associations."""

from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.patients.plots import write_patient_plots

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_patient_plots(
        activity=read_tsv(snakemake.input.activity),
        changes=read_tsv(snakemake.input.changes),
        survival_data=read_tsv(snakemake.input.survival_data),
        associations=read_tsv(snakemake.input.associations),
        out=dict(snakemake.output.items()),
    )
