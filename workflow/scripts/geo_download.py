"""Rule `geo_download`: a GEO series' RAW tar and series matrix file(s) -> its cache folder, with a manifest."""

from pathlib import Path

from target_rationale.geo import DEFAULT_TIMEOUT, GEO_SERIES_URL, download_series
from target_rationale.runtime import script_logging

with script_logging(snakemake.log[0], outputs=snakemake.output):
    download_series(
        accession=snakemake.params.accession,
        cache_dir=Path(snakemake.output.manifest).parent,
        base_url=snakemake.params.base_url or GEO_SERIES_URL,
        timeout=DEFAULT_TIMEOUT,
    )
