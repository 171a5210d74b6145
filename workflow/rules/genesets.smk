rule fetch_collection:
    # Online collections only, and only when the config asks for one: downloaded once into the cache and
    # reused by every later run (delete the folder to fetch again). No params: the cache folder's name (the
    # wildcard) says all that selects the download, and the script reads its spec from the config by it, so
    # that a rename, a default spelt out or a trailing slash never fetches (and offline, deletes) it again.
    input:
        gene_id_map=ancient(GENE_ID_MAP),
    output:
        gmt=f"{GENESET_CACHE}/{{cached}}/genesets.gmt",
        manifest=f"{GENESET_CACHE}/{{cached}}/manifest.yaml",
    log:
        "logs/genesets/fetch_{cached}.log",
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/fetch_collection.py"


rule collection:
    input:
        gmt=collection_gmt,
        genes=rules.cohort.output.gene_ids,
    output:
        gmt=result("collection_gmt"),
        manifest=report(
            result("collection_manifest"),
            caption="../report/collection.rst",
            category="2. Gene sets",
            labels={"collection": "{collection}"},
        ),
    log:
        "logs/genesets/{collection}.log",
    benchmark:
        "logs/benchmarks/collection_{collection}.tsv"
    conda:
        "../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/prepare_collection.py"
