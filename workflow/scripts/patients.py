"""Rule `patients`: per-tumour axis activity, prevalence per site, per-patient change, associations with
covariates and proxy scores, survival."""

import anndata as ad
from target_rationale.core.errors import InputError, input_errors_reported
from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.patients.outputs import write_patients
from target_rationale.patients.settings import PatientSettings, covariate_problems, survival_problems
from target_rationale.targets.scores import axis_scores

with script_logging(snakemake.log[0], outputs=snakemake.output), input_errors_reported():
    scores = read_tsv(snakemake.input.scores).set_index("sample")
    axes = list(snakemake.params.axes)
    settings = PatientSettings.from_config(snakemake.params.settings)
    sheet = scores.drop(columns=axes)
    # The planning step checked these columns before any job; an imported cohort's sheet did not exist then.
    problems = covariate_problems(sheet, settings.covariates, snakemake.params.sheet_name) + \
        survival_problems(sheet, settings.survival, snakemake.params.sheet_name)
    if problems:
        raise InputError(problems)
    write_patients(
        scores=scores[axes],
        sheet=sheet,
        where=snakemake.params.layout,
        settings=settings,
        references=snakemake.params.references,
        seed=snakemake.params.seed,
        out=dict(snakemake.output.items()),
        proxies=axis_scores(ad.read_h5ad(snakemake.input.qc), settings.proxies, seed=snakemake.params.seed),
    )
