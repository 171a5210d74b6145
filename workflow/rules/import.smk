# Cohort import, only when the config has `cohort:` (COHORT_IMPORT, planned in common.smk): a GEO series
# downloaded once into a cache, or a local folder / tar of per-sample count files, becomes the counts matrix and
# the sample sheet that the `cohort` rule validates and assembles like any user-given cohort.

if COHORT_IMPORT is not None and COHORT_IMPORT.accession:

    rule geo_download:
        # Downloaded once into the cache (with a manifest of URLs, sizes and sha256) and reused by every later
        # run; delete the folder to download again. A failed download leaves nothing in the cache.
        output:
            **COHORT_IMPORT.named_inputs,
        params:
            accession=COHORT_IMPORT.accession,
            base_url=COHORT_IMPORT.spec.get("base_url"),
        log:
            f"logs/import/geo_download_{COHORT_IMPORT.accession}.log",
        conda:
            "../envs/python.yaml"
        resources:
            mem_mb=1000,
        script:
            "../scripts/geo_download.py"


if COHORT_IMPORT is not None:

    rule import_cohort:
        input:
            **COHORT_IMPORT.named_inputs,
        output:
            counts=COHORT_IMPORT.counts,
            samples=COHORT_IMPORT.samples,
            record=COHORT_IMPORT.record,
        params:
            spec=COHORT_IMPORT.import_spec,
        log:
            "logs/import/import_cohort.log",
        benchmark:
            "logs/benchmarks/import_cohort.tsv"
        conda:
            "../envs/python.yaml"
        resources:
            mem_mb=2000,
        script:
            "../scripts/import_cohort.py"
