"""Simulated cohorts: the seeded simulator behind the demo cohort (resources/demo), the tiny test cohort
(tests/data), the benchmarks' cohorts and the tests' planted-truth checks. Not part of the workflow: nothing under
workflow/ imports it.

Modules: ``genes`` (site labels, hand-picked gene lists, the gene universe), ``design`` (the dataclasses of a
design and of a simulated cohort), ``cohort`` (the presets and :func:`simulate_cohort`), ``host`` (the
reference-anchored host-admixture model), ``admixture`` (the admixture benchmark designs), ``patients`` (a
programme active in a share of tumours, and clinical columns tied to it), ``truth`` (truth tables).
"""

from simulate.admixture import *  # noqa: F401,F403
from simulate.admixture import __all__ as _admixture_all
from simulate.cohort import *  # noqa: F401,F403
from simulate.cohort import __all__ as _cohort_all
from simulate.design import *  # noqa: F401,F403
from simulate.design import __all__ as _design_all
from simulate.genes import *  # noqa: F401,F403
from simulate.genes import __all__ as _genes_all
from simulate.host import *  # noqa: F401,F403
from simulate.host import __all__ as _host_all
from simulate.patients import *  # noqa: F401,F403
from simulate.patients import __all__ as _patients_all

__all__ = [*_genes_all, *_design_all, *_cohort_all, *_host_all, *_admixture_all, *_patients_all]
