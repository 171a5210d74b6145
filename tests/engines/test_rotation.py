"""The fry engine against R limma 3.54 (tests/data/rotation/make_reference.R) and on hand-made cases."""

import numpy as np
import pytest
from limma_reference import load_reference
from target_rationale.engines.rotation import (
    contrast_design,
    fit_f_dist,
    fry,
    lm_effects,
    residual_variances,
    trigamma_inverse,
)


@pytest.fixture(scope="module")
def reference():
    return load_reference("fry")


@pytest.mark.parametrize("case", ["two_group", "paired", "contrast_vector"])
def test_fry_matches_limma(reference, case):
    y, designs, index, expected = reference
    design = designs.filter(like=f"{case}:").dropna()
    rows = expected.loc[expected["case"] == case].set_index("set")
    contrast_text = str(rows["contrast"].iloc[0])
    if "," in contrast_text:
        result = fry(y[design.index].to_numpy(), design.to_numpy(), index,
                     contrast=[float(c) for c in contrast_text.split(",")])
    else:
        column = int(contrast_text) - 1
        order = [k for k in range(design.shape[1]) if k != column] + [column]
        result = fry(y[design.index].to_numpy(), design.to_numpy()[:, order], index)
    result = result.loc[rows.index]
    assert (result["n_genes"] == rows["n_genes"]).all()
    assert (result["direction"] == rows["direction"]).all()
    np.testing.assert_allclose(result["p_value"], rows["p_value"], rtol=1e-6)


def test_planted_sets_are_found_and_the_correlated_programme_is_not(reference):
    """The reference data plant 'up_b' (+0.8 in b) and a patient programme shared by 40 genes, not by group."""
    y, designs, index, _ = reference
    design = designs.filter(like="two_group:").dropna()
    result = fry(y[design.index].to_numpy(), design.to_numpy(), index)
    assert result.loc["up_b", "p_value"] < 1e-3 and result.loc["up_b", "direction"] == "up"
    assert result.loc["programme", "p_value"] > 0.5


def test_correlation_widens_the_null():
    """Genes that share a sample-level factor: fry's false-positive rate stays near alpha where a test that
    treats the genes as independent (mean of per-gene t's times sqrt(m)) is far above it."""
    rng = np.random.default_rng(0)
    n, genes, hits_fry, hits_naive = 8, 200, 0, 0
    design = np.column_stack([np.ones(n), np.repeat([0.0, 1.0], n // 2)])
    for _ in range(200):
        y = rng.normal(size=(genes, n))
        y[:20] += rng.normal(size=n)[None, :]              # the set's shared factor, unrelated to the group
        result = fry(y, design, {"set": range(20)})
        hits_fry += result.loc["set", "p_value"] < 0.05
        diff = y[:20, n // 2:].mean(axis=1) - y[:20, :n // 2].mean(axis=1)
        pooled = np.sqrt((y[:20, n // 2:].var(axis=1, ddof=1) + y[:20, :n // 2].var(axis=1, ddof=1)) / 2)
        t = diff / (pooled * np.sqrt(4 / n))
        hits_naive += abs(t.mean() * np.sqrt(20)) > 1.96
    assert hits_fry / 200 < 0.09
    assert hits_naive / 200 > 0.25


def test_extra_variance_carries_a_group_level_error_the_residuals_cannot_see():
    """Each set gene's group difference is off by a fixed error of known variance (shared by all samples of a
    group, as a misjudged host level is): fry alone calls it far above alpha; with ``extra_variance`` the rate
    is at most alpha (conservative: the degrees of freedom stay). Without error the option changes nothing."""
    rng = np.random.default_rng(1)
    n, genes, runs, hits_plain, hits_carried = 8, 200, 300, 0, 0
    design = np.column_stack([np.ones(n), np.repeat([0.0, 1.0], n // 2)])
    error_sd = np.r_[rng.uniform(0.5, 1.5, 10), np.zeros(genes - 10)]
    for _ in range(runs):
        y = rng.normal(size=(genes, n))
        y[:, n // 2:] += rng.normal(0.0, error_sd)[:, None]
        hits_plain += fry(y, design, {"set": range(10)}).loc["set", "p_value"] < 0.05
        carried = fry(y, design, {"set": range(10)}, extra_variance=error_sd ** 2)
        hits_carried += carried.loc["set", "p_value"] < 0.05
    assert hits_plain / runs > 0.15
    assert hits_carried / runs <= 0.06
    y = rng.normal(size=(genes, n))
    assert fry(y, design, {"s": range(10)}, extra_variance=np.zeros(genes)).equals(fry(y, design, {"s": range(10)}))


def test_extra_draws_carry_an_error_the_set_genes_share():
    """One error moving every gene of a set the same way (a host cell type's share misjudged for all the genes it
    makes) does not average out over the set: carried as independent errors of the same size it is called far
    above alpha; as draws of the shared error at most alpha. By hand: a one-gene set's draws are its variance;
    draws that cancel between two genes of equal spread add nothing."""
    rng = np.random.default_rng(2)
    n, genes, runs, size = 8, 200, 300, 10
    design = np.column_stack([np.ones(n), np.repeat([0.0, 1.0], n // 2)])
    loading = np.r_[rng.uniform(0.5, 1.5, size), np.zeros(genes - size)]
    z = np.sort(rng.normal(size=60))
    draws = loading[:, None] * z[None, :]
    hits_independent = hits_shared = 0
    for _ in range(runs):
        y = rng.normal(size=(genes, n))
        y[:, n // 2:] += (loading * rng.normal())[:, None]
        independent = fry(y, design, {"set": range(size)}, extra_variance=np.mean(draws ** 2, axis=1))
        hits_independent += independent.loc["set", "p_value"] < 0.05
        hits_shared += fry(y, design, {"set": range(size)}, extra_draws=draws).loc["set", "p_value"] < 0.05
    assert hits_independent / runs > 0.15
    assert hits_shared / runs <= 0.06
    y = rng.normal(size=(genes, n))
    one = fry(y, design, {"g": [3]}, extra_draws=draws)
    assert one.loc["g", "t"] == pytest.approx(fry(y, design, {"g": [3]},
                                                  extra_variance=np.mean(draws ** 2, axis=1)).loc["g", "t"])
    y[1] = y[0] + 2.0  # the same residuals: the same standardisation
    opposite = np.zeros((genes, 5))
    opposite[0], opposite[1] = np.arange(1.0, 6.0), -np.arange(1.0, 6.0)
    assert fry(y, design, {"s": [0, 1]}, extra_draws=opposite).loc["s", "t"] == pytest.approx(
        fry(y, design, {"s": [0, 1]}).loc["s", "t"])
    assert abs(fry(y, design, {"s": [0, 1]}, extra_draws=np.abs(opposite)).loc["s", "t"]) < abs(
        fry(y, design, {"s": [0, 1]}).loc["s", "t"])


def test_helpers_by_hand():
    # trigamma(1) = pi^2 / 6
    assert trigamma_inverse(np.pi ** 2 / 6) == pytest.approx(1.0, rel=1e-7)
    # equal variances: no spread beyond sampling, infinite prior df, scale = the mean
    scale, df2 = fit_f_dist(np.full(50, 2.0), 4)
    assert np.isinf(df2) and scale == pytest.approx(2.0)
    # the reparametrised design's last coefficient is the contrast b - a
    design = np.column_stack([np.ones(6), [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]])
    new = contrast_design(design, [0, -1, 1])
    beta = np.linalg.lstsq(new, np.array([1.0, 1, 3, 3, 4, 4]), rcond=None)[0]
    assert beta[-1] == pytest.approx(1.0)
    # one coefficient's effect over its unscaled standard error, signed like the coefficient
    effects = lm_effects(np.array([[0.0, 0, 2, 2]]), np.column_stack([np.ones(4), [0, 0, 1, 1]]))
    assert effects.shape == (1, 3) and effects[0, 0] == pytest.approx(2 / np.sqrt(1 / 2 + 1 / 2))


def test_residual_variances_are_the_mean_squared_residual_effects():
    """The variance prior reads every gene's residual variance from the design's column space (blocks of genes);
    it is the mean of the gene's squared residual effects, which fry computes only for the sets' genes: equal to
    rounding, whatever the block size, and 0 for a gene the design fits exactly."""
    rng = np.random.default_rng(3)
    design = np.column_stack([np.ones(9), rng.normal(size=9), [0, 0, 0, 1, 1, 1, 0, 0, 0], [0] * 6 + [1] * 3])
    y = rng.normal(8, 2, (50, 9))
    y[7] = design @ [5.0, 1.0, -2.0, 0.5]
    expected = (lm_effects(y, design)[:, 1:] ** 2).mean(axis=1)
    for block in (1, 7, 4096):
        np.testing.assert_allclose(residual_variances(y, design, block=block), expected, rtol=1e-12, atol=1e-24)
    assert residual_variances(y, design)[7] == pytest.approx(0.0, abs=1e-24)


def test_residual_variances_of_chosen_samples_gather_them_from_the_whole_matrix():
    """``samples`` (repeats allowed, in any order) reads the design's rows from a wider matrix a block at a
    time: the same variances as on the matrix of those samples, the samples-major layout of the axis tests
    included."""
    rng = np.random.default_rng(4)
    wide = rng.normal(8, 2, (12, 60))  # samples x genes, as the axis tests hold it
    samples = [11, 3, 3, 0, 7, 5, 9, 2, 2, 6]
    design = np.column_stack([np.ones(10), rng.normal(size=10), [0] * 5 + [1] * 5])
    expected = residual_variances(wide[samples].T.copy(), design)
    for block in (1, 7, 4096):
        np.testing.assert_allclose(residual_variances(wide.T, design, block=block, samples=samples), expected,
                                   rtol=1e-12)
