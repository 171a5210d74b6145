"""Rule `geo_download`: a GEO series' RAW tar and series matrix file(s) -> its cache folder, with a manifest."""

from pathlib import Path

from target_rationale.cohort.geo_download import download_series
from target_rationale.cohort.geo_series import GEO_SERIES_URL
from target_rationale.core.http import DEFAULT_TIMEOUT
from target_rationale.core.jobs import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    download_series(
        accession=snakemake.params.accession,
        cache_dir=Path(snakemake.output.manifest).parent,
        base_url=snakemake.params.base_url or GEO_SERIES_URL,
        timeout=DEFAULT_TIMEOUT,
    )
