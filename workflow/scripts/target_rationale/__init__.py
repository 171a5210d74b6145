"""Domain logic of the tumour-cohort drug-target rationale workflow.

One module per stage; the scripts under ``workflow/scripts/`` only read the ``snakemake`` object and call
functions from here, and the tests import these functions directly.
"""

__version__ = "0.1.0"
