"""The two purifications (admixture.purification): subtraction, and the mixture's E-step with its fit of the
tumour's reads, hand-computed and on counts with a known tumour level; and the E-step through the rule's function.
The calls each gives on simulated cohorts: benchmarks/admixture_purification.py."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from target_rationale.admixture.adjust import HOST_LAYER, write_adjusted_cohort
from target_rationale.admixture.fractions import write_admixture
from target_rationale.admixture.purification import estep, purified_counts, subtracted, tumour_reads
from test_adjust import _simulated, reference  # noqa: F401  (the module's reference fixture)


def test_subtraction_is_the_count_minus_the_host_at_least_zero() -> None:
    counts = np.array([[10.0, 3.0], [0.0, 7.0]])
    expected = np.array([[4.4, 5.0], [1.0, 0.0]])
    np.testing.assert_array_equal(subtracted(counts, expected), [[5.6, 0.0], [0.0, 7.0]])
    np.testing.assert_array_equal(purified_counts(counts, expected), [[6, 0], [0, 7]])


def test_the_estep_by_hand() -> None:
    """Intercept-only design, two samples, two genes; sample 1 carries 5 host reads of gene 1's 10."""
    counts, expected = np.array([[10.0, 20.0], [30.0, 20.0]]), np.array([[5.0, 0.0], [0.0, 0.0]])
    # subtracted libraries 25 and 50: size factors 25 / sqrt(1250) = 1 / sqrt(2) and sqrt(2); gene 1's
    # (count - host) / size: 5 sqrt(2) and 15 sqrt(2), mean 10 sqrt(2), so tumour reads 10 and 20
    np.testing.assert_allclose(tumour_reads(counts, expected, np.ones((2, 1)))[:, 0], [10.0, 20.0])
    np.testing.assert_allclose(estep(counts, expected, np.ones((2, 1))), [[10.0 * 10.0 / 15.0, 20.0], [30.0, 20.0]])


def test_estep_recovers_the_tumour_level_with_less_noise_where_the_host_dominates() -> None:
    """Tumour 20 and host 200 expected reads per sample: both forms average about 20; the E-step's spread is the
    count's scaled by the tumour's share (~1.3 reads), subtraction keeps the count's (~15). Its null twin: no host,
    both return the counts."""
    rng = np.random.default_rng(3)
    n, half = 400, 200
    groups = np.r_[np.zeros(half), np.ones(half)]
    design = np.column_stack([np.ones(n), groups])  # gene 2's tumour differs between the halves
    host = rng.poisson(200.0, size=(n, 2))
    tumour = np.column_stack([rng.poisson(20.0, size=n), rng.poisson(np.where(groups == 0, 20.0, 200.0))])
    # a third gene without host reads stands for the rest of the transcriptome (stable size factors)
    counts = np.column_stack([tumour + host, rng.poisson(20_000.0, size=n)]).astype(float)
    expected = np.column_stack([np.full((n, 2), 200.0), np.zeros(n)])
    by_subtraction, by_estep = subtracted(counts, expected), estep(counts, expected, design)
    assert abs(by_estep[:, 0].mean() - 20.0) < 2.0 and abs(by_subtraction[:, 0].mean() - 20.0) < 2.0
    assert by_estep[:, 0].std() < by_subtraction[:, 0].std() / 5
    assert (by_estep[counts > 0] > 0).all()
    for rows, level in ((groups == 0, 20.0), (groups == 1, 200.0)):
        assert abs(by_estep[rows, 1].mean() - level) < 0.1 * level
    no_host = np.zeros_like(expected)
    np.testing.assert_array_equal(estep(counts, no_host, design), counts)
    np.testing.assert_array_equal(purified_counts(counts, no_host, "estep", design), counts.astype(np.int64))


def test_unknown_form_and_missing_design_are_errors() -> None:
    with pytest.raises(ValueError, match="choose from subtract, estep"):
        purified_counts(np.ones((2, 2)), np.zeros((2, 2)), "divide")
    with pytest.raises(ValueError, match="design matrix"):
        purified_counts(np.ones((2, 2)), np.zeros((2, 2)), "estep")


def close(got: np.ndarray, want: np.ndarray) -> None:
    """Equal but for a few counts off by one read."""
    diff = np.abs(np.asarray(got, dtype=np.int64) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4


def test_the_rule_function_purifies_by_the_estep_with_the_design(reference, tmp_path) -> None:  # noqa: F811
    """write_adjusted_cohort with ``estep``: the same expected host reads as subtraction, the counts each form
    gives from them, the form recorded in the h5ad."""
    adata, _ = _simulated("admixture_null", 2, 4)
    table = write_admixture(adata, {"liver_metastasis": "liver", "primary": "exocrine_pancreas"}, "site",
                            reference, 1, tmp_path / "admixture.tsv")
    plain = write_adjusted_cohort(adata, table, reference, str(tmp_path / "subtract.h5ad"))
    written = write_adjusted_cohort(adata, table, reference, str(tmp_path / "estep.h5ad"), "estep",
                                    "~ patient + site")
    np.testing.assert_array_equal(written.layers[HOST_LAYER], plain.layers[HOST_LAYER])
    expected = np.asarray(plain.layers[HOST_LAYER], dtype=float)
    # the layer is stored as float32: a count whose purified value sat at .5 may round the other way
    close(plain.X, purified_counts(np.asarray(adata.X, dtype=float), expected))
    sheet = adata.obs.astype(str)
    design = pd.get_dummies(sheet[["patient", "site"]], drop_first=True).astype(float)
    design.insert(0, "Intercept", 1.0)
    close(written.X, purified_counts(np.asarray(adata.X, dtype=float), expected, "estep", design.to_numpy()))
    assert not np.array_equal(written.X, plain.X)
    assert ad.read_h5ad(tmp_path / "estep.h5ad").uns["admixture"]["purification"] == "estep"
    with pytest.raises(ValueError, match="design formula"):
        write_adjusted_cohort(adata, table, reference, str(tmp_path / "none.h5ad"), "estep")
