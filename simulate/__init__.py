"""Simulated cohorts: the seeded simulator behind the demo cohort (resources/demo), the tiny test cohort
(tests/data), the benchmarks' cohorts and the tests' planted-truth checks. Not part of the workflow: nothing under
workflow/ imports it."""

from simulate.cohort import *  # noqa: F401,F403
from simulate.cohort import __all__  # noqa: F401
