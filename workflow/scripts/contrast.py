"""Rule `contrast`: Wald test (and LFC shrinkage) of one contrast on its fitted model, adjusted for host tissue
when the fit read the purified cohort."""

from target_rationale.cohort.signatures import read_liver_signature
from target_rationale.core.jobs import script_logging
from target_rationale.diffexp.model import write_contrast
from target_rationale.diffexp.settings import WaldSettings

with script_logging(snakemake.log[0], outputs=snakemake.output):
    write_contrast(
        fit_path=snakemake.input.fit,
        cohort_path=snakemake.input.cohort,
        contrast=snakemake.params.contrast,
        settings=WaldSettings.from_config(snakemake.params.settings),
        liver_genes=read_liver_signature(snakemake.input.liver_signature),
        n_cpus=snakemake.threads,
        out_table=snakemake.output.table,
        adjust=snakemake.params.adjust,
        host_dominated=snakemake.params.host_dominated,
    )
