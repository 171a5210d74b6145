"""Patient-level answers: which tumours have an active axis, how many, and how a patient's axis changes from
primary to metastasis."""
