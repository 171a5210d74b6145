"""Rule `patients`: per-tumour axis activity, prevalence per site, per-patient change, associations with
covariates and proxy scores, survival."""

import anndata as ad
from target_rationale.core.jobs import script_logging
from target_rationale.core.tsv import read_tsv
from target_rationale.patients.outputs import write_patients
from target_rationale.patients.settings import PatientSettings
from target_rationale.targets.scores import axis_scores

with script_logging(snakemake.log[0], outputs=snakemake.output):
    scores = read_tsv(snakemake.input.scores).set_index("sample")
    axes = list(snakemake.params.axes)
    settings = PatientSettings.from_config(snakemake.params.settings)
    write_patients(
        scores=scores[axes],
        sheet=scores.drop(columns=axes),
        where=snakemake.params.layout,
        settings=settings,
        references=snakemake.params.references,
        seed=snakemake.params.seed,
        out=dict(snakemake.output.items()),
        proxies=axis_scores(ad.read_h5ad(snakemake.input.qc), settings.proxies, seed=snakemake.params.seed),
    )
