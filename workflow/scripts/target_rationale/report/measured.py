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
    "in metastasis-vs-primary after the host-tissue adjustment in 18 of 20 cohorts of 10 patients (10 of 10 "
    "in a later run; the others flagged CSF1R and VEGFR, from the liver's Kupffer and endothelial reads the "
    "adjustment leaves) and in 20 of 20 cohorts of 18 patients with the host make-up's error carried into the "
    "test (admixture.make_up_error; 20 of 20 at 10 patients too; 18 of 20 when its refits could fall back to the "
    "liver tissue profile, 8 of "
    "10 without the error in the first ten), so read a VEGFR or CSF1R flag against a liver metastasis with those "
    "rates in mind. The make-up's error costs power where the host makes an axis' genes: with EGFR, VEGFR and "
    "CSF1R up by log2 1.0 in the tumour part of 18 metastases, each was flagged in 11, 4 and 14 of 20 cohorts "
    "(all three in 4; in the first ten without the error 10, 7 and 10). Sources: "
    "benchmarks/results/axis_calibration.json, "
    "axis_power_8_patients.json, axis_permutation.json, admixture_calls_null.json, admixture_calls_kupffer_10.json, "
    "admixture_calls_18_patients.json, admixture_calls_18_patients_make_up_draws.json, "
    "admixture_calls_18_patients_20_seeds.json, admixture_axis_flags_18_patients.json, "
    "admixture_axis_flags_10_patients.json.")

#: The enrichment methods on host-adjusted contrasts, measured by benchmarks/admixture_calls.py on admixture-only
#: nulls (admixture_calls_kupffer_10.json; admixture_calls_18_patients_20_seeds.json).
HOST_TISSUE_ENRICHMENT = (
    "Enrichment under host tissue: on simulated cohorts whose metastases differ from their primaries only by "
    "10-50% liver, after the host-tissue adjustment, the term test (camera) called no term in "
    "metastasis-vs-primary that the same cohort without admixture did not call (10 of 10 cohorts of 10 "
    "patients; at 18 patients 18 of 20, the others 5 terms of cell migration, motility and chemotaxis and 9 of "
    "angiogenesis, none of liver function). Preranked GSEA called 194 such terms per cohort on average at 10 "
    "patients (120 at 18; mostly immune, vascular and extracellular-matrix terms, the programmes of the liver's "
    "Kupffer, endothelial and stromal cells) and ORA 1.8 (1.5). Read GSEA and ORA of a host-adjusted contrast "
    "as a description of its ranking: the shared and unique classes come from the term test. Sources: "
    "benchmarks/results/admixture_calls_kupffer_10.json, admixture_calls_18_patients.json, "
    "admixture_calls_18_patients_20_seeds.json.")
