"""Rule `import_cohort`: per-sample count files (a GEO series' cached RAW tar, or a local folder) + their sample
metadata -> results/import/counts.tsv.gz, samples.tsv and import.yaml."""

from pathlib import Path

from target_rationale.cohort.importing import import_cohort
from target_rationale.core.errors import input_errors_reported
from target_rationale.core.jobs import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output), input_errors_reported():
    import_cohort(
        spec=snakemake.params.spec,
        cache_dir=Path(snakemake.input.manifest).parent if "manifest" in snakemake.input.keys() else None,
        out_counts=snakemake.output.counts,
        out_samples=snakemake.output.samples,
        out_record=snakemake.output.record,
    )
