"""What the benchmarks measured, as the report's methods section states it (update with the benchmark)."""

#: The axis flag's operating characteristics at the default rule, measured by benchmarks/axis_calibration.py
#: (benchmarks/results/axis_calibration.json; rerun it and update this text when the rule changes).
AXIS_OPERATING_CHARACTERISTICS = (
    "Operating characteristics of the axis flag at the default rule (simulated cohorts of 4-20 patients with "
    "normal, primary and metastasis samples, negative-binomial counts with dispersions around 0.1, and "
    "stroma, vasculature, macrophage and proliferation programmes that vary between patients and biopsies): on "
    "1,000 null cohorts every axis x contrast was flagged in at most 0.8% (upper 95% bound 1.6%) and 4.9% had "
    "any flag; an axis up by log2 1.0 in metastases was flagged in 95-98% of cohorts of 8 patients, by log2 "
    "0.5 in 34-37% (73% at 12 patients, 91-93% at 20); 80% power at 8 patients is reached at about log2 0.8 "
    "(86%; 0.7: 74-75%). On the demo cohort with its sites permuted within "
    "patients (500 permutations), every axis x contrast was flagged in at most 2.4% (upper bound 4.1%). On "
    "simulated cohorts whose metastases differ from their primaries only by 10-50% liver, no axis was flagged "
    "in metastasis-vs-primary in 18 of 20 after the host-tissue adjustment. Sources: "
    "benchmarks/results/axis_calibration.json, axis_power_8_patients.json, axis_permutation.json, "
    "admixture_calls_null.json.")
